"""Codec: envelope blocks, the 16R/16S tree, lenient input (LF, blank lines), exact round trip."""

from __future__ import annotations

import pytest
from iso15022_golden import golden, golden_text  # noqa: F401 - golden is a fixture

from api.iso15022 import EnvelopeError, Iso15022Error, StructureError, build, parse, split_messages
from api.iso15022.message import Field, Sequence


def test_golden_round_trips_byte_for_byte(golden: tuple[str, str]) -> None:
    name, text = golden
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    assert build(parse(text)) == text, name


def test_envelope_blocks_are_split_out() -> None:
    m = parse(golden_text("mt541_newm"))
    assert m.basic.logical_terminal == "BROKHKHHAXXX"
    assert (m.basic.session, m.basic.sequence) == ("0001", "000123")
    assert (m.app.direction, m.mt, m.app.receiver, m.app.priority) == ("I", "541", "XHKCHKH1XXXX", "N")
    assert m.user_reference == "B01234REF000001"
    assert m.trailer == [("CHK", "3A5B9C0D1E2F")]


def test_text_block_is_a_tree_of_sequences() -> None:
    m = parse(golden_text("mt548_pend"))
    genl = m.seq("GENL")
    assert genl is not None and [s.name for s in genl.sequences] == ["LINK", "STAT"]
    stat = genl.seq("STAT")
    assert stat is not None
    reas = stat.seq("REAS")
    assert reas is not None
    narrative = reas.get("70", "REAS")
    assert narrative is not None
    # Continuation lines stay in the field, joined by LF, and the field knows its first line.
    assert narrative.data == "LACK OF SECURITIES IN B05678-002\nSHORT 400 UNITS /HK/700"
    assert narrative.line == 13
    assert (stat.line, stat.end_line) == (9, 16)


def test_generic_field_parts() -> None:
    m = parse(golden_text("mt541_newm"))
    setdet = m.seq("SETDET")
    assert setdet is not None
    deag = setdet.seqs("SETPRTY")[1].items[0]
    assert isinstance(deag, Field)
    assert (deag.tag, deag.qualifier, deag.issuer, deag.data) == ("95R", "DEAG", "HKEX", "B05678")
    assert deag.label == ":95R::DEAG/HKEX/"


def test_accepts_bare_lf_and_blank_lines_between_blocks_and_emits_crlf() -> None:
    text = golden_text("mt541_newm")
    loose = text.replace("\r\n", "\n").replace("}{2:", "}\n\n{2:").replace("-}{5:", "-}\n\n{5:")
    loose = "\n" + loose + "\n\n"
    assert build(parse(loose)) == text


def test_output_application_header() -> None:
    text = golden_text("mt548_pack").replace(
        "{2:I548BROKHKHHAXXXN}", "{2:O5481200250108XHKCHKH1AXXX00000000052501081201N}"
    )
    m = parse(text)
    assert m.app.direction == "O" and m.mt == "548"
    assert build(m) == text


@pytest.mark.parametrize(
    ("text", "code", "cls"),
    [
        ("", "L02", EnvelopeError),
        ("{1:F01BROKHKHHAXXX0001000123}{2:I541XHKCHKH1XXXXN}", "L02", EnvelopeError),
        ("{1:F01BROKHKHHAXXX0001000123}{2:I541XHKCHKH1XXXXN}{4:\r\n:16R:GENL\r\n", "L03", EnvelopeError),
        ("{1:F01BROKHKHHAXXX0001000123{2:I541XHKCHKH1XXXXN}{4:\r\n-}", "L03", EnvelopeError),
        ("{1:F01BROKHKHHAXX0001000123}{2:I541XHKCHKH1XXXXN}{4:\r\n-}", "L01", EnvelopeError),
        ("{1:F01BROKHKHHAXXX0001000123}{2:I541XHKCHKH1XXXXN}{4:\r\nhello\r\n-}", "L10", StructureError),
        ("{1:F01BROKHKHHAXXX0001000123}{2:I541XHKCHKH1XXXXN}{4:\r\n:16S:GENL\r\n-}", "L05", StructureError),
        ("{1:F01BROKHKHHAXXX0001000123}{2:X541}{4:\r\n-}", "L01", EnvelopeError),
        ("{1:F01BROKHKHHAXXX0001000123}{2:I541XHKCHKH1XXXXN}{3:108:x}{4:\r\n-}", "L01", EnvelopeError),
    ],
)
def test_structural_errors_raise_our_error_type(text: str, code: str, cls: type[Iso15022Error]) -> None:
    with pytest.raises(cls) as info:
        parse(text)
    assert info.value.code == code
    assert str(info.value).startswith(code)


def test_empty_text_block_parses() -> None:
    m = parse("{1:F01BROKHKHHAXXX0001000123}{2:I548XHKCHKH1XXXXN}{4:\r\n-}")
    assert m.text.items == []


def test_build_from_a_hand_made_tree() -> None:
    m = parse(golden_text("mt548_pack"))
    genl = m.seq("GENL")
    assert genl is not None
    genl.items.insert(2, Sequence("LINK", [Field("20C", ":PREV//X1", qualifier="PREV", data="X1", generic=True)]))
    out = build(m)
    assert ":16R:LINK\r\n:20C::PREV//X1\r\n:16S:LINK\r\n" in out
    assert build(parse(out)) == out


def test_split_messages_back_to_back_dollar_and_blank_lines() -> None:
    a, b, c = golden_text("mt548_pack"), golden_text("mt548_rejt"), golden_text("mt530_hold")
    text = a + b + "\r\n$\r\n" + c + "\r\n\r\n"
    parts = split_messages(text)
    assert [p[1] for p in parts] == [x.replace("\r\n", "\n") for x in (a, b, c)]
    # Offsets are lines before each message in the file.
    assert parts[0][0] == 0
    assert parts[1][0] == a.count("\r\n")
    assert parts[2][0] == a.count("\r\n") + b.count("\r\n") + 2


def test_split_messages_keeps_leading_garbage_as_a_message() -> None:
    parts = split_messages("junk\n" + golden_text("mt548_pack"))
    assert parts[0] == (0, "junk") and len(parts) == 2
