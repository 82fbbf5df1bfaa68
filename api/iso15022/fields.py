"""Field grammar: each tag/option's content parsed into a typed value, and rendered back.

`parse_value(field)` returns a frozen dataclass (Date, Amount, Quantity, Security, Party, ...)
or raises `FieldFormatError` with the SWIFT code of the broken rule.  Regexes are compiled once
and the dispatch is a dict lookup: this is the codec's hot path.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Callable, NamedTuple, Union

from .codes import (
    ALL_FUNCTIONS,
    CURRENCY_DECIMALS,
    INDICATOR_CODES,
    INDICATOR_H_CODES,
    PAGE_INDICATORS,
    PRICE_TYPES,
    QUANTITY_TYPES,
    REASON_CODES,
    STATUS_CODES,
    SUBFUNCTIONS,
)
from .errors import FieldFormatError, Iso15022Warning
from .message import Field

_LINE_35X = re.compile(r"[a-zA-Z0-9/\-?:().,'+ ]{1,35}\Z")
_REF16 = re.compile(r"[a-zA-Z0-9/\-?:().,'+ ]{1,16}\Z")
_C4 = re.compile(r"[A-Z0-9]{4}\Z")
_D8 = re.compile(r"\d{8}\Z")
_D14 = re.compile(r"(\d{8})(\d{6})\Z")
_AMOUNT = re.compile(r"(N?)([A-Z]{3})([0-9,]+)\Z")
_NUMBER = re.compile(r"(\d+),(\d*)\Z")
_QTY = re.compile(r"([A-Z0-9]{4})/(N?)([0-9,]+)\Z")
_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?\Z")
_ISIN = re.compile(r"[A-Z]{2}[A-Z0-9]{9}[0-9]\Z")
_LOCAL_CODE = re.compile(r"/([A-Z]{2})/([A-Z0-9]{1,30})\Z")
_PROPRIETARY = re.compile(r"[a-zA-Z0-9/\-?:().,'+ ]{1,34}\Z")
_ISSUER8 = re.compile(r"[A-Z0-9]{1,8}\Z")
_FUNCTION = re.compile(r"([A-Z]{4})(?:/([A-Z]{4}))?\Z")
_PAGE = re.compile(r"(\d{1,5})/([A-Z]{4})\Z")
_PERIOD = re.compile(r"(\d{8})/(\d{8})\Z")
_PRICE = re.compile(r"([A-Z]{4})/([A-Z]{3})([0-9,]+)\Z")
_CURRENCY = re.compile(r"[A-Z]{3}\Z")

# --------------------------------------------------------------------------------------------
# Typed values


class Reference(NamedTuple):
    value: str


class Function(NamedTuple):
    function: str
    subfunction: str | None = None


class Code(NamedTuple):
    """22F/22H/25D/24B/13A/17B: a code, with the data source scheme when one is given."""

    code: str
    issuer: str = ""


class DateValue(NamedTuple):
    value: date


class DateTimeValue(NamedTuple):
    value: datetime


class Amount(NamedTuple):
    currency: str
    amount: Decimal  # signed: the N sign makes it negative


class Quantity(NamedTuple):
    kind: str  # UNIT (shares), FAMT (face amount), AMOR
    amount: Decimal  # signed for balances (93B N sign)


class Price(NamedTuple):
    kind: str  # ACTU ...
    currency: str
    amount: Decimal


class Security(NamedTuple):
    """35B: an ISIN and/or description lines; `/HK/700` in the first description line is a local
    (stock) code with its market."""

    isin: str | None
    description: tuple[str, ...] = ()

    @property
    def local_code(self) -> tuple[str, str] | None:
        if self.description:
            m = _LOCAL_CODE.match(self.description[0])
            if m is not None:
                return m.group(1), m.group(2)
        return None


class PartyValue(NamedTuple):
    """95P (bic), 95Q (name lines) or 95R (issuer + proprietary id, e.g. HKEX / B01234)."""

    bic: str | None = None
    issuer: str | None = None
    proprietary_id: str | None = None
    name: tuple[str, ...] = ()


class Account(NamedTuple):
    value: str


class Narrative(NamedTuple):
    lines: tuple[str, ...]


class Page(NamedTuple):
    number: int
    indicator: str


class Period(NamedTuple):
    start: date
    end: date


Value = Union[
    Reference, Function, Code, DateValue, DateTimeValue, Amount, Quantity, Price, Security,
    PartyValue, Account, Narrative, Page, Period, str,
]

# --------------------------------------------------------------------------------------------
# Element checks (shared)

_DATE_CACHE: dict[str, date] = {}


def _date(text: str, f: Field) -> date:
    d = _DATE_CACHE.get(text)
    if d is not None:
        return d
    if _D8.match(text) is None:
        raise FieldFormatError("T50", f"date {text!r} must be YYYYMMDD", f.label, f.line)
    try:
        d = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise FieldFormatError("T50", f"date {text!r} does not exist", f.label, f.line) from None
    if len(_DATE_CACHE) < 4096:
        _DATE_CACHE[text] = d
    return d


def _number(text: str, f: Field, what: str) -> tuple[str, str]:
    """`15d`: at least one integer digit, exactly one decimal comma, at most 15 characters."""
    if len(text) > 15:
        raise FieldFormatError("T43", f"{what} {text!r} longer than 15 characters", f.label, f.line)
    m = _NUMBER.match(text)
    if m is None:
        if "," not in text:
            raise FieldFormatError("T40", f"{what} {text!r} needs the decimal comma", f.label, f.line)
        if text.startswith(","):
            raise FieldFormatError("T43", f"{what} {text!r} needs an integer digit", f.label, f.line)
        raise FieldFormatError("T40", f"{what} {text!r} must have exactly one decimal comma", f.label, f.line)
    return m.group(1), m.group(2)


def _decimal(whole: str, frac: str) -> Decimal:
    return Decimal(f"{whole}.{frac}") if frac else Decimal(whole)


def _currency(ccy: str, f: Field) -> int:
    decimals = CURRENCY_DECIMALS.get(ccy)
    if decimals is None:
        raise FieldFormatError("T52", f"currency {ccy!r} is not ISO 4217", f.label, f.line)
    return decimals


def _need_generic(f: Field) -> None:
    if not f.generic:
        raise FieldFormatError("L10", f"field {f.tag} must be :QUAL/[issuer]/data", f.label, f.line)
    if f.issuer and _ISSUER8.match(f.issuer) is None:
        raise FieldFormatError("L10", "data source scheme is 1 to 8 characters A-Z 0-9", f.label, f.line)


def _no_issuer(f: Field) -> None:
    if f.issuer:
        raise FieldFormatError("L10", "no data source scheme allowed here", f.label, f.line)


def _plain(f: Field) -> None:
    """Generic field without a data source scheme (`:QUAL//data`): the common case, one test."""
    if not f.generic or f.issuer:
        _need_generic(f)
        _no_issuer(f)


def _lines(text: str, f: Field, max_lines: int) -> tuple[str, ...]:
    lines = tuple(text.split("\n"))
    if len(lines) > max_lines:
        raise FieldFormatError("L10", f"at most {max_lines} lines", f.label, f.line)
    for ln in lines:
        if _LINE_35X.match(ln) is None:
            raise FieldFormatError("L10", "each line is 1 to 35 characters of set X", f.label, f.line)
    return lines


def _single_line(f: Field) -> None:
    if "\n" in f.value:
        raise FieldFormatError("L10", "field must be one line", f.label, f.line)


def isin_check_digit_ok(isin: str) -> bool:
    """ISO 6166 check digit: letters to numbers (A=10), Luhn over the digit string."""
    digits = "".join(str(int(c, 36)) for c in isin[:11])
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return (10 - total % 10) % 10 == ord(isin[11]) - 48


def _check_isin(isin: str, f: Field) -> None:
    """Format only (12 characters: country letters, 9 alphanumerics, a digit), as the network
    checks it; the check digit is a warning (`isin_warning`)."""
    if _ISIN.match(isin) is None:
        if len(isin) != 12:
            raise FieldFormatError("L11", f"ISIN {isin!r} must be exactly 12 characters", f.label, f.line)
        raise FieldFormatError("L11", f"ISIN {isin!r} must be 2 letters, 9 letters or digits, 1 digit", f.label, f.line)


_ISIN_DIGIT_OK: dict[str, bool] = {}


def isin_warning(f: Field) -> Iso15022Warning | None:
    """W11 when a 35B's ISIN is well formed but its ISO 6166 check digit is wrong."""
    value = f.value
    if value[:5] != "ISIN ":
        return None
    isin = value[5:17]
    ok = _ISIN_DIGIT_OK.get(isin)
    if ok is None:
        ok = _ISIN.match(isin) is None or isin_check_digit_ok(isin)  # malformed: L11 already
        if len(_ISIN_DIGIT_OK) < 4096:
            _ISIN_DIGIT_OK[isin] = ok
    if ok:
        return None
    return Iso15022Warning("W11", f"ISIN {isin} check digit fails ISO 6166", f.label, f.line)


