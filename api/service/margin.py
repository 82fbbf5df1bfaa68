"""Margin through the risk engine: a participant's current requirement per component from its open
instructions and the published parameter file (with cover against collateral held, when configured), what-if
from current, hypothetical-only or uploaded positions with the scenario P&L distributions, and the operator's
market summary (largest requirements and calls, cover-2 default fund)."""

from __future__ import annotations

import csv
import io
import math
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from api.service.context import ServiceContext
from api.service.errors import ApiError
from api.service.schemas import (
    Cover2Out,
    MarginCover,
    MarginOut,
    MarginSummaryOut,
    MarginSummaryRow,
    PnLDistribution,
    RowError,
    ScenarioDistribution,
    Trade,
    UploadedPosition,
    WhatIfIn,
    WhatIfOut,
)
from risk.cp_params import CPParams, load_cp_params
from risk.cycle_files import read_collateral
from risk.daily_cycle import CPCycleResult, run_cycle
from risk.errors import RiskInputError
from risk.expected_shortfall import worst_k_mean
from risk.margin import MarginResult, compute_margin, compute_margins, tail_counts
from risk.marks import Marks, instrument_id, marginable_positions, marks_from_rpf
from risk.positions import Portfolio, Position
from risk.rpf import RiskParameterFile, read_rpf
from risk.stress import StressScenarios, stress_test
from risk.whatif import WhatIfSimulator

_CACHE: dict[tuple[str, float], RiskParameterFile] = {}
_COLL_CACHE: dict[tuple[str, float], dict[str, float]] = {}
_LOCK = threading.Lock()

COLLATERAL_FILE = "collateral.csv"
COLLATERAL_SOURCE = f"<cp_params_dir>/{COLLATERAL_FILE} (CP,Collateral in HKD)"
MAX_UPLOAD_ROWS = 10_000
MAX_ROW_ERRORS = 200  # a file that is wrong throughout is answered with the first ones (and the count)
_CODE = re.compile(r"^[0-9]{1,8}$")
_INT = re.compile(r"^[+-]?[0-9]+$")
UPLOAD_COLUMNS = ("security_code", "quantity")
UPLOAD_OPTIONAL = ("price",)


class UploadRejected(Exception):
    """A positions file with bad rows: every bad row is listed and nothing is applied."""

    def __init__(self, rows: list[RowError], total: int) -> None:
        super().__init__(f"{total} problem(s) in the positions file")
        self.rows = rows
        self.total = total

    def body(self) -> dict[str, object]:
        more = f" (the first {len(self.rows)} are listed)" if self.total > len(self.rows) else ""
        return {"error": {"code": "invalid_rows", "field": "positions_csv",
                          "message": f"the positions file has {self.total} problem(s){more}; nothing was applied",
                          "rows": [r.model_dump() for r in self.rows]}}


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


def _params_file(ctx: ServiceContext, pid: str) -> Path | None:
    d = ctx.settings.cp_params_dir
    f = Path(d) / f"{pid}.json" if d is not None else None
    return f if f is not None and f.is_file() else None


def cp_params(ctx: ServiceContext, pid: str) -> CPParams:
    f = _params_file(ctx, pid)
    if f is None:
        raise ApiError(404, f"no CP parameters for {pid}", code="not_configured")
    return load_cp_params(f)


def collateral(ctx: ServiceContext) -> dict[str, float]:
    """Collateral held per participant: the daily cycle's `CP,Collateral` file, kept beside the CP parameters.

    The chain holds no pledged collateral (cash balances are settlement money, not margin cover), so the
    figure is the one the risk engine's daily cycle is given; no file = no cover figures."""
    d = ctx.settings.cp_params_dir
    if d is None or not (Path(d) / COLLATERAL_FILE).is_file():
        return {}
    p = Path(d) / COLLATERAL_FILE
    key = (str(p), p.stat().st_mtime)
    with _LOCK:
        if key not in _COLL_CACHE:
            try:
                amounts = read_collateral(p)
            except RiskInputError as exc:
                raise ApiError(409, f"the collateral file is invalid: {exc}", code="not_configured") from None
            _COLL_CACHE.clear()
            _COLL_CACHE[key] = amounts
        return dict(_COLL_CACHE[key])


