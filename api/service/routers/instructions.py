"""Settlement instructions: submit signed, authorise (maker-checker), list, get, cancel, hold, release, evidence."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import Select, bindparam, or_, select
from starlette.concurrency import run_in_threadpool

from api import eip712
from api.service import instructions as svc
from api.service.context import ServiceContext
from api.service.db import SignatureRow, SignedInstructionRow
from api.service.deps import Authoriser, Ctx, Inputter, ObjectId, Paging, Principal, Reader
from api.service.evidence import chain_verified
from api.service.schemas import Evidence, InstructionOut, InstructionSubmit, PageOf, SigningDomain
from ledger.store import InstructionRow

router = APIRouter(tags=["instructions"])

_SI = SignedInstructionRow.__table__.c
_LI = InstructionRow.__table__.c
_LIST = select(*svc.LIST_COLUMNS).outerjoin(InstructionRow.__table__, _LI.id == _SI.instruction_id).order_by(_SI.id)


def _list_query(by_participant: bool, by_status: bool) -> Select[Any]:
    q = _LIST
    if by_participant:
        q = q.where(_SI.participant_id == bindparam("pid"))
    if by_status:
        q = q.where(_SI.status == bindparam("status"))
    return q.offset(bindparam("offset")).limit(bindparam("limit"))


# Built once, values bound at execution: executing the same statement object skips making its cache key and
# matching its columns to the cached compilation's (which, per request, cost more than the ORM query).
_LISTS = {(by_p, by_s): _list_query(by_p, by_s) for by_p in (False, True) for by_s in (False, True)}

# The hot paths are `async def` and hand their database work to the thread pool once: a plain `def` endpoint
# costs two hand-offs (the endpoint, then validating its answer). The submission awaits its group commit
# (api/service/group_commit.py) without holding a thread.


@router.get("/signing-domain", response_model=SigningDomain)
async def signing_domain(_: Reader, ctx: Ctx) -> SigningDomain:
    """The EIP-712 domain and types a participant node signs instructions with."""
    return SigningDomain(domain=eip712.domain(ctx.chain_id, ctx.engine_address),
                         types={"EIP712Domain": eip712.DOMAIN_TYPE, eip712.PRIMARY_TYPE: eip712.INSTRUCTION_TYPE},
                         primary_type=eip712.PRIMARY_TYPE)


@router.post("/instructions", response_model=InstructionOut, status_code=201,
             responses={409: {"description": "nonce or reference reused"}, 422: {"description": "bad signature"}})
async def submit(body: InstructionSubmit, p: Inputter, ctx: Ctx) -> InstructionOut:
    return await svc.submit(ctx, p, body)


@router.get("/instructions", response_model=PageOf[InstructionOut])
async def list_instructions(
    p: Reader, ctx: Ctx, pg: Paging,
    status: Annotated[Literal["unauthorised", "unmatched", "matched", "cancelled"] | None,
                      Query(description="service status filter")] = None,
    participant_id: Annotated[str | None, Query(pattern=r"^[A-Z][0-9]{5}$",
                                                description="operator only: one participant")] = None,
) -> Response:
    pid = participant_id if p.is_operator else p.participant_id
    params: dict[str, object] = {"offset": pg.offset, "limit": pg.limit + 1}
    if pid is not None:
        params["pid"] = pid
    if status is not None:
        params["status"] = status
    rows = await run_in_threadpool(_rows, ctx, _LISTS[pid is not None, status is not None], params)
    return pg.json(rows, svc.view_fields)


def _rows(ctx: ServiceContext, statement: Select[Any], params: dict[str, object]) -> list[Any]:
    with ctx.engine.connect() as conn:
        return list(conn.execute(statement, params))


@router.get("/instructions/{sid}", response_model=InstructionOut)
async def get_instruction(sid: ObjectId, p: Reader, ctx: Ctx) -> InstructionOut:
    return await run_in_threadpool(_one, ctx, p, sid)


def _one(ctx: ServiceContext, p: Principal, sid: int) -> InstructionOut:
    with ctx.session() as s:
        row = svc.owned(s, p, sid)
        return svc.view(row, s.get(InstructionRow, row.instruction_id) if row.instruction_id else None)


@router.get("/instructions/{sid}/evidence", response_model=list[Evidence])
def evidence(sid: ObjectId, p: Reader, ctx: Ctx) -> list[Evidence]:
    """The signatures behind an instruction: this side's, and once matched the counterparty's too."""
    with ctx.session() as s:
        row = svc.owned(s, p, sid)
        ids = [row.id]
        if row.instruction_id is not None:
            ids = list(s.scalars(select(SignedInstructionRow.id).where(
                or_(SignedInstructionRow.id == row.id, SignedInstructionRow.instruction_id == row.instruction_id))))
        sigs = list(s.scalars(select(SignatureRow).where(SignatureRow.signed_instruction_id.in_(ids))
                              .order_by(SignatureRow.id)))
        verified = chain_verified(ctx, sigs)
        return [Evidence(signed_instruction_id=g.signed_instruction_id, participant_id=g.participant_id,
                         signer=g.signer, signature=g.signature, digest=g.digest, typed_data=g.typed_data,
                         chain_verified=ok)
                for g, ok in zip(sigs, verified, strict=True)]


@router.post("/instructions/{sid}/authorise", response_model=InstructionOut)
def authorise(sid: ObjectId, p: Authoriser, ctx: Ctx) -> InstructionOut:
    return svc.authorise(ctx, p, sid)


@router.post("/instructions/{sid}/cancel", response_model=InstructionOut)
def cancel(sid: ObjectId, p: Inputter, ctx: Ctx) -> InstructionOut:
    return svc.cancel(ctx, p, sid)


@router.post("/instructions/{sid}/hold", response_model=InstructionOut)
def hold(sid: ObjectId, p: Inputter, ctx: Ctx) -> InstructionOut:
    return svc.hold_or_release(ctx, p, sid, hold=True)


@router.post("/instructions/{sid}/release", response_model=InstructionOut)
def release(sid: ObjectId, p: Inputter, ctx: Ctx) -> InstructionOut:
    return svc.hold_or_release(ctx, p, sid, hold=False)


