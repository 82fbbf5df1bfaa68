"""Trade capture: the columnar :class:`TradeBook` and its CSV reader/writer with row-level validation.

CSV layout (ASCII, header line required, columns in any order, no quoting needed, no spaces
around fields; a UTF-8 BOM, CRLF line ends, quoted fields and blank lines are tolerated)::

    trade_id,trade_date,settlement_date,stock_code,buyer,seller,quantity,price,currency
    T2026112000000001,2026-11-20,2026-11-24,700,B00123,C04567,300,412.600,HKD

* ``trade_id``        1-32 printable ASCII characters, unique within the file
* ``trade_date``      ``YYYY-MM-DD``
* ``settlement_date`` ``YYYY-MM-DD``, not before ``trade_date``
* ``stock_code``      HK stock code, leading zeros allowed ("00700" == "700")
* ``buyer``/``seller`` participant ids (letter + 5 digits) of brokers or custodians, distinct
* ``quantity``        positive integer, a multiple of the security's board lot
* ``price``           positive decimal with at most 3 decimals (e.g. ``412.6``, ``0.045``)
* ``currency``        ``HKD`` | ``CNY`` | ``USD``, must be the security's trading currency

Reading is all-or-nothing: every problem in the file is collected as a :class:`RowError` (line
number, column, raw value, what was expected) and a file with any error raises
:class:`TradeFileError` with the complete list — no partial book is ever returned.

Why a hand-rolled parser: 2.4 M rows must load in well under a few seconds. ``csv``/``np.loadtxt``
create Python objects per field (~20 M of them); here the file is one ``uint8`` array, field
boundaries come from the positions of ``,`` and ``\\n``, and each column is decoded with a handful
of whole-column numpy operations. Quoted files (e.g. re-saved by a spreadsheet) take a slower
path through the ``csv`` module that re-emits them unquoted, then the same parser runs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from ledger.refdata import CURRENCIES, Market

COLUMNS: Final[tuple[str, ...]] = (
    "trade_id", "trade_date", "settlement_date", "stock_code", "buyer", "seller",
    "quantity", "price", "currency",
)
_COL_ORDER: Final[dict[str, int]] = {c: i for i, c in enumerate(COLUMNS)}

MAX_TRADE_ID_LEN: Final = 32
# Bounds keep quantity * price_milli inside int64 (1e10 * 1e8 = 1e18 < 9.2e18), so trade values
# are exact integer products with no overflow check needed downstream.
MAX_QUANTITY: Final = 10**10
MAX_PRICE_MILLI: Final = 10**8  # 100,000.000 per share

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
Days = npt.NDArray[np.datetime64]
Bytes = npt.NDArray[np.bytes_]
BoolA = npt.NDArray[np.bool_]


def value_cents(quantity: npt.ArrayLike, price_milli: npt.ArrayLike) -> I64:
    """Trade value in cents, rounded half up: quantity x price_milli / 10 (milli-units -> cents)."""
    q = np.asarray(quantity, dtype=np.int64)
    p = np.asarray(price_milli, dtype=np.int64)
    # Both factors are positive, so floor((x + 5) / 10) is round-half-up of x / 10.
    return np.asarray((q * p + 5) // 10, dtype=np.int64)


def _readonly_view(a: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    """A read-only view: the caller's own array stays writable, the book's cannot be written."""
    v = a.view()
    v.setflags(write=False)
    return v


# Exact column dtypes (None: any fixed-width bytes 'S<n>').
_DTYPES: Final[dict[str, np.dtype[np.generic] | None]] = {
    "trade_id": None,
    "trade_date": np.dtype("datetime64[D]"),
    "settle_date": np.dtype("datetime64[D]"),
    "security": np.dtype(np.int32),
    "buyer": np.dtype(np.int32),
    "seller": np.dtype(np.int32),
    "quantity": np.dtype(np.int64),
    "price_milli": np.dtype(np.int64),
    "currency": np.dtype(np.int32),
    "value_cents": np.dtype(np.int64),
}


@dataclass(frozen=True, eq=False)  # holds arrays: identity equality
class TradeBook:
    """Exchange trades as equal-length columns; row i is one trade.

    ``security``, ``buyer``, ``seller`` index ``market.securities`` / ``market.participants``;
    ``currency`` indexes :data:`ledger.refdata.CURRENCIES`. Dtypes are exact (checked) and the
    columns are read-only views, so a book handed to netting or settlement cannot be changed
    through it behind its back.
    """

    trade_id: Bytes  # ASCII, fixed-width numpy bytes ('S<n>'); decode with .astype(str) if needed
    trade_date: Days  # datetime64[D]
    settle_date: Days  # datetime64[D]
    security: I32
    buyer: I32
    seller: I32
    quantity: I64  # shares
    price_milli: I64  # thousandths of the currency unit
    currency: I32
    value_cents: I64  # round_half_up(quantity * price), cents

    def __post_init__(self) -> None:
        n = len(self.trade_id)
        for name, dtype in _DTYPES.items():
            a = getattr(self, name)
            if not isinstance(a, np.ndarray) or a.ndim != 1 or len(a) != n:
                raise ValueError(f"TradeBook.{name} must be a 1-D array of length {n}")
            ok = a.dtype.kind == "S" if dtype is None else a.dtype == dtype
            if not ok:
                raise TypeError(f"TradeBook.{name} has dtype {a.dtype}, expected {dtype or 'S'}")
            object.__setattr__(self, name, _readonly_view(a))

    def __len__(self) -> int:
        return len(self.trade_id)

    @classmethod
    def from_arrays(
        cls,
        *,
        trade_id: npt.ArrayLike,
        trade_date: npt.ArrayLike,
        settle_date: npt.ArrayLike,
        security: npt.ArrayLike,
        buyer: npt.ArrayLike,
        seller: npt.ArrayLike,
        quantity: npt.ArrayLike,
        price_milli: npt.ArrayLike,
        currency: npt.ArrayLike,
    ) -> TradeBook:
        """Build a book from array-likes, casting dtypes and computing ``value_cents``.

        This does not check reference data; use :func:`validate_book` for that.
        """
        q = np.ascontiguousarray(quantity, dtype=np.int64)
        p = np.ascontiguousarray(price_milli, dtype=np.int64)
        tid = np.asarray(trade_id)
        if tid.dtype.kind != "S":
            tid = tid.astype(np.bytes_)
        return cls(
            trade_id=tid,
            trade_date=np.asarray(trade_date, dtype="datetime64[D]"),
            settle_date=np.asarray(settle_date, dtype="datetime64[D]"),
            security=np.asarray(security, dtype=np.int32),
            buyer=np.asarray(buyer, dtype=np.int32),
            seller=np.asarray(seller, dtype=np.int32),
            quantity=q,
            price_milli=p,
            currency=np.asarray(currency, dtype=np.int32),
            value_cents=value_cents(q, p),
        )

    def take(self, rows: npt.ArrayLike) -> TradeBook:
        """Sub-book of the given rows (index array or boolean mask)."""
        r = np.asarray(rows)
        return TradeBook(**{name: getattr(self, name)[r] for name in _FIELDS})

    @staticmethod
    def concat(books: Sequence[TradeBook]) -> TradeBook:
        """Concatenate books; raises ValueError if a trade id appears twice across them."""
        if not books:
            raise ValueError("nothing to concatenate")
        out = TradeBook(**{n: np.concatenate([getattr(b, n) for b in books]) for n in _FIELDS})
        dups = duplicate_ids(out.trade_id)
        if dups:
            raise ValueError(f"duplicate trade ids across books: {sorted(dups)[:10]}")
        return out


_FIELDS: Final[tuple[str, ...]] = (
    "trade_id", "trade_date", "settle_date", "security", "buyer", "seller", "quantity",
    "price_milli", "currency", "value_cents",
)


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in a trade file. ``row`` is the 1-based line number (the header is line 1)."""

    row: int
    column: str  # a column name, or "*" for the whole line
    value: str  # the raw text found
    expected: str  # what would have been accepted

    def __str__(self) -> str:
        return f"line {self.row}, {self.column}={self.value!r}: expected {self.expected}"