def _portfolio(ctx: ServiceContext, rpf: RiskParameterFile, pid: str) -> Portfolio:
    marks = marks_from_rpf(rpf)
    rows = [r for r in ctx.store.instructions() if pid in (r.deliverer, r.receiver)]
    return marginable_positions(rows, marks, participants=[pid])[pid]


def _statuses(ctx: ServiceContext) -> dict[str, str]:
    return {p.id: p.status for p in ctx.store.participants()}


def _cover(rec: CPCycleResult) -> MarginCover:
    return MarginCover(collateral=rec.collateral, shortfall=rec.shortfall, margin_call=rec.margin_call,
                       excess=rec.excess, coverage_ratio=rec.coverage_ratio, eligible=rec.eligible,
                       reason=rec.reason, source=COLLATERAL_SOURCE)


def _out(pid: str, r: MarginResult, cover: MarginCover | None = None) -> MarginOut:
    return MarginOut(participant_id=pid, total_requirement=float(r.total_requirement),
                     components={k: float(v) for k, v in r.components().items()}, cover=cover)


def current(ctx: ServiceContext, pid: str) -> MarginOut:
    try:
        rpf = load_rpf(ctx)
        params = cp_params(ctx, pid)
        pf = _portfolio(ctx, rpf, pid)
        held = collateral(ctx).get(pid)
        if held is None:
            return _out(pid, compute_margin(rpf, pf, params))
        # The daily cycle's own rules for shortfall, call (rounded up to the file's Rounding) and eligibility.
        rec = run_cycle(rpf, {pid: pf}, {pid: params}, {pid: held},
                        status={pid: _statuses(ctx).get(pid, "active")}).records[pid]
        return _out(pid, rec.margin, _cover(rec))
    except RiskInputError as exc:
        raise ApiError(409, f"margin cannot be computed: {exc}") from None


# ---- what-if -------------------------------------------------------------------------------------------

def _trade_positions(marks: Marks, trades: Sequence[Trade]) -> list[Position]:
    out: list[Position] = []
    for i, t in enumerate(trades):
        inst = instrument_id(t.security_code)
        try:
            mark = marks.price(inst)
        except RiskInputError:
            raise ApiError(422, f"no mark for security {t.security_code}",
                           field=f"trades.{i}.security_code") from None
        out.append(Position(inst, float(t.quantity), t.quantity * t.price, t.quantity * mark))
    return out


def parse_positions_csv(text: str, marks: Marks) -> list[UploadedPosition]:
    """Positions from CSV (header required; security_code, quantity, optional price). Raises UploadRejected
    listing every bad row (row = line of the file, header = 1)."""
    errors: list[RowError] = []

    def bad(row: int, fld: str | None, message: str) -> None:
        errors.append(RowError(row=row, field=fld, message=message))

    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [c.strip().lower() for c in next(reader, [])]
    except csv.Error as exc:
        raise UploadRejected([RowError(row=1, field=None, message=f"not CSV: {exc}")], 1) from None
    expected = ", ".join((*UPLOAD_COLUMNS, *(f"{c} (optional)" for c in UPLOAD_OPTIONAL)))
    if not any(header):
        raise UploadRejected([RowError(row=1, field=None, message=f"the file is empty; expected a header: {expected}")], 1)
    for c in header:
        if c not in (*UPLOAD_COLUMNS, *UPLOAD_OPTIONAL):
            bad(1, c or None, f"unknown column {c!r}; the columns are {expected}")
        elif header.count(c) > 1:
            bad(1, c, f"column {c} appears twice")
    for c in UPLOAD_COLUMNS:
        if c not in header:
            bad(1, c, f"missing column {c}; the columns are {expected}")
    if errors:
        raise UploadRejected(errors, len(errors))
    col = {c: header.index(c) for c in (*UPLOAD_COLUMNS, *UPLOAD_OPTIONAL) if c in header}
    out: list[UploadedPosition] = []
    first_row: dict[str, int] = {}
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(out) + len(errors) >= MAX_UPLOAD_ROWS:
                bad(line, None, f"more than {MAX_UPLOAD_ROWS} rows; split the file")
                break
            if len(cells) != len(header):
                bad(line, None, f"the row has {len(cells)} values, the header {len(header)}")
                continue
            v = {c: cells[i].strip() for c, i in col.items()}
            ok = True
            code = v["security_code"]
            mark = math.nan
            if not _CODE.fullmatch(code):
                bad(line, "security_code", f"{code!r} is not a stock code (1 to 8 digits)")
                ok = False
            else:
                try:
                    mark = marks.price(instrument_id(code))
                except RiskInputError:
                    bad(line, "security_code", f"security {code} has no price in the risk parameter file")
                    ok = False
                else:
                    inst = instrument_id(code)
                    if inst in first_row:
                        bad(line, "security_code", f"security {code} is already on row {first_row[inst]}; "
                                                   "give one net position per security")
                        ok = False
                    else:
                        first_row[inst] = line
            qty = 0
            if not _INT.fullmatch(v["quantity"]):
                bad(line, "quantity", f"{v['quantity']!r} is not a whole number of shares")
                ok = False
            else:
                qty = int(v["quantity"])
                if qty == 0 or abs(qty) > 10**12:
                    bad(line, "quantity", "must be a non-zero whole number up to 10^12 in size (+ long, - short)")
                    ok = False
            price = mark
            if v.get("price"):
                try:
                    price = float(v["price"])
                except ValueError:
                    price = math.nan
                if not (math.isfinite(price) and 0 < price <= 1e9):
                    bad(line, "price", f"{v['price']!r} is not a price (a number above 0, HKD per share)")
                    ok = False
            if ok:
                out.append(UploadedPosition(row=line, security_code=code, quantity=qty, price=price, mark=mark))
    except csv.Error as exc:
        bad(reader.line_num, None, f"not CSV: {exc}")
    if not errors and not out:
        bad(1, None, "the file has a header but no positions")
    if errors:
        raise UploadRejected(errors[:MAX_ROW_ERRORS], len(errors))
    return out