# --------------------------------------------------------------------------------------------
# Per tag/option parsers


def _p20c(f: Field) -> Reference:
    _plain(f)
    ref = f.data
    if _REF16.match(ref) is None:
        raise FieldFormatError("L10", "reference is 1 to 16 characters of set X", f.label, f.line)
    if ref[0] == "/" or ref[-1] == "/" or "//" in ref:
        what = "must not contain //" if "//" in ref else "must not start or end with /"
        raise FieldFormatError("T26", f"reference {what}", f.label, f.line)
    return Reference(ref)


def _p23g(f: Field) -> Function:
    m = _FUNCTION.match(f.value)
    if m is None:
        raise FieldFormatError("L10", "function is 4!c[/4!c]", f.label, f.line)
    if m.group(1) not in ALL_FUNCTIONS:
        raise FieldFormatError("K23", f"unknown function {m.group(1)!r}", f.label, f.line)
    sub = m.group(2)
    if sub is not None and sub not in SUBFUNCTIONS:
        raise FieldFormatError("K23", f"unknown subfunction {sub!r}", f.label, f.line)
    return Function(m.group(1), sub)


def _code_field(table: dict[str, frozenset[str]], error: str) -> Callable[[Field], Code]:
    def parse(f: Field) -> Code:
        _need_generic(f)
        code = f.data
        if _C4.match(code) is None:
            raise FieldFormatError("L10", "code must be 4 characters A-Z 0-9", f.label, f.line)
        if f.issuer:
            if _ISSUER8.match(f.issuer) is None:
                raise FieldFormatError("L10", "data source scheme is 1 to 8 characters", f.label, f.line)
            return Code(code, f.issuer)  # proprietary scheme: the scheme owner defines the codes
        allowed = table.get(f.qualifier)
        if allowed is not None and code not in allowed:
            raise FieldFormatError(error, f"unknown code {code!r} for {f.qualifier}", f.label, f.line)
        return Code(code)

    return parse


