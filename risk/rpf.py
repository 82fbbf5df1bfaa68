"""Reader and writer for the initial-margin risk parameter file (IMRPF, file id RPF01).

Layout (CSV)::

    Valuation_DT,21/11/2026
    HVaR_WGT,0.75
    ...                                   (header rows: name,value)
    InstrumentID,FieldType,1,2,3,...,N    (table header)
    700,1,-0.0123,0.0045,...              (one row per instrument and field type)

Field types: 1 HVaR scenario returns, 2 SVaR scenario returns, 3 flat margin rate,
4 liquidation parameters, 5 structured-product delta, 6 structured-product add-on,
7 corporate-action entitlement. See ``/work/shared/spec/risk-method.md``.

The reader is strict: anything it cannot interpret exactly raises
:class:`~risk.errors.RPFFormatError` with the row, column and what was expected.
Numbers are written with ``repr`` so that ``read(write(x)) == x`` bit for bit.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from risk.errors import RPFFormatError

__all__ = [
    "RPFHeader",
    "LiquidityParams",
    "StructuredProductParams",
    "SPAddonParams",
    "CorporateActionParams",
    "RiskParameterFile",
    "read_rpf",
    "parse_rpf",
    "write_rpf",
    "format_rpf",
    "FT_HVAR",
    "FT_SVAR",
    "FT_FLAT",
    "FT_LIQUIDITY",
    "FT_SP_DELTA",
    "FT_SP_ADDON",
    "FT_CORPORATE_ACTION",
]

FT_HVAR = 1
FT_SVAR = 2
FT_FLAT = 3
FT_LIQUIDITY = 4
FT_SP_DELTA = 5
FT_SP_ADDON = 6
FT_CORPORATE_ACTION = 7

# Only the discrete filtered-historical-simulation ES is public and implemented.
SUPPORTED_MEASURE = 4

_HEADER_ORDER = (
    "Valuation_DT",
    "HVaR_WGT",
    "SVaR_WGT",
    "HVaR_Scen_Count",
    "SVaR_Scen_Count",
    "STV_Count",
    "HVaR_CL",
    "SVaR_CL",
    "HVaR_Measure",
    "SVaR_Measure",
    "Rounding",
    "Holiday_Factor",
)
_INT_HEADERS = {"HVaR_Scen_Count", "SVaR_Scen_Count", "STV_Count", "HVaR_Measure", "SVaR_Measure", "Rounding"}
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INT_RE = re.compile(r"[+-]?\d+")
_FIXED_WIDTH = {FT_FLAT: 1, FT_LIQUIDITY: 4, FT_SP_DELTA: 4, FT_SP_ADDON: 2, FT_CORPORATE_ACTION: 4}


@dataclass(frozen=True)
class RPFHeader:
    """Header block of an RPF01 file.

    Attributes
    ----------
    valuation_date : date
        ``Valuation_DT``.
    hvar_weight, svar_weight : float
        ``HVaR_WGT`` and ``SVaR_WGT`` (0.75 and 0.25 at HKSCC).
    hvar_scen_count, svar_scen_count : int
        Number of HVaR / SVaR scenarios per FieldType 1 / 2 row.
    stv_count : int
        Number of stress scenarios (informational here; stress sets live outside the RPF).
    hvar_cl, svar_cl : float
        Confidence levels of the expected shortfall (0.994 and 0.98).
    hvar_measure, svar_measure : int
        Risk measure code; only 4 (discrete FHS expected shortfall) is supported.
    rounding : int
        Aggregated margin is rounded up to a multiple of this (10000).
    holiday_factor : float
        ``sqrt(H) - 1`` (0 when no holiday).
    extra : tuple of (str, str)
        Header rows not listed above, kept verbatim and in order.
    """

    valuation_date: date
    hvar_weight: float = 0.75
    svar_weight: float = 0.25
    hvar_scen_count: int = 1000
    svar_scen_count: int = 1018
    stv_count: int = 200
    hvar_cl: float = 0.994
    svar_cl: float = 0.98
    hvar_measure: int = 4
    svar_measure: int = 4
    rounding: int = 10000
    holiday_factor: float = 0.0
    extra: tuple[tuple[str, str], ...] = ()

    def values(self) -> dict[str, str]:
        """Header rows as strings, in file order."""
        out = {
            "Valuation_DT": self.valuation_date.strftime("%d/%m/%Y"),
            "HVaR_WGT": repr(float(self.hvar_weight)),
            "SVaR_WGT": repr(float(self.svar_weight)),
            "HVaR_Scen_Count": str(self.hvar_scen_count),
            "SVaR_Scen_Count": str(self.svar_scen_count),
            "STV_Count": str(self.stv_count),
            "HVaR_CL": repr(float(self.hvar_cl)),
            "SVaR_CL": repr(float(self.svar_cl)),
            "HVaR_Measure": str(self.hvar_measure),
            "SVaR_Measure": str(self.svar_measure),
            "Rounding": str(self.rounding),
            "Holiday_Factor": repr(float(self.holiday_factor)),
        }
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class LiquidityParams:
    """FieldType 4: liquidation-risk parameters of an underlying group.

    Attributes
    ----------
    bucket_rate : float
        Add-on rate applied to the excess over the threshold.
    beta : float
        Beta to the hedging instrument (portfolio-level add-on).
    threshold : float
        Delta-equivalent market-value threshold in HKD.
    cash_delta : float
        Cash delta per unit (the price for a stock).
    """

    bucket_rate: float
    beta: float
    threshold: float
    cash_delta: float


@dataclass(frozen=True)
class StructuredProductParams:
    """FieldType 5: structured-product delta.

    Attributes
    ----------
    underlying : str
        Underlying group (instrument id of the underlying stock).
    delta : float
        Option delta.
    conversion_ratio : float
        Units of product per unit of underlying.
    cash_delta : float
        Cash delta per unit of product, in HKD.
    """

    underlying: str
    delta: float
    conversion_ratio: float
    cash_delta: float


@dataclass(frozen=True)
class SPAddonParams:
    """FieldType 6: structured-product add-on parameters.

    Attributes
    ----------
    price_threshold : float
        Price threshold below which the product is flagged (informational).
    tick_tenth : float
        One tenth of the tick multiplier; add-on = qty * (10 * tick_tenth) * min tick.
    """

    price_threshold: float
    tick_tenth: float


@dataclass(frozen=True)
class CorporateActionParams:
    """FieldType 7: corporate-action entitlement parameters (id = underlying).

    Attributes
    ----------
    kind : int
        1 distribution in specie (``DSP``), 2 rights issue (``SRI``), 3 cash dividend (``DIV``).
    entitlement_price : float
        Price of the entitlement.
    short_addon : float
        Scenario 3 price move, a signed fraction (-0.5 = -50%), used when net MV < 0; the margin
        takes |round(net MV x move)|, so the sign states the direction only.
    long_addon : float
        Scenario 4 price move, a signed fraction, used when net MV > 0.
    """

    kind: int
    entitlement_price: float
    short_addon: float
    long_addon: float


@dataclass(frozen=True, eq=False)
class InstrumentLookup:
    """Every instrument of an RPF with its parameters as parallel arrays (NaN / -1 = absent).

    Attributes
    ----------
    ids : tuple of str
        All instrument ids in the file.
    position : dict of str to int
        Index of each id in the arrays.
    var_row : ndarray of intp
        Row in the return matrices, -1 if no FieldType 1/2.
    flat_rate : ndarray
        FieldType 3 rate.
    liq_group : ndarray of intp
        Liquidation group (index): the FT5 underlying for structured products, the
        instrument itself if it has FieldType 4, else -1.
    liq_cash_delta : ndarray
        Cash delta per unit used for the group MV (FT5 col4 or FT4 col4).
    liq_missing : ndarray of bool
        Structured product whose underlying group has no FieldType 4 row.
    bucket_rate, beta, threshold : ndarray
        FieldType 4 of the instrument (as a group).
    ipo_key : ndarray of intp
        Sub-portfolio key: the FT5 underlying for structured products, else itself.
    sp_tick_tenth : ndarray
        FieldType 6 col2.
    """

    ids: tuple[str, ...]
    position: dict[str, int]
    var_row: NDArray[np.intp]
    flat_rate: NDArray[np.float64]
    liq_group: NDArray[np.intp]
    liq_cash_delta: NDArray[np.float64]
    liq_missing: NDArray[np.bool_]
    bucket_rate: NDArray[np.float64]
    beta: NDArray[np.float64]
    threshold: NDArray[np.float64]
    ipo_key: NDArray[np.intp]
    sp_tick_tenth: NDArray[np.float64]

    @classmethod
    def build(cls, rpf: RiskParameterFile) -> InstrumentLookup:
        """Index every instrument (and structured-product underlying) of ``rpf``."""
        ids: list[str] = list(rpf.var_instruments)
        seen = set(ids)
        extra = [rpf.flat_rates, rpf.liquidity, rpf.structured_products, rpf.sp_addon]
        unders = [sp.underlying for sp in rpf.structured_products.values()]
        for d in (*extra, unders):
            for k in d:
                if k not in seen:
                    seen.add(k)
                    ids.append(k)
        pos = {k: i for i, k in enumerate(ids)}
        n = len(ids)
        nan = np.full(n, np.nan)
        var_row = np.full(n, -1, dtype=np.intp)
        var_row[: len(rpf.var_instruments)] = np.arange(len(rpf.var_instruments))
        flat = nan.copy()
        rate, beta, thr, cd = nan.copy(), nan.copy(), nan.copy(), nan.copy()
        group = np.full(n, -1, dtype=np.intp)
        missing = np.zeros(n, dtype=bool)
        key = np.arange(n, dtype=np.intp)
        tick = nan.copy()
        for k, v in rpf.flat_rates.items():
            flat[pos[k]] = v
        for k, lp in rpf.liquidity.items():
            i = pos[k]
            rate[i], beta[i], thr[i], cd[i] = lp.bucket_rate, lp.beta, lp.threshold, lp.cash_delta
            group[i] = i
        for k, sp in rpf.structured_products.items():
            i, u = pos[k], pos[sp.underlying]
            key[i] = u
            group[i] = u
            cd[i] = sp.cash_delta
            missing[i] = sp.underlying not in rpf.liquidity
        for k, sa in rpf.sp_addon.items():
            tick[pos[k]] = sa.tick_tenth
        return cls(tuple(ids), pos, var_row, flat, group, cd, missing, rate, beta, thr, key, tick)


def _empty_returns() -> NDArray[np.float64]:
    return np.zeros((0, 0), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class RiskParameterFile:
    """A parsed RPF01 file.

    Attributes
    ----------
    header : RPFHeader
        Header block.
    var_instruments : tuple of str
        Instruments with FieldType 1/2 rows, in file order (row order of the return matrices).
    hvar_returns : ndarray, shape (n_var, hvar_scen_count)
        FieldType 1 scenario returns.
    svar_returns : ndarray, shape (n_var, svar_scen_count)
        FieldType 2 scenario returns.
    flat_rates : mapping of str to float
        FieldType 3 flat margin rates (Tier N instruments).
    liquidity : mapping of str to LiquidityParams
        FieldType 4.
    structured_products : mapping of str to StructuredProductParams
        FieldType 5.
    sp_addon : mapping of str to SPAddonParams
        FieldType 6.
    corporate_actions : mapping of str to CorporateActionParams
        FieldType 7, keyed by underlying id.
    """

    header: RPFHeader
    var_instruments: tuple[str, ...] = ()
    hvar_returns: NDArray[np.float64] = field(default_factory=_empty_returns)
    svar_returns: NDArray[np.float64] = field(default_factory=_empty_returns)
    flat_rates: Mapping[str, float] = field(default_factory=dict)
    liquidity: Mapping[str, LiquidityParams] = field(default_factory=dict)
    structured_products: Mapping[str, StructuredProductParams] = field(default_factory=dict)
    sp_addon: Mapping[str, SPAddonParams] = field(default_factory=dict)
    corporate_actions: Mapping[str, CorporateActionParams] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.var_instruments)
        h, s = self.header.hvar_scen_count, self.header.svar_scen_count
        if n == 0:
            # Allow the empty default; normalise shapes so matrix code works.
            object.__setattr__(self, "hvar_returns", np.zeros((0, h)))
            object.__setattr__(self, "svar_returns", np.zeros((0, s)))
        if self.hvar_returns.shape != (n, h) or self.svar_returns.shape != (n, s):
            raise ValueError(
                f"return matrices must be ({n}, {h}) and ({n}, {s}); got "
                f"{self.hvar_returns.shape} and {self.svar_returns.shape}"
            )
        if len(set(self.var_instruments)) != n:
            raise ValueError("duplicate instrument in var_instruments")

    @cached_property
    def var_index(self) -> dict[str, int]:
        """Row of each VaR instrument in the return matrices."""
        return {k: i for i, k in enumerate(self.var_instruments)}

    @cached_property
    def lookup(self) -> InstrumentLookup:
        """Per-instrument columns of the file as arrays, for vectorised margin code."""
        return InstrumentLookup.build(self)

    @cached_property
    def scenario_returns(self) -> NDArray[np.float64]:
        """HVaR and SVaR returns side by side, shape (n_var, H + S), C-contiguous."""
        return np.ascontiguousarray(np.hstack([self.hvar_returns, self.svar_returns]))

    @cached_property
    def scenario_absmax(self) -> NDArray[np.float64]:
        """``max_s |r_is|`` per VaR instrument over HVaR and SVaR scenarios (for error bounds)."""
        r = self.scenario_returns
        return np.asarray(np.abs(r).max(axis=1) if r.shape[0] else np.zeros(0), dtype=np.float64)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RiskParameterFile):
            return NotImplemented
        return (
            self.header == other.header
            and self.var_instruments == other.var_instruments
            and np.array_equal(self.hvar_returns, other.hvar_returns)
            and np.array_equal(self.svar_returns, other.svar_returns)
            and dict(self.flat_rates) == dict(other.flat_rates)
            and dict(self.liquidity) == dict(other.liquidity)
            and dict(self.structured_products) == dict(other.structured_products)
            and dict(self.sp_addon) == dict(other.sp_addon)
            and dict(self.corporate_actions) == dict(other.corporate_actions)
        )

    __hash__ = None  # type: ignore[assignment]


# --------------------------------------------------------------------------- reading


def read_rpf(path: str | Path) -> RiskParameterFile:
    """
    Read an RPF01 file.

    Parameters
    ----------
    path : str or Path
        CSV file.

    Returns
    -------
    RiskParameterFile
        Parsed file.

    Raises
    ------
    RPFFormatError
        If the file is malformed; the error carries ``row``, ``column`` and ``expected``.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise RPFFormatError(f"not UTF-8 text ({e.reason})", source=str(p), expected="a UTF-8 CSV file") from None
    return _parse(text, str(p))


