"""Margin through the risk engine: a participant's current requirement per component from its open
instructions and the published parameter file, and what-if with hypothetical trades."""

from __future__ import annotations

import threading
from pathlib import Path

from api.service.context import ServiceContext
from api.service.errors import ApiError
from api.service.schemas import MarginOut, Trade, WhatIfOut
from risk.cp_params import CPParams, load_cp_params
from risk.errors import RiskInputError
from risk.margin import MarginResult, compute_margin
from risk.marks import instrument_id, marginable_positions, marks_from_rpf
from risk.positions import Portfolio, Position
from risk.rpf import RiskParameterFile, read_rpf
from risk.whatif import WhatIfSimulator

_CACHE: dict[tuple[str, float], RiskParameterFile] = {}
_LOCK = threading.Lock()


def rpf_path(ctx: ServiceContext) -> Path:
    p = ctx.settings.rpf_path
    if p is None or not Path(p).is_file():
        raise ApiError(404, "no risk parameter file is published", code="not_configured")
    return Path(p)


def load_rpf(ctx: ServiceContext) -> RiskParameterFile:
    p = rpf_path(ctx)
    key = (str(p), p.stat().st_mtime)
    with _LOCK:
        if key not in _CACHE:
            _CACHE.clear()
            _CACHE[key] = read_rpf(p)
        return _CACHE[key]


def cp_params(ctx: ServiceContext, pid: str) -> CPParams:
    d = ctx.settings.cp_params_dir
    f = Path(d) / f"{pid}.json" if d is not None else None
    if f is None or not f.is_file():
        raise ApiError(404, f"no CP parameters for {pid}", code="not_configured")
    return load_cp_params(f)


def _portfolio(ctx: ServiceContext, rpf: RiskParameterFile, pid: str) -> Portfolio:
    marks = marks_from_rpf(rpf)
    rows = [r for r in ctx.store.instructions() if pid in (r.deliverer, r.receiver)]
    return marginable_positions(rows, marks, participants=[pid])[pid]


def _out(pid: str, r: MarginResult) -> MarginOut:
    return MarginOut(participant_id=pid, total_requirement=float(r.total_requirement),
                     components={k: float(v) for k, v in r.components().items()})


def current(ctx: ServiceContext, pid: str) -> MarginOut:
    try:
        rpf = load_rpf(ctx)
        return _out(pid, compute_margin(rpf, _portfolio(ctx, rpf, pid), cp_params(ctx, pid)))
    except RiskInputError as exc:
        raise ApiError(409, f"margin cannot be computed: {exc}") from None


def what_if(ctx: ServiceContext, pid: str, trades: list[Trade]) -> WhatIfOut:
    try:
        rpf = load_rpf(ctx)
        marks = marks_from_rpf(rpf)
        hypo: list[Position] = []
        for i, t in enumerate(trades):
            inst = instrument_id(t.security_code)
            try:
                mark = marks.price(inst)
            except RiskInputError:
                raise ApiError(422, f"no mark for security {t.security_code}",
                               field=f"trades.{i}.security_code") from None
            hypo.append(Position(inst, float(t.quantity), t.quantity * t.price, t.quantity * mark))
        res = WhatIfSimulator(rpf, _portfolio(ctx, rpf, pid), cp_params(ctx, pid)).evaluate(hypo)
    except RiskInputError as exc:
        raise ApiError(422, f"what-if cannot be computed: {exc}") from None
    return WhatIfOut(participant_id=pid, base=_out(pid, res.base), new=_out(pid, res.new),
                     change={k: float(v) for k, v in res.change.items()})