_p22f = _code_field(INDICATOR_CODES, "K22")
_p22h_inner = _code_field(INDICATOR_H_CODES, "K22")
_p25d = _code_field(STATUS_CODES, "K25")
_p24b = _code_field(REASON_CODES, "K24")


def _p22h(f: Field) -> Code:
    _plain(f)
    return _p22h_inner(f)


def _p13a(f: Field) -> Code:
    _plain(f)
    if len(f.data) != 3 or not f.data.isalnum():
        raise FieldFormatError("L10", "link type is 3 characters, e.g. 541", f.label, f.line)
    return Code(f.data)


def _p17b(f: Field) -> Code:
    _plain(f)
    if f.data not in ("Y", "N"):
        raise FieldFormatError("L10", "flag must be Y or N", f.label, f.line)
    return Code(f.data)


def _p98a(f: Field) -> DateValue:
    _plain(f)
    return DateValue(_date(f.data, f))


def _p98c(f: Field) -> DateTimeValue:
    _plain(f)
    return _datetime14(f.data, f)


def _datetime14(text: str, f: Field) -> DateTimeValue:
    m = _D14.match(text)
    if m is None:
        raise FieldFormatError("T50", "date and time must be YYYYMMDDHHMMSS", f.label, f.line)
    d = _date(m.group(1), f)
    t = m.group(2)
    hh, mm, ss = int(t[:2]), int(t[2:4]), int(t[4:])
    if hh > 23 or mm > 59 or ss > 59:
        raise FieldFormatError("T38", f"time {t!r} must be HHMMSS", f.label, f.line)
    return DateTimeValue(datetime(d.year, d.month, d.day, hh, mm, ss))


def _p19a(f: Field) -> Amount:
    _plain(f)
    m = _AMOUNT.match(f.data)
    if m is None:
        raise FieldFormatError("L10", "amount is [N]<currency><15d>, e.g. HKD384000,", f.label, f.line)
    sign, ccy, number = m.groups()
    decimals = _currency(ccy, f)
    whole, frac = _number(number, f, "amount")
    if len(frac) > decimals:
        raise FieldFormatError("C03", f"{ccy} allows {decimals} decimals, got {len(frac)}", f.label, f.line)
    value = _decimal(whole, frac)
    if sign:
        if not value:
            raise FieldFormatError("T14", "a zero amount must not carry the N sign", f.label, f.line)
        value = -value
    return Amount(ccy, value)