def parse_rpf(text: str, source: str = "<string>") -> RiskParameterFile:
    """
    Parse RPF01 content held in a string.

    Parameters
    ----------
    text : str
        File content.
    source : str
        Name used in error messages.

    Returns
    -------
    RiskParameterFile
        Parsed file.
    """
    return _parse(text, source)


def _strip_trailing(cells: list[str]) -> list[str]:
    # Spreadsheet exports pad short rows with empty cells up to the widest row.
    n = len(cells)
    while n and cells[n - 1].strip() == "":
        n -= 1
    return cells[:n]


def _float_cell(cell: str, row: int, col: int, what: str, src: str) -> float:
    if not _FLOAT_RE.fullmatch(cell):
        raise RPFFormatError(f"non-numeric value {cell!r} for {what}", row=row, column=col,
                             expected="a finite decimal number", source=src)
    v = float(cell)
    if not math.isfinite(v):
        raise RPFFormatError(f"non-finite value {cell!r} for {what}", row=row, column=col,
                             expected="a finite decimal number", source=src)
    return v


def _float_row(text: str, row: int, first_col: int, what: str, src: str) -> NDArray[np.float64]:
    # Fast path: numpy converts the whole row at once. float() would also accept
    # whitespace, underscores, non-ASCII digits, nan and inf, so those are excluded
    # here and by the finiteness check; anything odd goes to the slow path, which
    # exists only to name the offending cell.
    arr: NDArray[np.float64] | None = None
    if text.isascii() and " " not in text and "_" not in text and "\t" not in text:
        try:
            arr = np.array(text.split(","), dtype=np.float64)
        except ValueError:
            arr = None
    if arr is None or not np.isfinite(arr).all():
        for j, c in enumerate(text.split(",")):
            _float_cell(c, row, first_col + j, what, src)
        raise RPFFormatError(f"unparseable {what}", row=row, column=first_col, source=src,
                             expected="finite decimal numbers")  # pragma: no cover
    return arr


