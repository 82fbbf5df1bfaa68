"""Margin: current requirement per component, what-if with hypothetical trades, the published RPF file."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.service import margin
from api.service.deps import Ctx, ParticipantPath, Reader, own
from api.service.schemas import MarginOut, WhatIfIn, WhatIfOut

router = APIRouter(tags=["margin"])


@router.get("/margin/parameter-file", response_class=FileResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "the published RPF01 file"}})
def parameter_file(_: Reader, ctx: Ctx) -> FileResponse:
    p = margin.rpf_path(ctx)
    return FileResponse(p, media_type="text/csv", filename=p.name)


@router.get("/margin/{pid}", response_model=MarginOut)
def current(pid: ParticipantPath, p: Reader, ctx: Ctx) -> MarginOut:
    own(p, pid, "participant not found")
    return margin.current(ctx, pid)


@router.post("/margin/{pid}/what-if", response_model=WhatIfOut)
def what_if(pid: ParticipantPath, body: WhatIfIn, p: Reader, ctx: Ctx) -> WhatIfOut:
    own(p, pid, "participant not found")
    return margin.what_if(ctx, pid, body.trades)
