"""Day-end reports: layout (header, order, ISO dates, integer cents + decimal) and totals."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.reports import (
    FAIL_COLUMNS, MONEY_COLUMNS, POSITION_COLUMNS, SETTLEMENT_COLUMNS, cents_to_decimal, write_day_reports,
)
from ledger.store import InstructionRow, NewInstruction, Store

DAY = dt.date(2026, 11, 24)
A, B, H = "B00001", "B00002", "H00001"


def ins(i: int, d: str, r: str, sec: str, qty: int, amount: int, state: str, *, cur: str = "HKD",
        settled_q: int = 0, settled_a: int = 0, reason: str | None = None, parent: int | None = None) -> InstructionRow:
    return InstructionRow(id=i, source="REMAINDER" if parent else "CNS", parent_id=parent, settle_date="2026-11-24",
                          deliverer=d, receiver=r, security_code=sec, quantity=qty, currency=cur, amount_cents=amount,
                          min_partial=0, priority=0, state=state, reason=reason, settled_quantity=settled_q,
                          settled_amount=settled_a)


def day_rows() -> list[InstructionRow]:
    return [
        ins(1, A, H, "700", 1_000, 41_260_000, "settled", settled_q=1_000, settled_a=41_260_000),
        ins(2, H, B, "700", 1_000, 41_260_000, "partial", settled_q=600, settled_a=24_756_000, reason="LACK"),
        ins(3, H, B, "700", 400, 16_504_000, "failed", reason="LACK", parent=2),
        ins(4, B, H, "5", 400, -1_050, "pending", reason="MONY"),  # deliverer pays: net position
        ins(5, A, B, "9988", 100, 0, "cancelled"),
        ins(6, H, A, "80737", 200, 999_999, "failed", cur="CNY", reason="BLOC"),
        ins(7, H, A, "5", 0, 12_345, "settled", settled_a=12_345),  # money only: A pays H
    ]


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def reports(tmp_path: Path) -> dict[str, Path]:
    opening = {(A, "700"): 1_500, (H, "700"): 0, (B, "5"): 400, (A, "9988"): 100}
    return write_day_reports(tmp_path / "out", DAY, day_rows(), opening)


def test_files_and_headers(reports: dict[str, Path]) -> None:
    assert sorted(reports) == ["fails.csv", "money_summary.csv", "positions.csv", "settlement_by_participant.csv"]
    for name, cols in (("settlement_by_participant.csv", SETTLEMENT_COLUMNS), ("positions.csv", POSITION_COLUMNS),
                       ("money_summary.csv", MONEY_COLUMNS), ("fails.csv", FAIL_COLUMNS)):
        text = reports[name].read_text(encoding="utf-8")
        assert text.splitlines()[0] == ",".join(cols)
        assert "\r" not in text and text.endswith("\n")
        assert all(r["business_date"] == "2026-11-24" for r in read(reports[name]))
    assert not list(reports["fails.csv"].parent.glob("*.tmp"))


def test_settlement_by_participant(reports: dict[str, Path]) -> None:
    rows = read(reports["settlement_by_participant.csv"])
    assert [(r["participant"], r["currency"]) for r in rows] == [
        (A, "CNY"), (A, "HKD"), (B, "HKD"), (H, "CNY"), (H, "HKD")]
    by = {(r["participant"], r["currency"]): r for r in rows}
    a = by[(A, "HKD")]
    assert (a["instructions"], a["settled"], a["cancelled"]) == ("3", "2", "1")
    assert a["received_cents"] == "41260000" and a["paid_cents"] == "12345"
    assert a["net_cents"] == str(41_260_000 - 12_345) and a["net"] == "412476.55"
    b = by[(B, "HKD")]
    assert (b["partial"], b["failed"], b["pending"]) == ("1", "1", "1")
    assert b["paid_cents"] == "24756000" and b["paid"] == "247560.00"
    assert b["pending_value_cents"] == "1050" and b["failed_value_cents"] == "16504000"
    h = by[(H, "HKD")]
    assert int(h["received_cents"]) - int(h["paid_cents"]) == int(h["net_cents"])
    # money is conserved: what is paid is received, per currency
    for cur in ("HKD", "CNY"):
        assert sum(int(r["paid_cents"]) for r in rows if r["currency"] == cur) == \
            sum(int(r["received_cents"]) for r in rows if r["currency"] == cur)
    assert by[(A, "CNY")]["failed"] == "1" and by[(A, "CNY")]["failed_value"] == "9999.99"


def test_positions(reports: dict[str, Path]) -> None:
    rows = read(reports["positions.csv"])
    keys = [(r["participant"], r["security_code"]) for r in rows]
    assert keys == [(A, "700"), (A, "9988"), (B, "5"), (B, "700"), (H, "700")]  # numeric code order
    by = {k: r for k, r in zip(keys, rows, strict=True)}
    assert (by[(A, "700")]["opening"], by[(A, "700")]["settled_out"], by[(A, "700")]["closing"]) == ("1500", "1000",
                                                                                                   "500")
    assert (by[(H, "700")]["settled_in"], by[(H, "700")]["settled_out"], by[(H, "700")]["closing"]) == ("1000", "600",
                                                                                                     "400")
    assert by[(B, "700")]["closing"] == "600" and by[(B, "5")]["closing"] == "400"  # pending does not move
    for r in rows:
        assert int(r["closing"]) == int(r["opening"]) + int(r["settled_in"]) - int(r["settled_out"])
    # securities are conserved: total in == total out
    assert sum(int(r["settled_in"]) for r in rows) == sum(int(r["settled_out"]) for r in rows)


def test_money_summary(reports: dict[str, Path]) -> None:
    rows = read(reports["money_summary.csv"])
    assert [r["currency"] for r in rows] == ["CNY", "HKD"]
    hkd = rows[1]
    assert (hkd["settled_count"], hkd["settled_cents"]) == ("3", str(41_260_000 + 24_756_000 + 12_345))
    assert hkd["settled"] == "660283.45"
    assert (hkd["pending_count"], hkd["pending_cents"], hkd["pending"]) == ("1", "1050", "10.50")
    assert (hkd["failed_count"], hkd["failed_cents"]) == ("1", "16504000")
    assert hkd["gross_instructed_cents"] == str(41_260_000 * 2 + 1_050 + 12_345)  # remainder not counted again
    assert rows[0]["failed"] == "9999.99"


def test_fails(reports: dict[str, Path]) -> None:
    rows = read(reports["fails.csv"])
    assert [r["instruction_id"] for r in rows] == ["3", "6"]
    assert rows[0]["parent_id"] == "2" and rows[0]["reason"] == "LACK" and rows[0]["amount"] == "165040.00"
    assert rows[1]["parent_id"] == "" and rows[1]["reason"] == "BLOC" and rows[1]["currency"] == "CNY"
    assert rows[1]["settle_date"] == "2026-11-24"


def test_deterministic_regardless_of_input_order(tmp_path: Path) -> None:
    opening = {(A, "700"): 1_500}
    one = write_day_reports(tmp_path / "1", DAY, day_rows(), opening)
    two = write_day_reports(tmp_path / "2", DAY, list(reversed(day_rows())), opening)
    for name in one:
        assert one[name].read_bytes() == two[name].read_bytes()


def test_empty_day_writes_headers_only(tmp_path: Path) -> None:
    out = write_day_reports(tmp_path, DAY, [], {})
    for p in out.values():
        assert len(p.read_text().splitlines()) == 1


@dataclass(frozen=True)
class PlainRow:
    """Reports take any object with the instruction attributes, not only store rows."""

    id: int
    source: str
    parent_id: int | None
    settle_date: str
    deliverer: str
    receiver: str
    security_code: str
    quantity: int
    currency: str
    amount_cents: int
    state: str
    reason: str | None
    settled_quantity: int
    settled_amount: int


def test_plain_dataclasses_and_store_rows(tmp_path: Path) -> None:
    store = Store.open("sqlite://")
    store.add_instructions([NewInstruction(id=1, source="SI", settle_date="2026-11-24", deliverer=A, receiver=B,
                                           security_code="700", quantity=100, currency="USD", amount_cents=5)])
    plain = [PlainRow(2, "SI", None, "2026-11-24", B, A, "700", 100, "USD", 7, "failed", "MONY", 0, 0)]
    out = write_day_reports(tmp_path, DAY, [*store.instructions(), *plain], {})
    money = read(out["money_summary.csv"])
    assert money[0]["pending_cents"] == "5" and money[0]["failed_cents"] == "7"


@pytest.mark.parametrize("cents,text", [(0, "0.00"), (5, "0.05"), (-5, "-0.05"), (123_450, "1234.50"),
                                        (-100, "-1.00"), (10**20 + 1, "1000000000000000000.01")])
def test_cents_to_decimal(cents: int, text: str) -> None:
    assert cents_to_decimal(cents) == text
