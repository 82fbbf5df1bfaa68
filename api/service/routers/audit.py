"""The audit log (operator): read it page by page and verify its hash chain."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from api.service import audit
from api.service.db import AuditRow
from api.service.deps import Ctx, OperatorReader, Paging
from api.service.schemas import PageOf

router = APIRouter(tags=["audit"])


class AuditOut(BaseModel):
    seq: int
    ts: str
    actor: str
    participant_id: str | None
    action: str
    target: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class VerdictOut(BaseModel):
    ok: bool
    entries: int
    problem: str | None
    seq: int | None


@router.get("/audit", response_model=PageOf[AuditOut])
def entries(_: OperatorReader, ctx: Ctx, pg: Paging) -> PageOf[AuditOut]:
    with ctx.session() as s:
        rows = list(s.scalars(select(AuditRow).order_by(AuditRow.seq).offset(pg.offset).limit(pg.limit + 1)))
        items = [AuditOut(seq=r.seq, ts=r.ts, actor=r.actor, participant_id=r.participant_id, action=r.action,
                          target=r.target, detail=r.detail, prev_hash=r.prev_hash, hash=r.hash)
                 for r in rows[:pg.limit]]
    return PageOf(items=items, next_offset=pg.offset + pg.limit if len(rows) > pg.limit else None)


@router.get("/audit/verify", response_model=VerdictOut)
def verify(_: OperatorReader, ctx: Ctx) -> VerdictOut:
    with ctx.session() as s:
        v = audit.verify(s)
    return VerdictOut(ok=v.ok, entries=v.entries, problem=v.problem, seq=v.seq)