def _split(line: str) -> list[str]:
    # Plain lines split on commas; the csv module only for quoted fields (rare).
    if '"' in line:
        return next(csv.reader([line]))
    return line.split(",")


def _price_move(v: float, row: int, col: int, what: str, src: str) -> float:
    """A signed scenario price move as a fraction (-0.5 = the price halves); the Initial Margin
    Calculation Guide's own example file carries -0.5 and -1.  A fall beyond -100% is no price."""
    if v < -1:
        raise RPFFormatError(f"{what} {v!r} is a fall of more than 100%", row=row, column=col,
                             expected=f"{what} >= -1 (a signed fraction, e.g. -0.5)", source=src)
    return v


def _non_negative(v: float, row: int, col: int, what: str, src: str) -> float:
    if v < 0:
        raise RPFFormatError(f"negative {what} {v!r}", row=row, column=col,
                             expected=f"{what} >= 0", source=src)
    return v


def _parse_header_value(name: str, value: str, row: int, src: str) -> object:
    if name == "Valuation_DT":
        try:
            return datetime.strptime(value, "%d/%m/%Y").date()
        except ValueError:
            raise RPFFormatError(f"bad date {value!r} for Valuation_DT", row=row, column=2,
                                 expected="DD/MM/YYYY", source=src) from None
    if name in _INT_HEADERS:
        if not _INT_RE.fullmatch(value):
            raise RPFFormatError(f"non-integer value {value!r} for {name}", row=row, column=2,
                                 expected="an integer", source=src)
        iv = int(value)
        if name in ("HVaR_Measure", "SVaR_Measure") and iv != SUPPORTED_MEASURE:
            raise RPFFormatError(f"unsupported {name} {iv}", row=row, column=2,
                                 expected=f"{SUPPORTED_MEASURE} (discrete FHS expected shortfall)", source=src)
        if name in ("HVaR_Scen_Count", "SVaR_Scen_Count", "Rounding") and iv <= 0:
            raise RPFFormatError(f"{name} must be positive, got {iv}", row=row, column=2,
                                 expected="a positive integer", source=src)
        if name == "STV_Count" and iv < 0:
            raise RPFFormatError(f"negative STV_Count {iv}", row=row, column=2,
                                 expected="an integer >= 0", source=src)
        return iv
    v = _float_cell(value, row, 2, name, src)
    if name in ("HVaR_CL", "SVaR_CL") and not 0.0 < v < 1.0:
        raise RPFFormatError(f"{name} {v!r} outside (0, 1)", row=row, column=2,
                             expected="a confidence level strictly between 0 and 1", source=src)
    if name in ("HVaR_WGT", "SVaR_WGT", "Holiday_Factor") and v < 0:
        raise RPFFormatError(f"negative {name} {v!r}", row=row, column=2, expected=f"{name} >= 0", source=src)
    return v


