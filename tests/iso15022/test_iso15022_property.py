"""Property tests (hypothesis): generated valid messages round-trip exactly and validate clean;
mutated and random inputs never raise anything but Iso15022Error (the fuzz part)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Callable, Literal

from iso15022_golden import golden_names, golden_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.iso15022 import (
    Envelope,
    Holding,
    HoldingsStatement,
    confirmation_for,
    Iso15022Error,
    Party,
    SecurityId,
    SettlementInstruction,
    Status,
    StatusAdvice,
    StatusReason,
    build,
    build_model,
    decode,
    narrative_lines,
    parse,
    read,
    split_messages,
    validate,
)
from api.iso15022.codes import REASON_CODES, STATUS_CODES
from api.iso15022.fields import CHECKERS, PARSERS
from api.iso15022.message import Field, Message

FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

X_LINE = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz0123456789-?:().,'+ ", min_size=1, max_size=35).filter(
    lambda s: s.strip() != "" and not s.startswith(":") and not s.startswith("-")
)
# Cheap strategies (no from_regex): these run hundreds of times per test.
REF = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-", min_size=1, max_size=16).filter(
    lambda s: s[0] != "/" and s[-1] != "/" and "//" not in s
)
DATES = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
ISINS = st.sampled_from(["HK0000069689", "HK0388045442", "HK0941009539", "HK0016000132", "HK0002007356", None])
STOCK = st.one_of(st.none(), st.integers(1, 99999).map(str))
PARTICIPANT = st.integers(0, 99999).map(lambda n: f"B{n:05d}")
BIC = st.sampled_from(["BROKHKHH", "CUSTHKHHXXX", "HSBCHKHHHKH", "BKCHHKHH", "SCBLHKHHXXX", "DBSSHKHH"])
CCY = st.sampled_from(["HKD", "CNY", "USD"])
CENTS = st.integers(0, 10**12).map(lambda c: Decimal(c).scaleb(-2).normalize() if c else Decimal(0))


@st.composite
def securities(draw: st.DrawFn) -> SecurityId:
    isin = draw(ISINS)
    code = draw(STOCK)
    desc = tuple(draw(st.lists(X_LINE.filter(lambda s: not s.startswith("/") and not s.startswith("ISIN")), max_size=4 - (1 if code else 0))))
    if isin is None and code is None and not desc:
        code = "700"
    return SecurityId(isin=isin, stock_code=code, description=desc)


@st.composite
def parties(draw: st.DrawFn, role: str) -> Party:
    kind = draw(st.sampled_from(["pid", "bic", "name"]))
    account = draw(st.one_of(st.none(), PARTICIPANT.map(lambda p: p + "-001")))
    if kind == "pid":
        return Party(role, participant_id=draw(PARTICIPANT), scheme="HKEX", account=account)
    if kind == "bic":
        return Party(role, bic=draw(BIC), account=account)
    return Party(role, name=tuple(draw(st.lists(X_LINE, min_size=1, max_size=4))), account=account)


@st.composite
def instructions(draw: st.DrawFn) -> SettlementInstruction:
    mt = draw(st.sampled_from([540, 541, 542, 543]))
    function: Literal["NEWM", "CANC"] = draw(st.sampled_from(["NEWM", "CANC"]))
    against_payment = mt in (541, 543)
    currency = draw(CCY) if against_payment else None
    amount = draw(CENTS) if against_payment else None
    return SettlementInstruction(
        mt=mt,
        sender_reference=draw(REF),
        function=function,
        settlement_date=draw(DATES),
        security=draw(securities()),
        quantity=Decimal(draw(st.integers(0, 10**13))),
        safekeeping_account=draw(PARTICIPANT) + "-" + f"{draw(st.integers(0, 999)):03d}",
        counterparty=draw(parties("DEAG" if mt in (540, 541) else "REAG")),
        place_of_settlement=Party("PSET", bic="XHKCHKH1"),
        trade_date=draw(st.one_of(st.none(), DATES)),
        settlement_amount=amount,
        currency=currency,
        settlement_type=draw(st.sampled_from(["TRAD", "OWNI", "OWNE"])),
        partial_settlement=draw(st.sampled_from([None, "PART", "NPAR"])),
        previous_reference=draw(REF) if function == "CANC" else None,
        envelope=Envelope(
            sender=draw(BIC.map(lambda b: (b[:8] + "A" + (b[8:] or "XXX")))),
            receiver="XHKCHKH1XXXX",
            session=f"{draw(st.integers(0, 9999)):04d}",
            sequence=f"{draw(st.integers(0, 999999)):06d}",
            user_reference=draw(st.one_of(st.none(), REF)),
        ),
    )


STATUS_PAIRS = [(q, c) for q, codes in STATUS_CODES.items() for c in sorted(codes)]


@st.composite
def advices(draw: st.DrawFn) -> StatusAdvice:
    statuses = []
    for _ in range(draw(st.integers(1, 3))):
        q, c = draw(st.sampled_from(STATUS_PAIRS))
        reasons: tuple[StatusReason, ...] = ()
        if c in REASON_CODES:
            codes = sorted(REASON_CODES[c])
            reasons = tuple(
                StatusReason(draw(st.sampled_from(codes)), narrative_lines(draw(st.text(max_size=120))))
                for _ in range(draw(st.integers(0, 2)))
            )
        statuses.append(Status(q, c, reasons))
    return StatusAdvice(
        sender_reference=draw(REF),
        related_reference=draw(REF),
        statuses=tuple(statuses),
        function=draw(st.sampled_from(["INST", "CAST"])),
        related_mt=draw(st.sampled_from([None, "540", "541", "542", "543"])),
    )


@FAST
@given(instructions())
def test_generated_instructions_round_trip_and_validate(model: SettlementInstruction) -> None:
    text = build_model(model)
    assert validate(text) == []
    assert build(parse(text)) == text
    assert build(parse(text.replace("\r\n", "\n"))) == text  # bare LF in, CRLF out
    assert read(text) == model


@FAST
@given(instructions(), REF, DATES)
def test_confirmations_of_generated_instructions_are_valid(
    instruction: SettlementInstruction, reference: str, settled_on: date
) -> None:
    conf = confirmation_for(instruction, reference, settled_on)
    text = build_model(conf)
    assert validate(text) == []
    assert build(parse(text)) == text
    assert read(text) == conf


@st.composite
def holdings(draw: st.DrawFn) -> HoldingsStatement:
    rows = []
    for _ in range(draw(st.integers(0, 4))):
        qty = Decimal(draw(st.integers(0, 10**12)))
        priced = draw(st.booleans())
        rows.append(
            Holding(
                security=draw(securities()),
                quantity=qty,
                available=draw(st.one_of(st.none(), st.just(qty))),
                price=draw(CENTS) if priced else None,
                price_currency="HKD" if priced else None,
                value=draw(CENTS) if priced else None,
                value_currency="HKD" if priced else None,
            )
        )
    return HoldingsStatement(draw(REF), draw(DATES), draw(PARTICIPANT) + "-001", tuple(rows))


@FAST
@given(holdings())
def test_generated_535s_round_trip_and_validate(model: HoldingsStatement) -> None:
    text = build_model(model)
    assert validate(text) == []
    assert build(parse(text)) == text
    assert read(text) == model


@FAST
@given(advices())
def test_generated_548s_round_trip_and_validate(model: StatusAdvice) -> None:
    text = build_model(model)
    assert validate(text) == []
    assert build(parse(text)) == text
    assert decode(parse(text)) == model


GOLDEN = [golden_text(n) for n in golden_names()]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A golden message with a few random edits: insert, delete, replace, duplicate a slice."""
    text = draw(st.sampled_from(GOLDEN))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "dup", "truncate"]))
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 40)))
        junk = draw(st.text(alphabet=st.sampled_from(list(":/{}-\r\n16RS ABC0,N") + ["\x00", "é"]), max_size=8))
        if op == "insert":
            text = text[:i] + junk + text[i:]
        elif op == "delete":
            text = text[:i] + text[j:]
        elif op == "replace":
            text = text[:i] + junk + text[j:]
        elif op == "dup":
            text = text[:j] + text[i:j] + text[j:]
        else:
            text = text[:i]
    return text


