"""Settlement runs (operator): trigger one, list and read their figures; a participant's own view of the
day's runs (only its own instructions)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.service.deps import Ctx, ObjectId, OperatorAdmin, OperatorReader, Paging, ParticipantPath, Reader, own
from api.service.errors import ApiError
from api.service.runs import participant_runs, run_settlement
from api.service.schemas import PageOf, ParticipantRunOut, RunIn, RunOut
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


@router.get("/participants/{pid}/settlement-runs", response_model=PageOf[ParticipantRunOut])
def own_runs(pid: ParticipantPath, p: Reader, ctx: Ctx, pg: Paging,
             date: Annotated[dt.date | None, Query(description="UTC date the runs started (default today)")] = None,
             ) -> PageOf[ParticipantRunOut]:
    """The day's settlement runs with counts of the participant's own instructions in each (never another's)."""
    own(p, pid, "participant not found")
    day = date or dt.datetime.now(dt.UTC).date()
    rows = participant_runs(ctx, pid, day, pg.offset, pg.limit + 1)
    return pg.of(rows, lambda r: r)
