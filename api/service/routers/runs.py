"""Settlement runs (operator): trigger one, list and read their figures."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api.service.deps import Ctx, ObjectId, OperatorAdmin, OperatorReader, Paging
from api.service.errors import ApiError
from api.service.runs import run_settlement
from api.service.schemas import PageOf, RunIn, RunOut
from ledger.errors import LedgerError
from ledger.store import RunRow

router = APIRouter(tags=["settlement runs"])


def _out(r: RunRow) -> RunOut:
    return RunOut(id=r.id, name=r.name, final=r.final, started_at=r.started_at, finished_at=r.finished_at,
                  figures=r.figures or {})


@router.post("/settlement-runs", response_model=RunOut, status_code=201)
def trigger(body: RunIn, p: OperatorAdmin, ctx: Ctx) -> RunOut:
    try:
        figures = run_settlement(ctx, p.actor, body.name, body.final)
    except LedgerError as exc:
        raise ApiError(409, f"settlement run failed: {exc}") from None
    with ctx.session() as s:
        row = s.get(RunRow, figures.run_id)
        assert row is not None
        return _out(row)


@router.get("/settlement-runs", response_model=PageOf[RunOut])
def list_runs(_: OperatorReader, ctx: Ctx, pg: Paging) -> PageOf[RunOut]:
    with ctx.session() as s:
        rows = list(s.scalars(select(RunRow).order_by(RunRow.id).offset(pg.offset).limit(pg.limit + 1)))
    return pg.of(rows, _out)


@router.get("/settlement-runs/{run_id}", response_model=RunOut)
def get_run(run_id: ObjectId, _: OperatorReader, ctx: Ctx) -> RunOut:
    with ctx.session() as s:
        row = s.get(RunRow, run_id)
        if row is None:
            raise ApiError(404, "settlement run not found")
        return _out(row)
