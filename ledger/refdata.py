"""Reference data for clearing: participants, securities, currencies, and a seeded synthetic market.

Units used everywhere in clearing (chosen so that all arithmetic is exact integer arithmetic):

* money: integer **cents** (1/100 of the currency unit; HKD, CNY and USD all have 2 decimals);
* prices: integer **milli-units** (1/1000 of the currency unit), because the smallest HKEX tick is
  0.001 and a float price would make trade values depend on rounding noise.

Participant ids follow the CCASS pattern "one letter + five digits". The letter encodes the kind so
an id alone says what the participant is (the prefixes never collide):

* ``B00001``… brokers (exchange / clearing participants),
* ``C00001``… custodians (general clearing / custodian participants),
* ``H00001``  the CCP (HKSCC),
* ``S00001``  the settlement bank,
* ``D00001``  the CSD operator.

Stock codes are canonical without leading zeros ("700", "5", "9988"); :func:`canonical_stock_code`
turns "00700" into "700". ISINs here are synthetic but valid: ``HK`` + the code zero-padded to five
digits + ``0000`` + the ISO 6166 check digit.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import Final, Literal, cast

import numpy as np
import numpy.typing as npt

DateLike = np.datetime64 | _dt.date | str  # "YYYY-MM-DD", a date, or a datetime64


def as_day(value: DateLike) -> np.datetime64:
    """Any DateLike as a ``datetime64[D]`` scalar."""
    return cast(np.datetime64, np.asarray([value], dtype="datetime64[D]")[0])


ParticipantKind = Literal["broker", "custodian", "ccp", "settlement_bank", "csd_operator"]
Currency = Literal["HKD", "CNY", "USD"]

#: Currency index order used by every array in clearing (``currency`` columns index into this).
CURRENCIES: Final[tuple[Currency, ...]] = ("HKD", "CNY", "USD")
CURRENCY_INDEX: Final[dict[str, int]] = {c: i for i, c in enumerate(CURRENCIES)}

KIND_PREFIX: Final[dict[ParticipantKind, str]] = {
    "broker": "B",
    "custodian": "C",
    "ccp": "H",
    "settlement_bank": "S",
    "csd_operator": "D",
}
#: Kinds that may appear as buyer or seller of an exchange trade.
TRADING_KINDS: Final[frozenset[ParticipantKind]] = frozenset({"broker", "custodian"})

_PARTICIPANT_ID_RE: Final = re.compile(r"^[A-Z][0-9]{5}$")
_STOCK_CODE_RE: Final = re.compile(r"^[1-9][0-9]{0,4}$")

#: Board lots seen on the HK market (shares per lot).
HK_BOARD_LOTS: Final[tuple[int, ...]] = (50, 100, 200, 250, 400, 500, 1000, 2000, 4000, 5000, 10000)

# HKEX spread table (price bands in milli-units -> tick in milli-units). A price in
# [lower_i, lower_{i+1}) trades in multiples of tick_i.
_SPREAD_LOWER_MILLI: Final = np.array(
    [0, 250, 500, 10_000, 20_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000, 5_000_000],
    dtype=np.int64,
)
_SPREAD_TICK_MILLI: Final = np.array(
    [1, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000], dtype=np.int64
)


def tick_size_milli(price_milli: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """HKEX tick size (milli-units) for each price, from the spread table."""
    p = np.asarray(price_milli, dtype=np.int64)
    band = np.searchsorted(_SPREAD_LOWER_MILLI, p, side="right") - 1
    return _SPREAD_TICK_MILLI[np.clip(band, 0, len(_SPREAD_TICK_MILLI) - 1)]


def canonical_stock_code(code: str) -> str:
    """'00700' -> '700'. Raises ValueError if it is not 1-5 digits with a nonzero value."""
    s = code.strip().lstrip("0")
    if not _STOCK_CODE_RE.match(s):
        raise ValueError(f"not a HK stock code: {code!r}")
    return s


def isin_check_digit(body: str) -> int:
    """ISO 6166 check digit for the 11-character ISIN body (letters A=10 … Z=35, then Luhn)."""
    if len(body) != 11 or not body.isalnum() or not body.isascii():
        raise ValueError(f"ISIN body must be 11 alphanumeric characters: {body!r}")
    digits = "".join(str(int(ch, 36)) for ch in body.upper())
    total = 0
    # Luhn from the rightmost digit of the body; that digit is the one doubled (check digit follows).
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def is_valid_isin(isin: str) -> bool:
    if len(isin) != 12 or not isin[:2].isalpha() or not isin[11].isdigit():
        return False
    try:
        return isin_check_digit(isin[:11]) == int(isin[11])
    except ValueError:
        return False


def hk_isin_for_code(stock_code: str) -> str:
    """Synthetic valid HK ISIN for a stock code: 'HK' + code.zfill(5) + '0000' + check digit."""
    body = "HK" + canonical_stock_code(stock_code).zfill(5) + "0000"
    return body + str(isin_check_digit(body))


@dataclass(frozen=True, slots=True)
class Participant:
    id: str
    kind: ParticipantKind
    name: str

    def __post_init__(self) -> None:
        if not _PARTICIPANT_ID_RE.match(self.id):
            raise ValueError(f"participant id must be a letter and 5 digits: {self.id!r}")
        if self.kind not in KIND_PREFIX:
            raise ValueError(f"unknown participant kind: {self.kind!r}")


@dataclass(frozen=True, slots=True)
class Security:
    stock_code: str  # canonical, no leading zeros
    isin: str
    name: str
    board_lot: int
    currency: Currency
    ref_price_milli: int  # reference (previous close) price, thousandths of the currency unit

    def __post_init__(self) -> None:
        if canonical_stock_code(self.stock_code) != self.stock_code:
            raise ValueError(f"stock code must be canonical (no leading zeros): {self.stock_code!r}")
        if not is_valid_isin(self.isin):
            raise ValueError(f"invalid ISIN: {self.isin!r}")
        if self.board_lot <= 0:
            raise ValueError("board lot must be positive")
        if self.currency not in CURRENCY_INDEX:
            raise ValueError(f"unsupported currency: {self.currency!r}")
        if self.ref_price_milli <= 0:
            raise ValueError("reference price must be positive")


@dataclass(frozen=True, eq=False)  # holds arrays: identity equality
class Market:
    """A participant list and a security list; every ``*_idx`` array in clearing indexes into these.

    The columnar views (``board_lot``, ``currency_idx``, …) are derived once so that trade capture
    and netting can validate/aggregate millions of rows without touching Python objects.
    """

    participants: tuple[Participant, ...]
    securities: tuple[Security, ...]
    participant_index: dict[str, int] = field(init=False, repr=False)
    security_index: dict[str, int] = field(init=False, repr=False)
    participant_kind: tuple[ParticipantKind, ...] = field(init=False, repr=False)
    board_lot: npt.NDArray[np.int64] = field(init=False, repr=False)
    currency_idx: npt.NDArray[np.int32] = field(init=False, repr=False)
    ref_price_milli: npt.NDArray[np.int64] = field(init=False, repr=False)
    code_int: npt.NDArray[np.int64] = field(init=False, repr=False)
    can_trade: npt.NDArray[np.bool_] = field(init=False, repr=False)
    # Dense lookup tables (value -1 = unknown) so millions of ids resolve with one gather each:
    # participant_by_key[(letter - 'A') * 100000 + digits], security_by_code[int(stock_code)].
    participant_by_key: npt.NDArray[np.int32] = field(init=False, repr=False)
    security_by_code: npt.NDArray[np.int32] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pidx = {p.id: i for i, p in enumerate(self.participants)}
        if len(pidx) != len(self.participants):
            raise ValueError("duplicate participant id")
        sidx = {s.stock_code: i for i, s in enumerate(self.securities)}
        if len(sidx) != len(self.securities):
            raise ValueError("duplicate stock code")
        ccps = [p for p in self.participants if p.kind == "ccp"]
        if len(ccps) != 1:
            raise ValueError(f"a market needs exactly one CCP, got {len(ccps)}")
        put = object.__setattr__  # frozen: derived fields are set once here
        put(self, "participant_index", pidx)
        put(self, "security_index", sidx)
        put(self, "participant_kind", tuple(p.kind for p in self.participants))
        put(self, "board_lot", np.array([s.board_lot for s in self.securities], dtype=np.int64))
        put(
            self,
            "currency_idx",
            np.array([CURRENCY_INDEX[s.currency] for s in self.securities], dtype=np.int32),
        )
        put(
            self,
            "ref_price_milli",
            np.array([s.ref_price_milli for s in self.securities], dtype=np.int64),
        )
        put(self, "code_int", np.array([int(s.stock_code) for s in self.securities], np.int64))
        by_key = np.full(26 * 100_000, -1, dtype=np.int32)
        for i, p in enumerate(self.participants):
            by_key[(ord(p.id[0]) - 65) * 100_000 + int(p.id[1:])] = i
        put(self, "participant_by_key", by_key)
        by_code = np.full(100_000, -1, dtype=np.int32)
        by_code[self.code_int] = np.arange(len(self.securities), dtype=np.int32)
        put(self, "security_by_code", by_code)
        put(
            self,
            "can_trade",
            np.array([p.kind in TRADING_KINDS for p in self.participants], dtype=np.bool_),
        )

    @property
    def ccp_index(self) -> int:
        return self.participant_kind.index("ccp")

    @property
    def trading_participants(self) -> npt.NDArray[np.int32]:
        """Indices of participants allowed to be buyer/seller (brokers and custodians)."""
        return np.flatnonzero(self.can_trade).astype(np.int32)

    def security(self, stock_code: str) -> Security:
        return self.securities[self.security_index[canonical_stock_code(stock_code)]]

    def participant(self, participant_id: str) -> Participant:
        return self.participants[self.participant_index[participant_id]]


_NAME_A: Final = (
    "Pacific", "Harbour", "Kowloon", "Victoria", "Pearl", "Jade", "Golden", "Orient", "Dragon",
    "Lantau", "Sino", "Great Bay", "Peak", "Star", "Phoenix", "Lotus", "Silver", "Eastern",
)
_NAME_B: Final = (
    "Land", "Power", "Telecom", "Bank", "Energy", "Pharma", "Auto", "Logistics", "Retail",
    "Holdings", "Technology", "Insurance", "Gas", "Properties", "Foods", "Shipping", "Media",
)
_NAME_C: Final = ("Holdings", "Group", "Ltd", "Co Ltd", "International", "Corp")
_FIRM_A: Final = ("Asia", "Harbour", "Central", "Admiralty", "Wanchai", "Causeway", "Tsim Sha Tsui",
                  "Prime", "Summit", "Crest", "Meridian", "Bauhinia", "Regal", "Apex")
_FIRM_B: Final = ("Securities", "Brokerage", "Capital", "Investments", "Futures & Securities")


def _lot_for_price(price_milli: npt.NDArray[np.int64], rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Board lots loosely tied to price: penny stocks trade in big lots, blue chips in 100s."""
    lots = np.empty(len(price_milli), dtype=np.int64)
    bands: tuple[tuple[int, int, tuple[int, ...], tuple[float, ...]], ...] = (
        (0, 1_000, (2000, 4000, 5000, 10000), (0.4, 0.2, 0.2, 0.2)),
        (1_000, 10_000, (500, 1000, 2000), (0.4, 0.4, 0.2)),
        (10_000, 100_000, (100, 200, 250, 400, 500, 1000), (0.2, 0.2, 0.1, 0.1, 0.3, 0.1)),
        (100_000, 1 << 62, (50, 100, 200), (0.1, 0.7, 0.2)),
    )
    for lo, hi, choices, probs in bands:
        m = (price_milli >= lo) & (price_milli < hi)
        lots[m] = rng.choice(np.array(choices, dtype=np.int64), size=int(m.sum()), p=probs)
    return lots