class TradeFileError(ValueError):
    """Raised when a trade file has any error; ``errors`` holds every one, sorted by line/column."""

    def __init__(self, errors: Sequence[RowError], source: str = "<bytes>") -> None:
        self.errors: tuple[RowError, ...] = tuple(errors)
        self.source = source
        head = "; ".join(str(e) for e in self.errors[:5])
        more = f" (+{len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"{source}: {len(self.errors)} error(s), nothing booked: {head}{more}")


# ----------------------------------------------------------------------------------------------
# Reader


def duplicate_ids(ids: Bytes, hashes: npt.NDArray[np.uint64] | None = None) -> set[bytes]:
    """The set of ids occurring more than once (``hashes``: precomputed ``_hash_fixed(ids)``)."""
    if len(ids) < 2:
        return set()
    # Hash each fixed-width id to a uint64 (exact duplicates hash equal); a sorted hash array with
    # no equal neighbours proves uniqueness. Only on a hit do we look at the actual strings.
    h = _hash_fixed(ids) if hashes is None else hashes
    hs = np.sort(h)
    if not np.any(hs[1:] == hs[:-1]):
        return set()
    cand_h = np.unique(hs[1:][hs[1:] == hs[:-1]])
    cand = ids[np.isin(h, cand_h)]
    seen: set[bytes] = set()
    dups: set[bytes] = set()
    for b in cand.tolist():
        (dups if b in seen else seen).add(b)
    return dups


