"""The engine without network or ledger: every inbound message gets exactly one answer, first, and
everything the host sends is itself a valid message -- for any input (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.gateway.engine import Engine
from api.gateway.refdata import RefData, SecurityRef
from api.iso15022 import validate

from .gateway_helpers import A, B, command, instruction, statement_request


class _NoLedger:
    async def call(self, name: str, *args: Any) -> Any:  # jobs are queued, never run here
        raise AssertionError("no ledger in this test")


def _engine() -> tuple[Engine, list[tuple[str, str]]]:
    rd = RefData(participants={A: "active", B: "active"}, currencies=("HKD", "CNY", "USD"))
    rd.add_security(SecurityRef("1299", 1299, "HK0000069689", "AIA GROUP LTD", 200, "HKD"))
    sent: list[tuple[str, str]] = []
    eng = Engine(rd, _NoLedger(), lambda p, t: sent.append((p, t)))  # type: ignore[arg-type]
    return eng, sent


SEEDS = [instruction(541, A, B, "FZ1"), instruction(543, A, B, "FZ2"), instruction(540, A, B, "FZ3"),
         command(A, "FZ4", "FZ2", hold=True), statement_request("FZ5", 535, A)]


def _answers(sent: list[tuple[str, str]]) -> list[str]:
    return [t for _, t in sent if ":25D::IPRC//PACK" in t or ":25D::IPRC//REJT" in t]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_any_mutation_gets_exactly_one_answer_first_and_only_valid_output(seed: str, data: st.DataObject) -> None:
    eng, sent = _engine()
    text = seed
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["cut", "flip", "insert", "delete_line", "dup_line"]))
        if not text:
            break
        i = data.draw(st.integers(0, len(text) - 1))
        if op == "cut":
            text = text[:i]
        elif op == "flip":
            text = text[:i] + data.draw(st.characters(min_codepoint=32, max_codepoint=126)) + text[i + 1:]
        elif op == "insert":
            text = text[:i] + data.draw(st.text(st.characters(min_codepoint=9, max_codepoint=126), max_size=20)) + text[i:]
        else:
            lines = text.split("\r\n")
            j = data.draw(st.integers(0, len(lines) - 1))
            lines = lines[:j] + lines[j + 1:] if op == "delete_line" else lines[:j] + [lines[j]] + lines[j:]
            text = "\r\n".join(lines)
    eng.handle(A, text)
    assert sent, "no answer"
    assert len(_answers(sent)) == 1, [t for _, t in sent]
    assert sent[0][1] in _answers(sent)  # the answer comes first
    for _, out in sent:
        assert validate(out) == [], out


def test_resend_is_the_same_ack_and_a_changed_message_under_the_same_reference_is_refe() -> None:
    eng, sent = _engine()
    msg = instruction(541, A, B, "ID1")
    eng.handle(A, msg)
    eng.handle(A, msg.replace("{1:F01BROKHKHHAXXX0001000001}", "{1:F01BROKHKHHAXXX0002000999}"))  # new header
    acks = _answers(sent)
    assert len(acks) == 2 and acks[0] == acks[1]
    eng.handle(A, instruction(541, A, B, "ID1", quantity=7))
    assert ":24B::REJT//REFE" in _answers(sent)[-1]
    assert len(eng.book) == 1