def _quantity(f: Field, allow_sign: bool) -> Quantity:
    m = _QTY.match(f.data)
    if m is None:
        raise FieldFormatError("L10", "quantity is <type>/<15d>, e.g. UNIT/1000,", f.label, f.line)
    kind, sign, number = m.groups()
    if kind not in QUANTITY_TYPES:
        raise FieldFormatError("K36", f"unknown quantity type {kind!r}", f.label, f.line)
    if sign and not allow_sign:
        raise FieldFormatError("L10", "quantity must not be signed", f.label, f.line)
    whole, frac = _number(number, f, "quantity")
    value = _decimal(whole, frac)
    if sign:
        if not value:
            raise FieldFormatError("T14", "a zero quantity must not carry the N sign", f.label, f.line)
        value = -value
    return Quantity(kind, value)


def _p36b(f: Field) -> Quantity:
    _plain(f)
    return _quantity(f, allow_sign=False)


def _p93b(f: Field) -> Quantity:
    _need_generic(f)
    return _quantity(f, allow_sign=True)


def _p90b(f: Field) -> Price:
    _plain(f)
    m = _PRICE.match(f.data)
    if m is None:
        raise FieldFormatError("L10", "price is <type>/<currency><15d>", f.label, f.line)
    kind, ccy, number = m.groups()
    if kind not in PRICE_TYPES:
        raise FieldFormatError("K90", f"unknown price type {kind!r}", f.label, f.line)
    _currency(ccy, f)
    whole, frac = _number(number, f, "price")
    return Price(kind, ccy, _decimal(whole, frac))


def _p35b(f: Field) -> Security:
    lines = f.value.split("\n")
    isin: str | None = None
    if lines[0][:4] == "ISIN":
        first = lines.pop(0)
        if first[4:5] != " ":
            raise FieldFormatError("L10", "write 'ISIN' then a space then the ISIN", f.label, f.line)
        isin = first[5:]
        _check_isin(isin, f)
    if not lines and isin is None:
        raise FieldFormatError("L10", "give an ISIN or a description", f.label, f.line)
    if len(lines) > 4:
        raise FieldFormatError("L10", "at most 4 description lines", f.label, f.line)
    for ln in lines:
        if _LINE_35X.match(ln) is None:
            raise FieldFormatError("L10", "description lines are 1 to 35 characters of set X", f.label, f.line)
    return Security(isin, tuple(lines))


def _p95p(f: Field) -> PartyValue:
    _plain(f)
    if _BIC.match(f.data) is None:
        raise FieldFormatError("L10", f"BIC {f.data!r} must be 8 or 11 characters", f.label, f.line)
    return PartyValue(bic=f.data)


def _p95q(f: Field) -> PartyValue:
    _plain(f)
    return PartyValue(name=_lines(f.data, f, 4))


def _p95r(f: Field) -> PartyValue:
    _need_generic(f)
    _single_line(f)
    if not f.issuer:
        raise FieldFormatError("L10", "95R needs a data source scheme, e.g. :95R::DEAG/HKEX/B01234", f.label, f.line)
    if _PROPRIETARY.match(f.data) is None:
        raise FieldFormatError("L10", "proprietary code is 1 to 34 characters of set X", f.label, f.line)
    return PartyValue(issuer=f.issuer, proprietary_id=f.data)


def _p97a(f: Field) -> Account:
    _plain(f)
    _single_line(f)
    if not f.data or len(f.data) > 35:
        raise FieldFormatError("L10", "account is 1 to 35 characters", f.label, f.line)
    return Account(f.data)


def _narrative(max_lines: int) -> Callable[[Field], Narrative]:
    def parse(f: Field) -> Narrative:
        _need_generic(f)
        _no_issuer(f)
        return Narrative(_lines(f.data, f, max_lines))

    return parse


def _p28e(f: Field) -> Page:
    m = _PAGE.match(f.value)
    if m is None or m.group(2) not in PAGE_INDICATORS:
        raise FieldFormatError("L10", "page is <number>/ONLY|LAST|MORE", f.label, f.line)
    return Page(int(m.group(1)), m.group(2))


def _p69a(f: Field) -> Period:
    _plain(f)
    m = _PERIOD.match(f.data)
    if m is None:
        raise FieldFormatError("T50", "period is YYYYMMDD/YYYYMMDD", f.label, f.line)
    return Period(_date(m.group(1), f), _date(m.group(2), f))


