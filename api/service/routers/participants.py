"""Participants (a directory every caller can read) and securities; registration and status changes are the
operator's, status changes behind maker-checker (one operator-admin requests, another approves)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api.service import audit
from api.service.db import ApprovalRow
from api.service.deps import Ctx, ObjectId, OperatorAdmin, OperatorReader, Paging, ParticipantPath, Reader
from api.service.errors import ApiError
from api.service.schemas import (
    ApprovalOut, PageOf, ParticipantIn, ParticipantOut, SecurityOut, StatusChangeIn,
)
from ledger.errors import LedgerError
from ledger.onchain import Kind, Status
from ledger.store import ParticipantRow, SecurityRow

router = APIRouter(tags=["participants"])

_KINDS = {"broker": Kind.BROKER, "custodian": Kind.CUSTODIAN, "ccp": Kind.CCP,
          "settlement_bank": Kind.SETTLEMENT_BANK, "csd_operator": Kind.CSD_OPERATOR}
_STATUS = {"active": Status.ACTIVE, "suspended": Status.SUSPENDED, "defaulted": Status.DEFAULTED}


def _p_out(r: ParticipantRow) -> ParticipantOut:
    return ParticipantOut(id=r.id, address=r.address, kind=r.kind, name=r.name, status=r.status)


def _a_out(a: ApprovalRow) -> ApprovalOut:
    return ApprovalOut(id=a.id, kind=a.kind, target=a.target, payload=a.payload, state=a.state,
                       requested_by=a.requested_by, decided_by=a.decided_by)


@router.get("/participants", response_model=PageOf[ParticipantOut])
def list_participants(_: Reader, ctx: Ctx, pg: Paging) -> PageOf[ParticipantOut]:
    with ctx.session() as s:
        rows = list(s.scalars(select(ParticipantRow).order_by(ParticipantRow.id).offset(pg.offset).limit(pg.limit + 1)))
    return pg.of(rows, _p_out)


@router.get("/participants/{pid}", response_model=ParticipantOut)
def get_participant(pid: ParticipantPath, _: Reader, ctx: Ctx) -> ParticipantOut:
    with ctx.session() as s:
        row = s.get(ParticipantRow, pid)
        if row is None:
            raise ApiError(404, "participant not found")
        return _p_out(row)


@router.post("/participants", response_model=ParticipantOut, status_code=201)
def register_participant(body: ParticipantIn, p: OperatorAdmin, ctx: Ctx) -> ParticipantOut:
    with ctx.session() as s:
        if s.get(ParticipantRow, body.id) is not None:
            raise ApiError(409, f"participant {body.id} exists", field="id")
        if s.scalar(select(ParticipantRow).where(ParticipantRow.address == body.address)) is not None:
            raise ApiError(409, "address already registered", field="address")
        row = ParticipantRow(id=body.id, address=body.address, kind=body.kind, name=body.name, status="active")
        s.add(row)
        s.flush()
        audit.append(s, p.actor, "participant.registered", f"participant:{body.id}",
                     {"address": body.address, "kind": body.kind}, body.id)
        with ctx.chain_lock:  # last: if the chain refuses, the transaction rolls back
            try:
                ctx.onchain.register_participant(body.id, body.address, _KINDS[body.kind])
            except LedgerError as exc:
                raise ApiError(409, f"the registry refused: {exc}") from None
        return _p_out(row)


@router.post("/participants/{pid}/status-changes", response_model=ApprovalOut, status_code=202)
def request_status(pid: ParticipantPath, body: StatusChangeIn, p: OperatorAdmin, ctx: Ctx) -> ApprovalOut:
    """Request suspend / reinstate / default; it applies when a different operator-admin approves it."""
    with ctx.session() as s:
        row = s.get(ParticipantRow, pid)
        if row is None:
            raise ApiError(404, "participant not found")
        if row.status == body.status:
            raise ApiError(409, f"participant {pid} is already {body.status}", field="status")
        a = ApprovalRow(kind="participant.status", target=pid, payload=body.model_dump(), state="pending",
                        requested_by=p.actor)
        s.add(a)
        s.flush()
        audit.append(s, p.actor, "approval.requested", f"approval:{a.id}", {"kind": a.kind, **a.payload}, pid)
        return _a_out(a)


@router.get("/approvals", response_model=PageOf[ApprovalOut])
def list_approvals(_: OperatorReader, ctx: Ctx, pg: Paging) -> PageOf[ApprovalOut]:
    with ctx.session() as s:
        rows = list(s.scalars(select(ApprovalRow).order_by(ApprovalRow.id).offset(pg.offset).limit(pg.limit + 1)))
    return pg.of(rows, _a_out)


def _decide(aid: ObjectId, p: OperatorAdmin, ctx: Ctx, approve: bool) -> ApprovalOut:
    with ctx.session() as s:
        a = s.get(ApprovalRow, aid, with_for_update=True)
        if a is None:
            raise ApiError(404, "approval not found")
        if a.state != "pending":
            raise ApiError(409, f"approval is already {a.state}")
        if a.requested_by == p.actor:
            raise ApiError(403, "maker-checker: the requester cannot decide", code="maker_checker")
        a.state, a.decided_by = ("approved" if approve else "rejected"), p.actor
        audit.append(s, p.actor, f"approval.{a.state}", f"approval:{a.id}", {"kind": a.kind, **a.payload}, a.target)
        if approve:
            row = s.get(ParticipantRow, a.target)
            if row is None:
                raise ApiError(404, "participant not found")
            status = str(a.payload["status"])
            row.status = status
            with ctx.chain_lock:
                try:
                    ctx.onchain.set_status(row.address, _STATUS[status])
                except LedgerError as exc:
                    raise ApiError(409, f"the registry refused: {exc}") from None
            ctx.hub.publish([a.target], "participant.status", {"participant_id": a.target, "status": status},
                            session=s)
        return _a_out(a)


@router.post("/approvals/{aid}/approve", response_model=ApprovalOut)
def approve(aid: ObjectId, p: OperatorAdmin, ctx: Ctx) -> ApprovalOut:
    return _decide(aid, p, ctx, True)


@router.post("/approvals/{aid}/reject", response_model=ApprovalOut)
def reject(aid: ObjectId, p: OperatorAdmin, ctx: Ctx) -> ApprovalOut:
    return _decide(aid, p, ctx, False)


def _s_out(r: SecurityRow) -> SecurityOut:
    return SecurityOut(code=r.code, token_id=r.token_id, isin=r.isin, name=r.name, board_lot=r.board_lot,
                       currency=r.currency)


@router.get("/securities", response_model=PageOf[SecurityOut], tags=["securities"])
def list_securities(_: Reader, ctx: Ctx, pg: Paging) -> PageOf[SecurityOut]:
    with ctx.session() as s:
        rows = list(s.scalars(select(SecurityRow).order_by(SecurityRow.code).offset(pg.offset).limit(pg.limit + 1)))
    return pg.of(rows, _s_out)


@router.get("/securities/{code}", response_model=SecurityOut, tags=["securities"])
def get_security(code: str, _: Reader, ctx: Ctx) -> SecurityOut:
    with ctx.session() as s:
        row = s.get(SecurityRow, code)
        if row is None:
            raise ApiError(404, "security not found")
        return _s_out(row)