def _never_crashes(text: str) -> None:
    errors = validate(text)
    assert isinstance(errors, list) and all(isinstance(e, Iso15022Error) for e in errors)
    for e in errors:
        assert e.code and isinstance(e.line, int) and str(e)
    try:
        m = parse(text)
    except Iso15022Error:
        return
    try:
        decode(m)
    except Iso15022Error:
        pass
    build(m)  # whatever parsed can be rendered again
    if not errors:
        assert build(parse(build(m))) == build(m)


@settings(max_examples=150, deadline=None)
@given(mutated())
def test_fuzz_mutated_golden_messages(text: str) -> None:
    _never_crashes(text)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_random_text(text: str) -> None:
    _never_crashes(text)
    assert isinstance(split_messages(text), list)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["{1:F01BROKHKHHAXXX0001000123}", "{2:I541XHKCHKH1XXXXN}", "{3:{108:X}}", "{4:\r\n", "\r\n-}",
             "{5:{CHK:ABC}}", ":16R:GENL\r\n", ":16S:GENL\r\n", ":20C::SEME//A\r\n", ":98A::SETT//20250101\r\n",
             ":35B:ISIN HK0000069689\r\n", ":19A::SETT//HKD1,\r\n", "\r\n", "}", "{", ":", "//"]
        ),
        max_size=25,
    ).map("".join)
)
def test_fuzz_structured_garbage(text: str) -> None:
    _never_crashes(text)