def _p11a(f: Field) -> Code:
    _plain(f)
    if _CURRENCY.match(f.data) is None:
        raise FieldFormatError("L10", "currency is 3 letters", f.label, f.line)
    _currency(f.data, f)
    return Code(f.data)


_X = r"[a-zA-Z0-9/\-?:().,'+ ]"
_BIC_RE = r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?"
_D15 = r"\d[\d,]{0,14}"  # 15d: an integer digit first; the comma itself is checked by _number


def _shaped(pattern: str, what: str, scheme: str = "none") -> Callable[[Field], str]:
    """A generic field whose data must match `pattern` (written as the handbook's format).
    `scheme`: "none" (`:QUAL//data`), "optional" (`:QUAL/[8c]/data`) or "required" (`/8c/`)."""
    rx = re.compile(pattern + r"\Z")

    def parse(f: Field) -> str:
        _need_generic(f)
        if scheme == "none":
            _no_issuer(f)
        elif scheme == "required" and not f.issuer:
            raise FieldFormatError("L10", f"{f.tag} needs a data source scheme", f.label, f.line)
        if rx.match(f.data) is None:
            raise FieldFormatError("L10", f"{f.tag} is {what}", f.label, f.line)
        return f.data

    return parse


def _numbers_in(parse: Callable[[Field], str], groups: re.Pattern[str]) -> Callable[[Field], str]:
    """Also check every 15d number of the field has one decimal comma (T40/T43)."""

    def check(f: Field) -> str:
        data = parse(f)
        for number in groups.findall(data):
            _number(number, f, "number")
        return data

    return check


def _p98e(f: Field) -> DateTimeValue:
    _plain(f)
    m = _D98E.match(f.data)
    if m is None:
        raise FieldFormatError("T50", "date and time must be YYYYMMDDHHMMSS[,nnn][/[N]HH[MM]]", f.label, f.line)
    return _datetime14(m.group(1), f)


_D98E = re.compile(r"(\d{14})(?:,\d{1,3})?(?:/N?\d{2}(?:\d{2})?)?\Z")
_NUMS = re.compile(r"\d[\d,]*,[\d]*|\d+(?=\Z)")

_EXTRA_PARSERS: dict[str, Callable[[Field], object]] = {
    "98E": _p98e,
    "98B": _shaped(r"[A-Z0-9]{4}", "a date code: 4!c", "optional"),
    "69B": _shaped(r"\d{8}\d{6}/\d{8}\d{6}", "a period YYYYMMDDHHMMSS/YYYYMMDDHHMMSS"),
    "69C": _shaped(r"\d{8}\d{6}/[A-Z0-9]{4}", "a date-time and a code"),
    "69D": _shaped(r"[A-Z0-9]{4}/\d{8}\d{6}", "a code and a date-time"),
    "90A": _numbers_in(_shaped(r"[A-Z0-9]{4}/N?" + _D15, "a percentage price: 4!c/[N]15d"), _NUMS),
    "97B": _shaped(r"[A-Z0-9]{4}/" + _X + r"{1,35}", "an account type and number: 4!c/35x", "optional"),
    "97E": _shaped(r"[A-Z0-9]{1,34}", "an IBAN: 34x"),
    "95C": _shaped(r"[A-Z]{2}", "a country code: 2!a"),
    "95L": _shaped(r"[A-Z0-9]{18}\d{2}", "an LEI: 18!c2!n"),
    "95S": _shaped(r"[A-Z0-9]{4}/[A-Z]{2}/" + _X + r"{1,30}", "an alternate id: 4!c/2!a/30x", "optional"),
    "94B": _shaped(r"[A-Z0-9]{4}(?:/" + _X + r"{1,30})?", "a place code: 4!c[/30x]", "optional"),
    "94C": _shaped(r"[A-Z]{2}", "a country code: 2!a"),
    "94F": _shaped(r"[A-Z0-9]{4}/" + _BIC_RE, "a place code and BIC: 4!c/BIC"),
    "94H": _shaped(_BIC_RE, "a BIC"),
    "94L": _shaped(r"[A-Z0-9]{18}\d{2}", "an LEI: 18!c2!n"),
    "92A": _numbers_in(_shaped(r"N?" + _D15, "a rate: [N]15d"), _NUMS),
    "92B": _numbers_in(_shaped(r"[A-Z]{3}/[A-Z]{3}/" + _D15, "an exchange rate: 3!a/3!a/15d"), _NUMS),
    "92C": _shaped(_X + r"{1,24}", "a rate name: 24x", "optional"),
    "99A": _shaped(r"N?\d{3}", "a number: [N]3!n"),
    "99B": _shaped(r"\d{3}", "a number: 3!n"),
    "12A": _shaped(_X + r"{1,30}", "an instrument code or description: 30x", "optional"),
    "12B": _shaped(r"[A-Z0-9]{4}", "an instrument type code: 4!c", "optional"),
    "12C": _shaped(r"[A-Z]{6}", "a CFI code: 6!c"),
    "13B": _shaped(_X + r"{1,30}", "a number: 30x", "optional"),
    "93C": _numbers_in(_shaped(r"[A-Z0-9]{4}/[A-Z0-9]{4}/N?" + _D15, "a balance: 4!c/4!c/[N]15d"), _NUMS),
    "70C": _narrative(4),
}