def _parse(text: str, src: str) -> RiskParameterFile:
    # Multi-line quoted fields are not part of the layout, so rows are lines.
    rows: Iterator[tuple[int, str]] = enumerate(text.split("\n"), start=1)
    raw_header: dict[str, object] = {}
    header_rows: dict[str, int] = {}
    extra: list[tuple[str, str]] = []
    table_row = 0
    width = 0
    # --- header block
    for line, raw in rows:
        cells = _strip_trailing(_split(raw.rstrip("\r")))
        if not cells:
            continue
        if cells[0].strip() == "InstrumentID":
            table_row = line
            width = _check_table_header(cells, line, src)
            break
        if len(cells) != 2:
            raise RPFFormatError(f"header row has {len(cells)} values", row=line,
                                 column=min(len(cells), 3), expected="name,value", source=src)
        name, value = cells[0].strip(), cells[1].strip()
        if name in header_rows:
            raise RPFFormatError(f"duplicate header {name}", row=line, column=1,
                                 expected=f"{name} once (first at row {header_rows[name]})", source=src)
        header_rows[name] = line
        if name in _HEADER_ORDER:
            raw_header[name] = _parse_header_value(name, value, line, src)
        else:
            extra.append((name, value))
    if not table_row:
        raise RPFFormatError("no table header", source=src,
                             expected="a row InstrumentID,FieldType,1,2,3,...")
    missing = [h for h in _HEADER_ORDER if h not in raw_header]
    if missing:
        raise RPFFormatError(f"missing header {missing[0]}", row=table_row, column=1,
                             expected=f"header row '{missing[0]},<value>' before the table", source=src)
    header = RPFHeader(extra=tuple(extra), **{_ATTR[k]: v for k, v in raw_header.items()})  # type: ignore[arg-type]
    h_count, s_count = header.hvar_scen_count, header.svar_scen_count
    if width < max(h_count, s_count):
        raise RPFFormatError(f"table header has {width} scenario columns", row=table_row, column=width + 3,
                             expected=f"at least {max(h_count, s_count)} numbered columns", source=src)

    var_ids: list[str] = []
    h_rows: dict[str, NDArray[np.float64]] = {}
    s_rows: dict[str, NDArray[np.float64]] = {}
    first_row: dict[tuple[str, int], int] = {}
    flat: dict[str, float] = {}
    liq: dict[str, LiquidityParams] = {}
    spd: dict[str, StructuredProductParams] = {}
    spa: dict[str, SPAddonParams] = {}
    ca: dict[str, CorporateActionParams] = {}
    for line, raw in rows:
        raw = raw.rstrip("\r")
        head = raw.split(",", 2)
        if len(head) == 3 and head[1].strip() in ("1", "2") and '"' not in raw:
            # Scenario rows: keep the values as one string for the bulk conversion.
            cells = [head[0], head[1]]
            rest = head[2].rstrip(", \t")
        else:
            cells = _strip_trailing(_split(raw))
            rest = ",".join(cells[2:])
            if not cells:
                continue
        inst = cells[0].strip()
        if not inst:
            raise RPFFormatError("empty InstrumentID", row=line, column=1, expected="an instrument id", source=src)
        if len(cells) < 2 or not _INT_RE.fullmatch(cells[1].strip()):
            raise RPFFormatError(f"bad FieldType {cells[1] if len(cells) > 1 else ''!r}", row=line, column=2,
                                 expected="an integer FieldType 1-7", source=src)
        ft = int(cells[1])
        if ft not in range(1, 8):
            raise RPFFormatError(f"unknown FieldType {ft}", row=line, column=2, expected="FieldType 1-7", source=src)
        key = (inst, ft)
        if key in first_row:
            raise RPFFormatError(f"duplicate row for instrument {inst} FieldType {ft}", row=line, column=1,
                                 expected=f"one row per instrument and FieldType (first at row {first_row[key]})",
                                 source=src)
        first_row[key] = line
        if ft in (FT_HVAR, FT_SVAR):
            n_exp = h_count if ft == FT_HVAR else s_count
            label = "HVaR" if ft == FT_HVAR else "SVaR"
            n_vals = rest.count(",") + 1 if rest else 0
            if n_vals != n_exp:
                raise RPFFormatError(f"{inst} FieldType {ft} has {n_vals} scenario values", row=line,
                                     column=3 + min(n_vals, n_exp),
                                     expected=f"{n_exp} {label} scenario values ({label}_Scen_Count)", source=src)
            arr = _float_row(rest, line, 3, f"{label} scenario return", src)
            if ft == FT_HVAR:
                h_rows[inst] = arr
                if inst not in s_rows:
                    var_ids.append(inst)
            else:
                s_rows[inst] = arr
                if inst not in h_rows:
                    var_ids.append(inst)
            continue
        vals = cells[2:]
        n_exp = _FIXED_WIDTH[ft]
        if len(vals) != n_exp:
            raise RPFFormatError(f"{inst} FieldType {ft} has {len(vals)} values", row=line,
                                 column=3 + min(len(vals), n_exp), expected=f"{n_exp} values", source=src)
        if ft == FT_FLAT:
            flat[inst] = _non_negative(_float_cell(vals[0], line, 3, "flat rate", src), line, 3, "flat rate", src)
        elif ft == FT_LIQUIDITY:
            rate = _non_negative(_float_cell(vals[0], line, 3, "bucket rate", src), line, 3, "bucket rate", src)
            beta = _float_cell(vals[1], line, 4, "beta", src)
            thr = _non_negative(_float_cell(vals[2], line, 5, "threshold", src), line, 5, "threshold", src)
            cd = _float_cell(vals[3], line, 6, "cash delta", src)
            liq[inst] = LiquidityParams(rate, beta, thr, cd)
        elif ft == FT_SP_DELTA:
            und = vals[0].strip()
            if not und:
                raise RPFFormatError("empty underlying group", row=line, column=3,
                                     expected="underlying instrument id", source=src)
            delta = _float_cell(vals[1], line, 4, "delta", src)
            cr = _float_cell(vals[2], line, 5, "conversion ratio", src)
            if cr <= 0:
                raise RPFFormatError(f"conversion ratio {cr!r}", row=line, column=5,
                                     expected="conversion ratio > 0", source=src)
            cd = _float_cell(vals[3], line, 6, "cash delta", src)
            spd[inst] = StructuredProductParams(und, delta, cr, cd)
        elif ft == FT_SP_ADDON:
            pt = _non_negative(_float_cell(vals[0], line, 3, "price threshold", src), line, 3, "price threshold", src)
            tt = _non_negative(_float_cell(vals[1], line, 4, "tick multiplier", src), line, 4, "tick multiplier", src)
            spa[inst] = SPAddonParams(pt, tt)
        else:
            if not _INT_RE.fullmatch(vals[0].strip()) or int(vals[0]) not in (1, 2, 3):
                raise RPFFormatError(f"bad corporate-action type {vals[0]!r}", row=line, column=3,
                                     expected="1 (DSP), 2 (SRI) or 3 (DIV)", source=src)
            price = _non_negative(_float_cell(vals[1], line, 4, "entitlement price", src), line, 4,
                                  "entitlement price", src)
            short = _price_move(_float_cell(vals[2], line, 5, "scenario 3 move", src), line, 5,
                                "scenario 3 move", src)
            long_ = _price_move(_float_cell(vals[3], line, 6, "scenario 4 move", src), line, 6,
                                "scenario 4 move", src)
            ca[inst] = CorporateActionParams(int(vals[0]), price, short, long_)

    for inst in var_ids:
        if inst not in h_rows or inst not in s_rows:
            have, lack = (1, 2) if inst in h_rows else (2, 1)
            raise RPFFormatError(f"instrument {inst} has FieldType {have} but no FieldType {lack}",
                                 row=first_row[(inst, have)], column=2,
                                 expected=f"a FieldType {lack} row for {inst}", source=src)
        if inst in flat:
            raise RPFFormatError(f"instrument {inst} has both scenario returns and a flat rate",
                                 row=first_row[(inst, FT_FLAT)], column=2,
                                 expected="FieldType 1/2 or FieldType 3, not both", source=src)
    n = len(var_ids)
    hv = np.array([h_rows[i] for i in var_ids], dtype=np.float64).reshape(n, h_count)
    sv = np.array([s_rows[i] for i in var_ids], dtype=np.float64).reshape(n, s_count)
    return RiskParameterFile(header, tuple(var_ids), hv, sv, flat, liq, spd, spa, ca)