@settings(max_examples=150, deadline=None)
@given(mutated())
def test_fast_and_general_parse_paths_agree(text: str) -> None:
    """A leading space forces the general (diagnostic) path; both must accept the same messages
    and build the same tree."""
    outcomes: list[Message | str] = []
    for variant in (text, " " + text):
        try:
            outcomes.append(parse(variant))
        except Iso15022Error as exc:
            outcomes.append(exc.code)
    fast, general = outcomes
    if isinstance(fast, str) or isinstance(general, str):
        assert isinstance(fast, str) and isinstance(general, str)
    else:
        assert fast == general


def _outcome(fn: Callable[[Field], object], f: Field) -> str | None:
    try:
        fn(f)
    except Iso15022Error as exc:
        return exc.code
    return None


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["19A", "36B", "20C"]),
    st.one_of(
        st.text(alphabet="NHKDCYUSXJPW0123456789,/UNITFAMOR-", max_size=22),
        st.from_regex(r"N?(HKD|CNY|JPY|KWD|XYZ)0?[0-9]{0,15},?[0-9]{0,4}", fullmatch=True),
        st.from_regex(r"(UNIT|FAMT|AMOR|XXXX)/N?[0-9]{0,16},?[0-9]{0,3}", fullmatch=True),
        st.from_regex(r"/?[A-Z0-9]{0,9}/{0,2}[A-Z0-9-]{0,9}/?", fullmatch=True),
    ),
    st.sampled_from(["", "HKEX"]),
)
def test_fast_validation_checkers_agree_with_parsers(tag: str, data: str, issuer: str) -> None:
    """The validator's shortcut checkers accept exactly what the full parsers accept."""
    f = Field(tag, f":SETT/{issuer}/{data}", 1, "SETT", issuer, data, True)
    assert _outcome(CHECKERS[tag], f) == _outcome(PARSERS[tag], f)