def _hash_fixed(ids: Bytes) -> npt.NDArray[np.uint64]:
    """64-bit hash of fixed-width ids, independent of the array's width (all-zero 8-byte words,
    which can only be trailing padding since ids contain no NUL, are skipped)."""
    w = ids.dtype.itemsize
    wp = -(-w // 8) * 8
    mat = np.zeros((len(ids), wp), dtype=np.uint8)
    mat[:, :w] = np.ascontiguousarray(ids).view(np.uint8).reshape(len(ids), w)
    words = mat.view(np.uint64)
    h = np.full(len(ids), 0xCBF29CE484222325, dtype=np.uint64)
    mult = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for j in range(words.shape[1]):
            word = words[:, j]
            mixed = (h ^ word) * mult
            mixed ^= mixed >> np.uint64(29)
            h = np.where(word != 0, mixed, h)
    return h


class _Fields:
    """Field boundaries of the well-formed data lines of a comma-separated byte buffer."""

    def __init__(self, buf: npt.NDArray[np.uint8], bounds: I64) -> None:
        self.buf = buf
        # bounds[k, i] is the offset of the separator *before* field k of line i (-1 for the very
        # first byte of the file); bounds[k+1, i] the one after it. Shape (n_fields + 1, n).
        self.bounds_ = bounds

    def bounds(self, k: int) -> tuple[I64, I64]:
        """Start/end byte offsets of field k (0-based position in the line) on every line."""
        return self.bounds_[k] + 1, self.bounds_[k + 1]

    def matrix(self, k: int, max_width: int) -> tuple[npt.NDArray[np.uint8], I64]:
        """Zero-padded bytes of field k as a (width, n) matrix, and the true lengths.

        Transposed layout: each character position is one contiguous row, so the per-position
        decoding loops below stream through memory. ``width`` is the longest field actually
        present, capped at ``max_width`` (longer fields are reported by their length).
        """
        s, e = self.bounds(k)
        ln = e - s
        n = len(s)
        width = int(min(max_width, ln.max())) if n else 0
        mat = np.zeros((max(width, 1), n), dtype=np.uint8)
        idx = s.copy()
        minlen = int(ln.min()) if n else 0
        for j in range(width):
            row = np.take(self.buf, idx, mode="clip")
            if j >= minlen:  # only positions past the shortest field need masking
                row[ln <= j] = 0
            mat[j] = row
            idx += 1
        return mat, ln

    def right_matrix(self, k: int, max_width: int) -> tuple[npt.NDArray[np.uint8], I64,
                                                            npt.NDArray[np.uint8]]:
        """Field k right-aligned in a (width, n) matrix padded with '0', its lengths, and its
        first byte (to spot a sign). Used for numbers: the padding is arithmetically neutral."""
        s, e = self.bounds(k)
        ln = e - s
        n = len(s)
        width = int(min(max_width, ln.max())) if n else 0
        mat = np.full((max(width, 1), n), ord("0"), dtype=np.uint8)
        minlen = int(ln.min()) if n else 0
        for j in range(width):
            back = width - j  # this row holds the character `back` positions before the end
            row = np.take(self.buf, e - back, mode="clip")
            if back > minlen:
                row[ln < back] = ord("0")
            mat[j] = row
        first = np.take(self.buf, s, mode="clip")
        first[ln == 0] = 0
        return mat, ln, first


def _as_fixed_bytes(mat: npt.NDArray[np.uint8]) -> Bytes:
    """(width, n) zero-padded matrix -> numpy 'S<width>' array of n strings."""
    w = mat.shape[0]
    return np.ascontiguousarray(mat.T).view(f"S{w}").ravel()


# Byte -> digit value ('.' and '-' map to 0 so they can sit inside a Horner sum harmlessly).
_DIGIT: Final = np.zeros(256, dtype=np.int64)
_DIGIT[48:58] = np.arange(10)
_IS_DIGIT: Final = np.zeros(256, dtype=np.bool_)
_IS_DIGIT[48:58] = True
_POW10: Final = 10 ** np.arange(19, dtype=np.int64)
_PRINTABLE: Final = np.zeros(256, dtype=np.bool_)
_PRINTABLE[33:127] = True


def _parse_uint(mat: npt.NDArray[np.uint8], ln: I64, first: npt.NDArray[np.uint8],
                max_digits: int) -> tuple[I64, BoolA, BoolA]:
    """Integer with optional leading '-' from a right-aligned '0'-padded matrix.

    Returns (value, ok, negative). Right alignment with '0' padding means no per-position masks:
    the padding and the '-' both add 0 in the Horner sum.
    """
    w, n = mat.shape
    neg = first == ord("-")
    nd = ln - neg
    ok = (nd >= 1) & (nd <= max_digits) & (ln <= w)
    ok &= _IS_DIGIT[mat].sum(axis=0) == nd + (w - np.minimum(ln, w))  # pads are '0' digits
    val = np.zeros(n, dtype=np.int64)
    for j in range(w):
        val *= 10
        val += _DIGIT[mat[j]]
    return np.where(neg, -val, val), ok, neg


def _parse_price(mat: npt.NDArray[np.uint8], ln: I64,
                 first: npt.NDArray[np.uint8]) -> tuple[I64, BoolA, BoolA]:
    """Decimal with at most 3 decimals -> milli-units. Returns (price_milli, ok, negative)."""
    w, n = mat.shape
    neg = first == ord("-")
    is_dot = mat == ord(".")
    ndots = is_dot.sum(axis=0)
    pads = w - np.minimum(ln, w)
    ndig = _IS_DIGIT[mat].sum(axis=0) - pads
    ok = (ln <= w) & (ndig >= 1) & (ndig <= 15) & (ndots <= 1) & (ndig + ndots + neg == ln)
    frac = np.where(ndots > 0, w - 1 - is_dot.argmax(axis=0), 0)
    ok &= frac <= 3
    frac = np.minimum(frac, 3)
    val = np.zeros(n, dtype=np.int64)
    for j in range(w):
        val *= 10
        val += _DIGIT[mat[j]]
    # The dot took one decimal position (as a 0): drop it, then scale the fraction to 3 places.
    has = ndots > 0
    p_lo = _POW10[frac]
    whole = np.where(has, (val // (p_lo * 10)) * p_lo + val % p_lo, val)
    milli = whole * _POW10[3 - frac]
    return np.where(neg, -milli, milli), ok, neg


def _parse_date(mat: npt.NDArray[np.uint8], ln: I64) -> tuple[Days, BoolA]:
    """'YYYY-MM-DD' columns -> datetime64[D] and validity.

    A trade file holds a handful of distinct dates, so rows equal to the first row's text are
    decoded once (ten byte compares per row) and only the rest go through the full arithmetic.
    """
    n = mat.shape[1]
    if n == 0:
        return np.zeros(0, dtype="datetime64[D]"), np.zeros(0, dtype=np.bool_)
    same = ln == ln[0]
    for j in range(mat.shape[0]):
        same &= mat[j] == mat[j, 0]
    if same.all():
        d1, ok1 = _parse_date_full(mat[:, :1], ln[:1])
        return np.full(n, d1[0]), np.full(n, bool(ok1[0]))
    dates, ok = _parse_date_full(mat, ln)
    return dates, ok


def _parse_date_full(mat: npt.NDArray[np.uint8], ln: I64) -> tuple[Days, BoolA]:
    if mat.shape[0] < 10:
        mat = np.vstack([mat, np.zeros((10 - mat.shape[0], mat.shape[1]), np.uint8)])
    d = mat[:10].astype(np.int32) - 48
    ok = (ln == 10) & (mat[4] == ord("-")) & (mat[7] == ord("-"))
    for j in (0, 1, 2, 3, 5, 6, 8, 9):
        ok &= (d[j] >= 0) & (d[j] <= 9)
    y = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3]
    m = d[5] * 10 + d[6]
    day = d[8] * 10 + d[9]
    ok &= (y >= 1900) & (y <= 2999) & (m >= 1) & (m <= 12) & (day >= 1)
    y = np.where(ok, y, 1970)
    m = np.where(ok, m, 1)
    day = np.where(ok, day, 1)
    month = ((y - 1970) * 12 + (m - 1)).astype("datetime64[M]")
    first = month.astype("datetime64[D]")
    dim = ((month + 1).astype("datetime64[D]") - first).astype(np.int64)
    ok &= day <= dim
    return first + (day - 1), ok


def _participant_key(mat: npt.NDArray[np.uint8], ln: I64) -> tuple[I64, BoolA]:
    """'B01234' -> 1*100000 + 1234 (see ``Market.participant_by_key``); ok flags the pattern."""
    if mat.shape[0] < 6:
        mat = np.vstack([mat, np.zeros((6 - mat.shape[0], mat.shape[1]), np.uint8)])
    letter = mat[0].astype(np.int64) - 65
    ok = (ln == 6) & (letter >= 0) & (letter < 26)
    key = letter * 100_000
    for j in range(1, 6):
        d = mat[j].astype(np.int64) - 48
        ok &= (d >= 0) & (d <= 9)
        key = key + d * 10 ** (5 - j)
    return np.where(ok, key, 0), ok


def _normalise_quoted(data: bytes) -> bytes:
    """Slow path for quoted CSV: re-emit each record unquoted, one per line.

    A quoted field containing ',' or a newline cannot be valid in any column, so it is replaced by
    a marker that fails that column's validation rather than shifting the columns.
    """
    text = data.decode("utf-8", errors="replace")
    out = io.StringIO()
    for rec in csv.reader(io.StringIO(text, newline="")):
        out.write(",".join(f.replace(",", "\x00").replace("\n", "\x00") for f in rec))
        out.write("\n")
    return out.getvalue().encode("utf-8")


# Bytes of file decoded per step. Working a few MB at a time keeps every temporary in cache and
# reuses the same heap memory; one whole-file temporary costs more in page faults (painfully so on
# a VM) than the arithmetic done on it.
_CHUNK_BYTES: Final = 1 << 23


def parse_trades_csv(data: bytes, market: Market, source: str = "<bytes>") -> TradeBook:
    """Parse and validate a whole trade file held in memory. Raises :class:`TradeFileError`."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b'"' in data:
        data = _normalise_quoted(data)
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    if not data.endswith(b"\n"):
        data += b"\n"
    buf = np.frombuffer(data, dtype=np.uint8)
    nf = len(COLUMNS)

    def raw(s: int, e: int) -> str:
        return data[s:e].decode("utf-8", errors="replace")

    header_end = data.index(b"\n")
    header = [h.strip() for h in raw(0, header_end).split(",")]
    if sorted(header) != sorted(COLUMNS):
        raise TradeFileError(
            [RowError(1, "*", ",".join(header), "header with columns " + ",".join(COLUMNS))],
            source,
        )
    pos = {name: header.index(name) for name in COLUMNS}  # column name -> field position

    errors: list[tuple[int, int, RowError]] = []
    parts: list[dict[str, npt.NDArray[np.generic]]] = []
    line_nos: list[I64] = []
    lo, next_line = header_end + 1, 2
    while lo < len(data):
        # Chunk [lo, hi) ends just after a newline, so it holds whole lines only.
        hi = min(lo + _CHUNK_BYTES, len(data))
        if hi < len(data):
            cut = data.rfind(b"\n", lo, hi)
            hi = (cut if cut >= 0 else data.index(b"\n", hi)) + 1
        ch = buf[lo:hi]
        m = ch == 44
        m |= ch == 10
        # A line is well formed iff it holds exactly nf-1 commas, i.e. nf separators counting its
        # newline; field k then lies between its separators k-1 and k — no per-line search.
        sep = np.flatnonzero(m).astype(np.int64) + lo
        nl_at = np.flatnonzero(buf[sep] == 10)  # index into sep of each newline
        ends = sep[nl_at]
        starts = np.concatenate([[lo], ends[:-1] + 1]).astype(np.int64)[: len(ends)]
        nsep = np.diff(np.concatenate([[-1], nl_at]))
        line_no = np.arange(next_line, next_line + len(ends), dtype=np.int64)
        next_line += len(ends)
        nonblank = ends > starts  # blank lines are skipped (line numbers stay true)
        well = nonblank & (nsep == nf)
        for i in np.flatnonzero(nonblank & ~well).tolist():
            errors.append((int(line_no[i]), -1, RowError(
                int(line_no[i]), "*", raw(int(starts[i]), int(ends[i]))[:200],
                f"{nf} comma-separated fields, got {int(nsep[i])}")))
        line_no, starts, nl_at = line_no[well], starts[well], nl_at[well]
        bounds = np.empty((nf + 1, len(line_no)), dtype=np.int64)
        bounds[0] = starts - 1
        for k in range(1, nf + 1):
            bounds[k] = sep[nl_at - (nf - k)]
        parts.append(_parse_rows(_Fields(buf, bounds), line_no, pos, market, raw, errors))
        line_nos.append(line_no)
        lo = hi
    if not parts:  # header only: decode zero rows so the empty columns get their proper dtypes
        empty = np.zeros(0, dtype=np.int64)
        parts.append(_parse_rows(_Fields(buf, np.zeros((nf + 1, 0), dtype=np.int64)), empty, pos,
                                 market, raw, errors))
        line_nos.append(empty)

    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    line_no = np.concatenate(line_nos)
    trade_id = cols["trade_id"]
    tid_ok = cols["tid_ok"]

    dups = duplicate_ids(trade_id[tid_ok], cols["tid_hash"][tid_ok])
    if dups:
        dup_rows = np.flatnonzero(tid_ok & np.isin(trade_id, np.array(sorted(dups))))
        first_line: dict[bytes, int] = {}
        for i in dup_rows.tolist():
            tid = bytes(trade_id[i])
            ln_i = int(line_no[i])
            if tid in first_line:
                errors.append((ln_i, _COL_ORDER["trade_id"], RowError(
                    ln_i, "trade_id", tid.decode("ascii", "replace"),
                    f"a unique trade id (first used on line {first_line[tid]})")))
            else:
                first_line[tid] = ln_i

    if errors:
        errors.sort(key=lambda t: (t[0], t[1]))
        raise TradeFileError([e for _, _, e in errors], source)

    return TradeBook.from_arrays(
        trade_id=trade_id, trade_date=cols["trade_date"], settle_date=cols["settle_date"],
        security=cols["security"], buyer=cols["buyer"], seller=cols["seller"],
        quantity=cols["quantity"], price_milli=cols["price_milli"], currency=cols["currency"],
    )


def _parse_rows(
    lines: _Fields,
    line_no: I64,
    pos: dict[str, int],
    market: Market,
    raw: Callable[[int, int], str],
    errors: list[tuple[int, int, RowError]],
) -> dict[str, npt.NDArray[np.generic]]:
    """Decode and validate one chunk of well-formed lines; append its errors to ``errors``."""
    n = len(line_no)

    def report(col: str, mask: BoolA, expected: str | Callable[[int], str]) -> None:
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        s, e = lines.bounds(pos[col])
        for i in idx.tolist():
            exp = expected if isinstance(expected, str) else expected(i)
            errors.append((int(line_no[i]), _COL_ORDER[col],
                           RowError(int(line_no[i]), col, raw(int(s[i]), int(e[i])), exp)))

    # trade_id --------------------------------------------------------------------------------
    tmat, tlen = lines.matrix(pos["trade_id"], MAX_TRADE_ID_LEN)
    # Padding bytes are 0 (not printable), so "all characters printable" == "count == length".
    tid_ok = (tlen >= 1) & (tlen <= MAX_TRADE_ID_LEN)
    tid_ok &= _PRINTABLE[tmat].sum(axis=0) == tlen
    report("trade_id", ~tid_ok, f"1-{MAX_TRADE_ID_LEN} printable ASCII characters")
    trade_id = _as_fixed_bytes(tmat)

    # dates -----------------------------------------------------------------------------------
    tdate, td_ok = _parse_date(*lines.matrix(pos["trade_date"], 10))
    report("trade_date", ~td_ok, "a valid date YYYY-MM-DD")
    sdate, sd_ok = _parse_date(*lines.matrix(pos["settlement_date"], 10))
    report("settlement_date", ~sd_ok, "a valid date YYYY-MM-DD")
    report("settlement_date", td_ok & sd_ok & (sdate < tdate), "a date on or after trade_date")

    # security ----------------------------------------------------------------------------------
    # Leading zeros are allowed ("00700"), so codes are compared as integers via a dense table.
    code, code_ok, _ = _parse_uint(*lines.right_matrix(pos["stock_code"], 8), max_digits=5)
    code_ok &= code > 0
    sec_idx = market.security_by_code[np.where(code_ok, code, 0)]
    sec_ok = code_ok & (sec_idx >= 0)
    security = np.where(sec_ok, sec_idx, 0).astype(np.int32)
    report("stock_code", ~sec_ok, "a listed stock code")

    # participants ----------------------------------------------------------------------------
    sides: dict[str, tuple[I32, BoolA]] = {}
    for col in ("buyer", "seller"):
        pmat, plen = lines.matrix(pos[col], 6)
        pkey, pk_ok = _participant_key(pmat, plen)
        pidx = market.participant_by_key[pkey]
        known = pk_ok & (pidx >= 0)
        idx = np.where(known, pidx, 0).astype(np.int32)
        report(col, ~known, "a known participant id")
        trader = known & market.can_trade[idx]
        report(col, known & ~trader, "a broker or custodian participant")
        sides[col] = (idx, trader)
    buyer, b_ok = sides["buyer"]
    seller, s_ok = sides["seller"]
    report("seller", b_ok & s_ok & (buyer == seller), "a seller different from the buyer")

    # quantity & price ------------------------------------------------------------------------
    qty, q_ok, _ = _parse_uint(*lines.right_matrix(pos["quantity"], 16), max_digits=15)
    report("quantity", ~q_ok, "a whole number of shares")
    q_pos = q_ok & (qty > 0)
    report("quantity", q_ok & ~q_pos, "a positive quantity")
    report("quantity", q_pos & (qty > MAX_QUANTITY), f"at most {MAX_QUANTITY} shares")
    q_pos &= qty <= MAX_QUANTITY
    lot = market.board_lot[security]
    bad_lot = q_pos & sec_ok & (qty % np.where(sec_ok, lot, 1) != 0)
    report("quantity", bad_lot, lambda i: f"a multiple of the board lot {int(lot[i])}")

    price, p_ok, _ = _parse_price(*lines.right_matrix(pos["price"], 20))
    report("price", ~p_ok, "a decimal price with at most 3 decimals")
    p_pos = p_ok & (price > 0)
    report("price", p_ok & ~p_pos, "a positive price")
    report("price", p_pos & (price > MAX_PRICE_MILLI), f"at most {MAX_PRICE_MILLI / 1000:.3f}")

    # currency --------------------------------------------------------------------------------
    cmat, clen = lines.matrix(pos["currency"], 3)
    cc = _as_fixed_bytes(cmat)
    currency = np.full(n, -1, dtype=np.int32)
    for i, c in enumerate(CURRENCIES):
        currency[(clen == 3) & (cc == c.encode())] = i
    report("currency", currency < 0, "one of " + "|".join(CURRENCIES))
    wrong = (currency >= 0) & sec_ok & (currency != market.currency_idx[security])
    report("currency", wrong,
           lambda i: f"{CURRENCIES[int(market.currency_idx[security[i]])]} (the security's currency)")

    return {
        "trade_id": trade_id, "tid_ok": tid_ok, "tid_hash": _hash_fixed(trade_id),
        "trade_date": tdate, "settle_date": sdate,
        "security": security, "buyer": buyer, "seller": seller, "quantity": qty,
        "price_milli": price, "currency": currency,
    }


def read_trades_csv(path: str | Path, market: Market) -> TradeBook:
    """Read, validate and return a trade file (all-or-nothing; see module docstring)."""
    p = Path(path)
    return parse_trades_csv(p.read_bytes(), market, source=str(p))


# ----------------------------------------------------------------------------------------------
# Writer


def _table(strings: Sequence[str]) -> npt.NDArray[np.uint8]:
    """(len(strings), max_len) zero-padded ASCII matrix, for gathering categorical columns."""
    w = max((len(x) for x in strings), default=1) or 1
    return np.array([x.encode("ascii") for x in strings], dtype=f"S{w}").view(np.uint8).reshape(-1, w)


def _digits_left(v: I64, width: int) -> npt.NDArray[np.uint8]:
    """(n, width) left-aligned, zero-padded ASCII decimal digits of non-negative integers."""
    n = len(v)
    nd = np.ones(n, dtype=np.int64)
    for k in range(1, width):
        nd += v >= 10**k
    out = np.zeros((n, width), dtype=np.uint8)
    for j in range(width):
        live = nd > j
        shift = np.where(live, nd - 1 - j, 0)
        out[:, j] = np.where(live, (v // 10**shift) % 10 + 48, 0)
    return out


def _date_matrix(d: Days) -> npt.NDArray[np.uint8]:
    """(n, 10) 'YYYY-MM-DD' bytes. A trade file spans few distinct days, so format the day range
    once and gather, instead of formatting millions of dates."""
    day = d.astype("datetime64[D]").view(np.int64)
    lo, hi = int(day.min()), int(day.max())
    if hi - lo > 100_000:
        return np.datetime_as_string(d, unit="D").astype("S10").view(np.uint8).reshape(-1, 10)
    table = np.datetime_as_string(np.arange(lo, hi + 1).astype("datetime64[D]"), unit="D")
    return np.asarray(table.astype("S10").view(np.uint8).reshape(-1, 10)[day - lo])


_CHUNK_ROWS: Final = 400_000


def format_trades_csv(book: TradeBook, market: Market) -> bytes:
    """The book as CSV bytes in the documented layout (prices always with 3 decimals).

    Each column becomes a zero-padded fixed-width byte matrix, the columns (with commas and a
    newline) are laid side by side, and the NUL padding is deleted with ``bytes.translate`` —
    one C-level pass instead of millions of Python string formats. Chunked to bound memory.
    """
    codes = _table([s.stock_code for s in market.securities])
    pids = _table([p.id for p in market.participants])
    curs = _table(list(CURRENCIES))
    comma = np.full((1, 1), ord(","), dtype=np.uint8)
    parts: list[bytes] = [",".join(COLUMNS).encode() + b"\n"]
    for lo in range(0, len(book), _CHUNK_ROWS):
        hi = min(lo + _CHUNK_ROWS, len(book))
        n = hi - lo
        c = np.broadcast_to(comma, (n, 1))
        tid = np.ascontiguousarray(book.trade_id[lo:hi]).view(np.uint8).reshape(n, -1)
        dates = [_date_matrix(d[lo:hi]) for d in (book.trade_date, book.settle_date)]
        ip, fr = np.divmod(book.price_milli[lo:hi], 1000)
        frac = _digits_left(fr + 1000, 4)
        frac[:, 0] = ord(".")  # 1000 + fr gives "1ddd"; its leading 1 becomes the decimal point
        qty = book.quantity[lo:hi]
        block = np.hstack([
            tid, c, dates[0], c, dates[1], c, codes[book.security[lo:hi]], c,
            pids[book.buyer[lo:hi]], c, pids[book.seller[lo:hi]], c,
            _digits_left(qty, len(str(int(qty.max())))), c,
            _digits_left(ip, len(str(int(ip.max())))), frac, c,
            curs[book.currency[lo:hi]], np.full((n, 1), 10, dtype=np.uint8),
        ])
        parts.append(block.tobytes().translate(None, b"\x00"))
    return b"".join(parts)


def write_trades_csv(book: TradeBook, market: Market, path: str | Path) -> None:
    Path(path).write_bytes(format_trades_csv(book, market))


def validate_book(book: TradeBook, market: Market) -> None:
    """Check an in-memory book against reference data by round-tripping through the parser.

    Cheap enough for tests and generated data; raises :class:`TradeFileError` like a file would.
    """
    parse_trades_csv(format_trades_csv(book, market), market, source="<book>")