_ATTR = {
    "Valuation_DT": "valuation_date",
    "HVaR_WGT": "hvar_weight",
    "SVaR_WGT": "svar_weight",
    "HVaR_Scen_Count": "hvar_scen_count",
    "SVaR_Scen_Count": "svar_scen_count",
    "STV_Count": "stv_count",
    "HVaR_CL": "hvar_cl",
    "SVaR_CL": "svar_cl",
    "HVaR_Measure": "hvar_measure",
    "SVaR_Measure": "svar_measure",
    "Rounding": "rounding",
    "Holiday_Factor": "holiday_factor",
}


def _check_table_header(cells: list[str], row: int, src: str) -> int:
    if len(cells) < 2 or cells[1].strip() != "FieldType":
        raise RPFFormatError("bad table header", row=row, column=2, expected="FieldType", source=src)
    for j, c in enumerate(cells[2:]):
        if c.strip() != str(j + 1):
            raise RPFFormatError(f"table header column {c!r}", row=row, column=j + 3,
                                 expected=f"scenario number {j + 1}", source=src)
    return len(cells) - 2


# --------------------------------------------------------------------------- writing


def _fmt(x: float) -> str:
    # repr(float) is the shortest string that reads back to the same double.
    return repr(float(x))


def format_rpf(rpf: RiskParameterFile) -> str:
    """
    Serialise to RPF01 CSV text.

    Parameters
    ----------
    rpf : RiskParameterFile
        File to write.

    Returns
    -------
    str
        CSV text; ``parse_rpf(format_rpf(x)) == x``.
    """
    out: list[str] = [f"{k},{v}" for k, v in rpf.header.values().items()]
    width = max(rpf.header.hvar_scen_count, rpf.header.svar_scen_count, 4)
    out.append("InstrumentID,FieldType," + ",".join(str(i) for i in range(1, width + 1)))
    order: list[str] = list(rpf.var_instruments)
    seen = set(order)
    for d in (rpf.flat_rates, rpf.liquidity, rpf.structured_products, rpf.sp_addon, rpf.corporate_actions):
        for k in d:
            if k not in seen:
                seen.add(k)
                order.append(k)
    for inst in order + [sp.underlying for sp in rpf.structured_products.values()]:
        # An id the reader would split or strip cannot be written faithfully.
        if not inst or inst != inst.strip() or any(ch in inst for ch in ',"\r\n'):
            raise ValueError(f"instrument id {inst!r} cannot be written to RPF01 CSV")
    vi = rpf.var_index
    for inst in order:
        if inst in vi:
            i = vi[inst]
            out.append(f"{inst},1," + ",".join(map(repr, rpf.hvar_returns[i].tolist())))
            out.append(f"{inst},2," + ",".join(map(repr, rpf.svar_returns[i].tolist())))
        if inst in rpf.flat_rates:
            out.append(f"{inst},3,{_fmt(rpf.flat_rates[inst])}")
        if inst in rpf.liquidity:
            lp = rpf.liquidity[inst]
            out.append(f"{inst},4,{_fmt(lp.bucket_rate)},{_fmt(lp.beta)},{_fmt(lp.threshold)},{_fmt(lp.cash_delta)}")
        if inst in rpf.structured_products:
            sp = rpf.structured_products[inst]
            out.append(f"{inst},5,{sp.underlying},{_fmt(sp.delta)},{_fmt(sp.conversion_ratio)},{_fmt(sp.cash_delta)}")
        if inst in rpf.sp_addon:
            sa = rpf.sp_addon[inst]
            out.append(f"{inst},6,{_fmt(sa.price_threshold)},{_fmt(sa.tick_tenth)}")
        if inst in rpf.corporate_actions:
            c = rpf.corporate_actions[inst]
            out.append(f"{inst},7,{c.kind},{_fmt(c.entitlement_price)},{_fmt(c.short_addon)},{_fmt(c.long_addon)}")
    return "\n".join(out) + "\n"


def write_rpf(rpf: RiskParameterFile, path: str | Path) -> None:
    """
    Write an RPF01 file.

    Parameters
    ----------
    rpf : RiskParameterFile
        File content.
    path : str or Path
        Destination.
    """
    Path(path).write_text(format_rpf(rpf), encoding="utf-8")