PARSERS: dict[str, Callable[[Field], Value]] = {
    "11A": _p11a,
    "13A": _p13a,
    "17B": _p17b,
    "19A": _p19a,
    "20C": _p20c,
    "22F": _p22f,
    "22H": _p22h,
    "23G": _p23g,
    "24B": _p24b,
    "25D": _p25d,
    "28E": _p28e,
    "35B": _p35b,
    "36B": _p36b,
    "69A": _p69a,
    "70D": _narrative(6),
    "70E": _narrative(10),
    "90B": _p90b,
    "93B": _p93b,
    "95P": _p95p,
    "95Q": _p95q,
    "95R": _p95r,
    "97A": _p97a,
    "98A": _p98a,
    "98C": _p98c,
}


def parse_value(f: Field) -> Value:
    """The typed value of a field; raises FieldFormatError (with its SWIFT code) if malformed."""
    parser = PARSERS.get(f.tag)
    if parser is None:
        raise FieldFormatError("L08", f"field {f.tag} is not supported", f.label, f.line)
    return parser(f)


# --------------------------------------------------------------------------------------------
# Rendering typed values back to field content (used by the builders)


def format_decimal(value: Decimal) -> str:
    """15d: integer part, decimal comma, fraction without trailing zeros (`1000,` / `75,5`)."""
    value = abs(value)
    text = format(value, "f")
    if "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0")
    else:
        whole, frac = text, ""
    return f"{whole},{frac}"


def format_amount(currency: str, amount: Decimal) -> str:
    sign = "N" if amount < 0 else ""
    return f"{sign}{currency}{format_decimal(amount)}"


def format_quantity(kind: str, amount: Decimal) -> str:
    sign = "N" if amount < 0 else ""
    return f"{kind}/{sign}{format_decimal(amount)}"


def format_date(value: date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"  # strftime does not pad years < 1000


def format_datetime(value: datetime) -> str:
    return f"{format_date(value)}{value.hour:02d}{value.minute:02d}{value.second:02d}"


# --------------------------------------------------------------------------------------------
# Validation-only checkers for the fields that are unique in every message (reference, quantity,
# amount), so the validator's cache of known-good values cannot help them: one regex, no value
# objects.  On any doubt they defer to the full parser, which raises the precise error.

_AMOUNT_OK = re.compile(r"(N?)([A-Z]{3})(\d+),(\d*)\Z")
_QTY_OK = re.compile(r"([A-Z0-9]{4})/(\d+),(\d*)\Z")


def _c20c(f: Field) -> None:
    ref = f.data
    if f.generic and not f.issuer and _REF16.match(ref) is not None and ref[0] != "/" and ref[-1] != "/" and "//" not in ref:
        return
    _p20c(f)


def _c19a(f: Field) -> None:
    if f.generic and not f.issuer and len(f.data) <= 19:
        m = _AMOUNT_OK.match(f.data)
        if m is not None:
            sign, ccy, whole, frac = m.groups()
            decimals = CURRENCY_DECIMALS.get(ccy)
            if decimals is not None and len(frac) <= decimals and len(whole) + len(frac) < 15:
                if not sign or whole.strip("0") or frac.strip("0"):
                    return
    _p19a(f)


def _c36b(f: Field) -> None:
    if f.generic and not f.issuer:
        m = _QTY_OK.match(f.data)
        if m is not None:
            kind, whole, frac = m.groups()
            if kind in QUANTITY_TYPES and len(whole) + len(frac) < 15:
                return
    _p36b(f)


CHECKERS: dict[str, Callable[[Field], object]] = {
    **_EXTRA_PARSERS, **PARSERS, "20C": _c20c, "19A": _c19a, "36B": _c36b,
}
