"""Typed models: decoding golden messages into what the settlement mapper needs, and builders
producing the golden outbound messages and a valid 548 for every status/reason we use."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from iso15022_golden import golden_names, golden_text

from api.iso15022 import (
    Envelope,
    HoldingsStatement,
    ModelError,
    Party,
    ProcessingCommand,
    SecurityId,
    SettlementConfirmation,
    SettlementInstruction,
    Status,
    StatusAdvice,
    StatusReason,
    TransactionDetails,
    TransactionStatement,
    build_548,
    build_model,
    confirmation_for,
    decode,
    narrative_lines,
    parse,
    read,
    status_advice,
    validate,
)
from api.iso15022.decode import InvalidMessage


def test_mt541_decodes_to_a_settlement_leg() -> None:
    m = read(golden_text("mt541_newm"))
    assert isinstance(m, SettlementInstruction)
    assert (m.mt, m.sender_reference, m.function) == (541, "B01234REF000001", "NEWM")
    assert (m.direction, m.payment) == ("RECE", "APMT")
    assert (m.trade_date, m.settlement_date) == (date(2025, 1, 6), date(2025, 1, 8))
    assert m.security == SecurityId("HK0000069689", "1299", "HK", ("AIA GROUP LTD",))
    assert (m.quantity, m.quantity_type) == (Decimal("5000"), "UNIT")
    assert m.safekeeping_account == "B01234-001"
    assert m.counterparty == Party("DEAG", participant_id="B05678", scheme="HKEX", account="B05678-002")
    assert m.counterparty.identifier == "B05678"
    assert m.place_of_settlement == Party("PSET", bic="XHKCHKH1")
    assert (m.settlement_amount, m.currency) == (Decimal("384000"), "HKD")
    assert m.partial_settlement == "PART"
    assert m.deal_price == Decimal("76.8")
    assert m.other_parties == (Party("REAG", participant_id="B01234", scheme="HKEX"),)
    assert m.preparation == datetime(2025, 1, 6, 9, 30)
    assert m.envelope.sender == "BROKHKHHAXXX" and m.envelope.user_reference == "B01234REF000001"


def test_mt543_with_stock_code_only_and_cancel() -> None:
    m = read(golden_text("mt543_newm"))
    assert isinstance(m, SettlementInstruction)
    assert (m.direction, m.payment) == ("DELI", "APMT")
    assert m.security.isin is None and m.security.stock_code == "700"
    assert m.counterparty.role == "REAG" and m.settlement_amount == Decimal("384000.5")
    cancel = read(golden_text("mt541_canc"))
    assert isinstance(cancel, SettlementInstruction)
    assert cancel.is_cancel and cancel.previous_reference == "B01234REF000001"


def test_free_of_payment_instructions() -> None:
    m540 = read(golden_text("mt540_newm"))
    m542 = read(golden_text("mt542_newm"))
    assert isinstance(m540, SettlementInstruction) and isinstance(m542, SettlementInstruction)
    assert (m540.payment, m540.direction, m540.settlement_amount) == ("FREE", "RECE", None)
    assert m540.counterparty.bic == "CUSTHKHHXXX"
    assert m542.counterparty.name == ("BROKER ONE SECURITIES LTD", "HONG KONG")


def test_mt530_hold_release_partial() -> None:
    m = read(golden_text("mt530_hold"))
    assert isinstance(m, ProcessingCommand)
    assert [(r.related_reference, r.hold, r.partial_settlement) for r in m.requests] == [
        ("B01234REF000001", True, None),
        ("B01234REF000003", False, "NPAR"),
    ]


def test_mt548_pending_with_reason_and_details() -> None:
    m = read(golden_text("mt548_pend"))
    assert isinstance(m, StatusAdvice)
    assert m.related_reference == "B05678DLV0042" and m.related_mt == "543"
    assert m.status == Status(
        "SETT", "PEND", (StatusReason("LACK", ("LACK OF SECURITIES IN B05678-002", "SHORT 400 UNITS /HK/700")),)
    )
    assert m.transaction is not None
    assert (m.transaction.direction, m.transaction.payment) == ("DELI", "APMT")


def test_statements_decode() -> None:
    h = read(golden_text("mt535_holdings"))
    assert isinstance(h, HoldingsStatement)
    assert [(x.security.stock_code, x.quantity, x.available) for x in h.holdings] == [
        ("1299", Decimal(5000), Decimal(4000)),
        ("5", Decimal(800), None),
    ]
    t = read(golden_text("mt536_transactions"))
    assert isinstance(t, TransactionStatement)
    (sec,) = t.securities
    assert (sec.opening, sec.closing) == (Decimal(0), Decimal(5000))
    assert sec.transactions[0].related_reference == "B01234REF000001"


@pytest.mark.parametrize("name", [n for n in golden_names() if n != "mt541_newm"])
def test_builders_reproduce_golden_messages(name: str) -> None:
    text = golden_text(name)
    assert build_model(read(text)) == text


def test_mt541_rebuild_differs_only_by_trailer() -> None:
    text = golden_text("mt541_newm")
    assert build_model(read(text)) == text.replace("{5:{CHK:3A5B9C0D1E2F}}", "")


def test_confirmation_for_instruction_builds_the_golden_545() -> None:
    instr = read(golden_text("mt541_newm"))
    assert isinstance(instr, SettlementInstruction)
    conf = confirmation_for(instr, "HKSCC0000000001", date(2025, 1, 8))
    assert conf.mt == 545 and conf.related_reference == instr.sender_reference
    text = build_model(conf)
    assert validate(text) == []
    assert text.startswith("{1:F01XHKCHKH1XXXX0000000000}{2:I545BROKHKHHAXXXN}{4:")
    again = decode(parse(text))
    assert isinstance(again, SettlementConfirmation) and again.quantity == Decimal(5000)


# Every status/reason pair the gateway sends (spec, "Status and reason codes").
STATUS_CASES = [
    ("IPRC//PACK", None),
    ("IPRC//CAND", None),
    ("MTCH//MACH", None),
    *[("IPRC//REJT", r) for r in ("DSEC", "SAFE", "REFE", "DDAT", "OTHR", "LATE")],
    *[("MTCH//NMAT", r) for r in ("CMIS", "DDAT", "DDEA", "DMON", "DQUA", "DEPT")],
    *[("SETT//PEND", r) for r in ("LACK", "MONY", "CLAC", "CMON", "BLOC", "CYCL", "FUTU")],
    *[("SETT//PENF", r) for r in ("LACK", "MONY", "CLAC", "CMON", "BLOC", "CYCL")],
]


@pytest.mark.parametrize(("status", "reason"), STATUS_CASES)
def test_548_for_every_status_and_reason(status: str, reason: str | None) -> None:
    narrative = "UNKNOWN SECURITY /HK/9999 (NOT IN CCASS)" if reason else ""
    advice = status_advice("HKSCC0000000042", "B01234REF000001", status, reason, narrative, related_mt="541")
    text = build_548(advice)
    assert validate(text) == []
    qualifier, code = status.split("//")
    assert f":25D::{qualifier}//{code}\r\n" in text
    if reason:
        assert f":24B::{code}//{reason}\r\n" in text
        assert ":70D::REAS//UNKNOWN SECURITY /HK/9999 (NOT IN C\r\nCASS)\r\n" in text
    assert decode(parse(text)) == advice


def test_rejection_narrative_names_the_offending_field() -> None:
    bad = golden_text("mt541_newm").replace("UNIT/5000,", "UNIT/5000")
    (err,) = validate(bad)
    advice = status_advice("HKSCC0000000043", "B01234REF000001", "IPRC//REJT", "OTHR", f"INVALID FORMAT {err}")
    text = build_548(advice)
    assert validate(text) == []
    assert ":70D::REAS//INVALID FORMAT T40 line 16 :36B::SE\r\nTT// quantity '5000' needs the deci" in text


def test_548_with_settlement_details_and_e83() -> None:
    details = TransactionDetails(
        security=SecurityId(stock_code="700"),
        quantity=Decimal(1000),
        safekeeping_account="B05678-002",
        settlement_date=date(2025, 1, 8),
        direction="DELI",
        payment="APMT",
        settlement_amount=Decimal("384000.5"),
        currency="HKD",
    )
    advice = StatusAdvice("HKSCC1", "B05678DLV0042", (Status("SETT", "PENF", (StatusReason("CYCL"),)),), transaction=details)
    text = build_548(advice)
    assert validate(text) == [] and decode(parse(text)) == advice
    with pytest.raises(ModelError) as info:
        build_548(StatusAdvice("HKSCC1", "R1", (Status("IPRC", "PACK"),), transaction=TransactionDetails(
            details.security, details.quantity, details.safekeeping_account, details.settlement_date, "DELI", "APMT")))
    assert info.value.code == "E83"


@pytest.mark.parametrize(
    ("advice", "code"),
    [
        (StatusAdvice("H1", "R1", (Status("IPRC", "OKAY"),)), "K25"),
        (StatusAdvice("H1", "R1", (Status("SETT", "PEND", (StatusReason("CMIS"),)),)), "K24"),
        (StatusAdvice("H1", "R1", (Status("SETT", "PEND", (StatusReason("LACK", ("x" * 36,)),)),)), "L10"),
        (StatusAdvice("H1", "R1", ()), "L07"),
    ],
)
def test_builders_refuse_invalid_models(advice: StatusAdvice, code: str) -> None:
    with pytest.raises(ModelError) as info:
        build_548(advice)
    assert info.value.code == code


def test_builder_refuses_amount_with_too_many_decimals_and_545_without_amount() -> None:
    instr = read(golden_text("mt541_newm"))
    assert isinstance(instr, SettlementInstruction)
    with pytest.raises(ModelError) as info:
        build_model(confirmation_for(instr, "H1", date(2025, 1, 8), amount=Decimal("1.005")))
    assert info.value.code == "C03"
    conf = confirmation_for(instr, "H1", date(2025, 1, 8))
    from dataclasses import replace

    with pytest.raises(ModelError) as info:
        build_model(replace(conf, settled_amount=None))
    assert info.value.code == "E92"


def test_narrative_lines_are_always_valid() -> None:
    assert narrative_lines("   ") == ()
    lines = narrative_lines("bad chars {} _ ! and a very long text " * 20)
    assert 1 <= len(lines) <= 6 and all(1 <= len(ln) <= 35 for ln in lines)
    assert all(ch not in "{}_!" for ln in lines for ch in ln)


def test_read_raises_with_every_error() -> None:
    bad = golden_text("mt541_newm").replace("SETT//20250108", "SETT//2025").replace("HKD384000,", "HKD1")
    with pytest.raises(InvalidMessage) as info:
        read(bad)
    assert [e.code for e in info.value.errors] == ["T50", "T40"]


def test_envelope_round_trip() -> None:
    env = Envelope(sender="XHKCHKH1AXXX", receiver="BROKHKHHAXXX", session="0007", sequence="000042", user_reference="ACK1")
    advice = status_advice("HKSCC9", "B01234REF000001", "MTCH//MACH", envelope=env)
    text = build_548(advice)
    assert text.startswith("{1:F01XHKCHKH1AXXX0007000042}{2:I548BROKHKHHAXXXN}{3:{108:ACK1}}{4:\r\n")
    assert decode(parse(text)) == advice