def _distribution(rpf: RiskParameterFile, pnl: NDArray[np.float64]) -> list[ScenarioDistribution]:
    hdr = rpf.header
    h = hdr.hvar_scen_count
    kh, ks = tail_counts(rpf)  # the tail sizes the margin itself uses
    out = []
    for name, v, cl, k, w in (("historical", pnl[:h], hdr.hvar_cl, kh, hdr.hvar_weight),
                              ("stressed", pnl[h:], hdr.svar_cl, ks, hdr.svar_weight)):
        srt = np.sort(v)
        es = float(worst_k_mean(v, k)) if v.size else 0.0
        out.append(ScenarioDistribution(
            scenario_set=name, confidence=float(cl), weight=float(w), scenarios=int(v.size), tail_count=k,  # type: ignore[arg-type]
            # + 0.0: no negative zero (-0.0) in the JSON of an empty portfolio
            pnl_sorted=[float(x) for x in srt], var=(-float(srt[k - 1]) if v.size else 0.0) + 0.0,
            expected_shortfall=-es + 0.0))
    return out


def what_if(ctx: ServiceContext, pid: str, body: WhatIfIn) -> WhatIfOut:
    if body.mode != "uploaded" and body.positions_csv is not None:
        raise ApiError(422, "positions_csv is only read in mode uploaded", field="positions_csv")
    if body.mode == "uploaded" and not (body.positions_csv or "").strip():
        raise ApiError(422, "mode uploaded needs the positions file in positions_csv", field="positions_csv")
    try:
        rpf = load_rpf(ctx)
        marks = marks_from_rpf(rpf)
        params = cp_params(ctx, pid)
        hypo = _trade_positions(marks, body.trades)
        uploaded: list[UploadedPosition] = []
        if body.mode == "current":
            start = _portfolio(ctx, rpf, pid)
        elif body.mode == "hypothetical":
            start = Portfolio.empty()
        else:
            uploaded = parse_positions_csv(body.positions_csv or "", marks)
            start = Portfolio.from_positions(
                Position(instrument_id(u.security_code), float(u.quantity), u.quantity * u.price, u.quantity * u.mark)
                for u in uploaded)
        sim = WhatIfSimulator(rpf, start, params, cp=pid)
        res = sim.evaluate(hypo)
        dist = (PnLDistribution(base=_distribution(rpf, sim.scenario_pnl()),
                                new=_distribution(rpf, sim.scenario_pnl(hypo))) if body.distribution else None)
    except RiskInputError as exc:
        raise ApiError(422, f"what-if cannot be computed: {exc}") from None
    return WhatIfOut(participant_id=pid, base=_out(pid, res.base), new=_out(pid, res.new),
                     change={k: float(v) for k, v in res.change.items()}, mode=body.mode, positions=uploaded,
                     distribution=dist)


