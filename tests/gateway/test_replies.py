"""The host's outbound 548s: the fast builder gives exactly the codec builder's text, and valid."""

from __future__ import annotations

import pytest

from api.gateway.replies import Outbound, fast_548, summarise
from api.iso15022 import build_model, validate
from api.iso15022.models import Envelope, Status, StatusAdvice, StatusReason


@pytest.mark.parametrize("advice", [
    StatusAdvice("LC1", "R1", (Status("IPRC", "PACK"),), related_mt="541"),
    StatusAdvice("LC2", "R/2", (Status("MTCH", "NMAT", (StatusReason("CMIS", ("NO COUNTERPART",)),)),)),
    StatusAdvice("LC3", "R3", (Status("SETT", "PEND", (StatusReason("LACK", ("A" * 35, "B")),)),),
                 envelope=Envelope(user_reference="U1")),
    StatusAdvice("LC4", "R4", (Status("IPRC", "REJT", (StatusReason("SAFE"),)),), related_mt="530"),
])
def test_fast_548_equals_the_codec_builder(advice: StatusAdvice) -> None:
    text = fast_548(advice)
    assert text == build_model(advice)
    assert validate(text) == []


def test_fast_548_declines_what_needs_the_full_checks() -> None:
    assert fast_548(StatusAdvice("LC1", "R1", (Status("IPRC", "NOPE"),))) is None
    assert fast_548(StatusAdvice("LC1", "R1", (Status("IPRC", "REJT", (StatusReason("ZZZZ"),)),))) is None


def test_outbound_never_echoes_an_invalid_reference_and_wraps_narratives() -> None:
    o = Outbound()
    text = o.status("B01234", "BAD//REF", "IPRC//REJT", "OTHR", "T26 line 3 :20C::SEME// " + "x" * 300)
    assert validate(text) == []
    assert "rel=NONREF" in summarise(text)


def test_narrative_continuation_lines_never_start_a_field_or_end_the_block() -> None:
    from api.iso15022 import narrative_lines

    text = "L07 line 11 :36a::SETT// mandatory field missing in FIAC. L10 line 12 :36B: field -x " * 3
    lines = narrative_lines(text)
    assert 1 < len(lines) <= 6 and all(0 < len(ln) <= 35 for ln in lines)
    assert not any(ln[0] in ":-" for ln in lines[1:])
    assert "".join(lines) == text.strip()[: len("".join(lines))]