def generate_market(
    n_participants: int = 600,
    n_securities: int = 2_600,
    seed: int = 0,
    *,
    custodian_share: float = 0.15,
) -> Market:
    """Seeded synthetic HK market.

    ``n_participants`` counts trading participants (brokers + custodians); the CCP (``H00001``),
    settlement bank (``S00001``) and CSD operator (``D00001``) are added on top and come first, so
    ``market.ccp_index == 0``. Securities: ~95% HKD, ~4% CNY (RMB counters, codes 80000-89999),
    ~1% USD (codes 9000-9199); reference prices lognormal (median about HKD 3) clipped to
    0.1-600 and snapped to the HKEX tick grid; board lots from :data:`HK_BOARD_LOTS` by price band.
    """
    if n_participants < 2:
        raise ValueError("need at least two trading participants")
    if not 1 <= n_securities <= 9_000:
        raise ValueError("n_securities must be in 1..9000")
    rng = np.random.default_rng(seed)

    participants: list[Participant] = [
        Participant("H00001", "ccp", "Hong Kong Securities Clearing Company Limited"),
        Participant("S00001", "settlement_bank", "Designated Settlement Bank"),
        Participant("D00001", "csd_operator", "CCASS Depository Operator"),
    ]
    n_cust = max(1, int(round(n_participants * custodian_share)))
    n_brok = n_participants - n_cust
    if n_brok < 1:
        raise ValueError("need at least one broker")
    # Ids are spread over the 5-digit space (not 1..n) so they look like real CCASS ids.
    brok_ids = np.sort(rng.choice(99_999, size=n_brok, replace=False) + 1)
    cust_ids = np.sort(rng.choice(99_999, size=n_cust, replace=False) + 1)
    for i in brok_ids.tolist():
        nm = f"{_FIRM_A[rng.integers(len(_FIRM_A))]} {_FIRM_B[rng.integers(len(_FIRM_B))]} {i}"
        participants.append(Participant(f"B{i:05d}", "broker", nm))
    for i in cust_ids.tolist():
        nm = f"{_FIRM_A[rng.integers(len(_FIRM_A))]} Custody Services {i}"
        participants.append(Participant(f"C{i:05d}", "custodian", nm))

    cur = rng.choice(3, size=n_securities, p=[0.95, 0.04, 0.01])
    n_cny = int((cur == 1).sum())
    n_usd = min(int((cur == 2).sum()), 200)
    n_hkd = n_securities - n_cny - n_usd
    cur = np.concatenate([np.zeros(n_hkd, int), np.ones(n_cny, int), np.full(n_usd, 2)])
    hkd_pool = np.concatenate([np.arange(1, 9_000), np.arange(9_200, 10_000)])
    codes = np.concatenate([
        np.sort(rng.choice(hkd_pool, size=n_hkd, replace=False)),
        np.sort(rng.choice(np.arange(80_000, 90_000), size=n_cny, replace=False)),
        np.sort(rng.choice(np.arange(9_000, 9_200), size=n_usd, replace=False)),
    ])
    # Prices: lognormal in HKD, clipped to the realistic range, then snapped down to the tick grid.
    # Non-HKD counters are quoted in their own currency at roughly the FX-converted level.
    fx = np.array([1.0, 0.92, 0.128])[cur]
    price = np.clip(np.exp(rng.normal(np.log(3.0), 1.6, n_securities)), 0.1, 600.0) * fx
    price_milli = np.maximum(np.round(price * 1000).astype(np.int64), 1)
    tick = tick_size_milli(price_milli)
    price_milli = np.maximum(price_milli // tick * tick, tick)
    lots = _lot_for_price(price_milli, rng)

    securities: list[Security] = []
    for code, c, p, lot in zip(codes.tolist(), cur.tolist(), price_milli.tolist(), lots.tolist()):
        scode = str(code)
        nm = (f"{_NAME_A[rng.integers(len(_NAME_A))]} {_NAME_B[rng.integers(len(_NAME_B))]} "
              f"{_NAME_C[rng.integers(len(_NAME_C))]}")
        if c == 1:
            nm += " -R"  # HKEX marks RMB counters with -R
        elif c == 2:
            nm += " -U"
        securities.append(Security(scode, hk_isin_for_code(scode), nm, int(lot), CURRENCIES[c], int(p)))
    return Market(tuple(participants), tuple(securities))
