"""Margin: current requirement per component (and cover against collateral), what-if (current, hypothetical-only
or uploaded positions, with the scenario P&L distributions), the operator's market summary with cover-2, and the
published RPF file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, JSONResponse

from api.service import margin
from api.service.deps import Ctx, OperatorReader, ParticipantPath, Reader, own
from api.service.schemas import MarginOut, MarginSummaryOut, RowErrorBody, WhatIfIn, WhatIfOut

router = APIRouter(tags=["margin"])


@router.get("/margin/parameter-file", response_class=FileResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "the published RPF01 file"}})
def parameter_file(_: Reader, ctx: Ctx) -> FileResponse:
    p = margin.rpf_path(ctx)
    return FileResponse(p, media_type="text/csv", filename=p.name)


# Declared before /margin/{pid} so "summary" is never read as a participant id.
@router.get("/margin/summary", response_model=MarginSummaryOut)
def market_summary(_: OperatorReader, ctx: Ctx,
                   limit: Annotated[int, Query(ge=1, le=100, description="rows per table")] = 10) -> MarginSummaryOut:
    """Operator only: market totals, the largest requirements and margin calls, and the cover-2 default fund."""
    return margin.summary(ctx, limit)


@router.get("/margin/{pid}", response_model=MarginOut)
def current(pid: ParticipantPath, p: Reader, ctx: Ctx) -> MarginOut:
    own(p, pid, "participant not found")
    return margin.current(ctx, pid)


@router.post("/margin/{pid}/what-if", response_model=WhatIfOut,
             responses={422: {"model": RowErrorBody,
                              "description": "invalid request; a bad positions file lists every bad row in "
                                             "`error.rows` ({row, field, message}) and nothing is applied"}})
def what_if(pid: ParticipantPath, body: WhatIfIn, p: Reader, ctx: Ctx) -> WhatIfOut | JSONResponse:
    own(p, pid, "participant not found")
    try:
        return margin.what_if(ctx, pid, body)
    except margin.UploadRejected as exc:
        # ApiError has no room for a list; the body keeps the standard shape plus `rows`.
        return JSONResponse(exc.body(), status_code=422)
