"""Lists of instructions are serialised from their rows without building InstructionOut (Page.json); the
bytes must be those FastAPI would have sent for the validated models (Page.of, then the response model)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from api.service import instructions as svc
from api.service.deps import Page
from api.service.schemas import InstructionOut, PageOf

_PAGE = TypeAdapter(PageOf[InstructionOut])
_TEXT = st.text(max_size=12)
_MAYBE_TEXT = st.none() | _TEXT
_BIG = st.integers(min_value=0, max_value=2**63 - 1)
_MAYBE_ID = st.none() | st.integers(min_value=1, max_value=2**62)

# One row of LIST_COLUMNS, as SQLite (booleans as 0/1) or PostgreSQL (booleans) hand it back; the outer-joined
# ledger instruction is there (its id and state set) or not (all None).
_SIDE = st.tuples(
    st.integers(min_value=1, max_value=2**62), _TEXT, _TEXT, st.sampled_from(["deliver", "receive"]), _TEXT,
    _BIG, _BIG, _TEXT, _TEXT, _TEXT, st.sampled_from(["unauthorised", "unmatched", "matched", "cancelled"]),
    _MAYBE_TEXT, _MAYBE_ID, _TEXT, _MAYBE_TEXT, st.sampled_from([0, 1, False, True]),
)
_LEDGER = st.just((None, None, None, None)) | st.tuples(st.integers(min_value=1, max_value=2**62), _TEXT,
                                                         _MAYBE_TEXT, _MAYBE_TEXT)
_ROW = st.builds(lambda side, ledger: (*side, *ledger), _SIDE, _LEDGER)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(_ROW, max_size=8), limit=st.integers(min_value=1, max_value=6),
       offset=st.integers(min_value=0, max_value=10**9))
def test_the_bytes_are_the_validated_models(rows: list[tuple[Any, ...]], limit: int, offset: int) -> None:
    page = Page(limit, offset)
    assert page.json(rows, svc.view_fields).body == _PAGE.dump_json(page.of(rows, svc.view_row))


def test_the_fields_are_the_models_in_order() -> None:
    assert list(svc.view_fields((1, "B00001", "B00002", "deliver", "00700", 1, 2, "HKD", "2026-11-23", "R", "unmatched",
                                 None, None, "key:k", None, 0, None, None, None, None))) == list(InstructionOut.model_fields)