# ---- operator summary ----------------------------------------------------------------------------------

def rpf_scenarios(rpf: RiskParameterFile) -> StressScenarios:
    """The parameter file's own historical and stressed scenarios as stress scenarios (no separate stress
    file is published to the service)."""
    h, s = rpf.header.hvar_scen_count, rpf.header.svar_scen_count
    names = tuple(f"historical {i + 1}" for i in range(h)) + tuple(f"stressed {i + 1}" for i in range(s))
    return StressScenarios(tuple(rpf.var_instruments), names, rpf.scenario_returns)


def _with_returns(pf: Portfolio, have: Mapping[str, int]) -> Portfolio:
    # Flat-rate instruments have no scenario returns; they are margined by rate, not by scenario.
    return Portfolio.from_positions(p for p in pf.positions() if p.instrument in have)


def summary(ctx: ServiceContext, limit: int) -> MarginSummaryOut:
    try:
        rpf = load_rpf(ctx)
        marks = marks_from_rpf(rpf)
        parts = ctx.store.participants()
        ccp = {p.id for p in parts if p.kind == "ccp"}
        ids = [p.id for p in parts if p.id not in ccp and _params_file(ctx, p.id) is not None]
        missing = [p.id for p in parts if p.id not in ccp and p.id not in ids]
        params = {pid: cp_params(ctx, pid) for pid in ids}
        pfs = marginable_positions(ctx.store.instructions(), marks, exclude=ccp, participants=ids)
        pfs = {pid: pfs[pid] for pid in ids}
        held = collateral(ctx)
        covered = {pid: pfs[pid] for pid in ids if pid in held}
        cycle = run_cycle(rpf, covered, params, {pid: held[pid] for pid in covered},
                          status={p.id: p.status for p in parts}).records if covered else {}
        rest = {pid: pfs[pid] for pid in ids if pid not in held}
        plain = compute_margins(rpf, rest, params) if rest else {}
        rows: list[MarginSummaryRow] = []
        req: dict[str, float] = {}
        for pid in ids:
            if pid in cycle:
                r = cycle[pid]
                rows.append(MarginSummaryRow(participant_id=pid, total_requirement=r.requirement,
                                             collateral=r.collateral, margin_call=r.margin_call,
                                             coverage_ratio=r.coverage_ratio))
                req[pid] = float(r.requirement)
            else:
                m = plain[pid]
                rows.append(MarginSummaryRow(participant_id=pid, total_requirement=m.total_requirement,
                                             collateral=None, margin_call=None, coverage_ratio=None))
                req[pid] = float(m.total_requirement)
        scen = rpf_scenarios(rpf)
        have = {k: i for i, k in enumerate(scen.instruments)}
        fund = stress_test(scen, {pid: _with_returns(pfs[pid], have) for pid in ids}, req)
    except RiskInputError as exc:
        raise ApiError(409, f"the margin summary cannot be computed: {exc}") from None
    by_req = sorted(rows, key=lambda r: (-r.total_requirement, r.participant_id))
    calls = sorted((r for r in rows if r.margin_call), key=lambda r: (-(r.margin_call or 0), r.participant_id))
    return MarginSummaryOut(
        valuation_date=rpf.header.valuation_date.isoformat(), participants=len(ids), not_margined=missing,
        total_requirement=sum(r.total_requirement for r in rows),
        total_collateral=float(sum(r.collateral or 0.0 for r in rows)),
        total_calls=sum(r.margin_call or 0 for r in rows), participants_called=len(calls),
        largest_requirements=by_req[:limit], largest_calls=calls[:limit],
        cover2=Cover2Out(fund_size=fund.fund_size, worst_scenario=fund.worst_scenario,
                         cover2_groups=list(fund.cover2_groups), scenarios=len(scen.names),
                         scenario_source="the parameter file's historical and stressed scenarios",
                         collateral_basis="each participant's total requirement (margin as collateral)",
                         limit=fund.limit, risk_collateral=float(sum(fund.risk_collateral.values())),
                         uncollateralised=dict(fund.uncollateralised)))
