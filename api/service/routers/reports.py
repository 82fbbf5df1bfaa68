"""Day-end CSV reports: files under <reports_dir>/<participant id>/ (the operator's under <reports_dir>/market/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Path as PathParam
from fastapi.responses import FileResponse

from api.service.deps import Ctx, Paging, Principal, Reader
from api.service.errors import ApiError
from api.service.schemas import PageOf, ReportOut

router = APIRouter(tags=["reports"])


def _dir(ctx: Ctx, p: Principal) -> Path:
    return Path(ctx.settings.reports_dir) / ("market" if p.participant_id is None else p.participant_id)


@router.get("/reports", response_model=PageOf[ReportOut])
def list_reports(p: Reader, ctx: Ctx, pg: Paging) -> PageOf[ReportOut]:
    d = _dir(ctx, p)
    files = sorted(f for f in d.glob("*.csv") if f.is_file()) if d.is_dir() else []
    chunk = files[pg.offset:pg.offset + pg.limit]
    return PageOf(items=[ReportOut(name=f.name, bytes=f.stat().st_size) for f in chunk],
                  next_offset=pg.offset + pg.limit if len(files) > pg.offset + pg.limit else None)


@router.get("/reports/{name}", response_class=FileResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "the report"}})
def download(name: Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_.-]{1,120}\.csv$")], p: Reader,
             ctx: Ctx) -> FileResponse:
    f = _dir(ctx, p) / name
    if ".." in name or not f.is_file():
        raise ApiError(404, "report not found")
    return FileResponse(f, media_type="text/csv", filename=name)
