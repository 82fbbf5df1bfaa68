"""The audit log is hash-chained: any edit or deletion is detected, and the entry named."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.service import audit
from api.service.context import make_engine
from api.service.db import AuditRow
from api.service.migrate import upgrade


def _log(tmp: Path, n: int = 5) -> str:
    url = f"sqlite:///{tmp / 'audit.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as s, s.begin():
        for i in range(n):
            audit.append(s, f"user:u{i}", "instruction.submitted", f"si:{i}", {"n": i, "text": "é"}, "B00001")
    engine.dispose()
    return url


def _verify(url: str) -> audit.Verdict:
    engine = make_engine(url)
    with Session(engine) as s:
        v = audit.verify(s)
    engine.dispose()
    return v


def _exec(url: str, stmt: object) -> None:
    engine = make_engine(url)
    with Session(engine) as s, s.begin():
        s.execute(stmt)  # type: ignore[call-overload]
    engine.dispose()


def test_intact(tmp_path: Path) -> None:
    v = _verify(_log(tmp_path))
    assert v.ok and v.entries == 5


@pytest.mark.parametrize("column,value", [("detail", {"n": 99, "text": "é"}), ("actor", "user:mallory"),
                                          ("action", "instruction.cancelled"), ("ts", "2020-01-01T00:00:00")])
def test_edit_is_detected(tmp_path: Path, column: str, value: object) -> None:
    url = _log(tmp_path)
    _exec(url, update(AuditRow).where(AuditRow.seq == 3).values({column: value}))
    v = _verify(url)
    assert not v.ok and v.seq == 3 and "edited" in (v.problem or "")


def test_edit_with_rehash_breaks_the_next_link(tmp_path: Path) -> None:
    url = _log(tmp_path)
    engine = make_engine(url)
    with Session(engine) as s, s.begin():
        row = s.get(AuditRow, 2)
        assert row is not None
        row.detail = {"n": 42}
        row.hash = audit.entry_hash(row.prev_hash, {"seq": 2, "ts": row.ts, "actor": row.actor,
                                                    "participant_id": row.participant_id, "action": row.action,
                                                    "target": row.target, "detail": row.detail})
    engine.dispose()
    v = _verify(url)
    assert not v.ok and v.seq == 3


def test_deletion_in_the_middle_and_at_the_end(tmp_path: Path) -> None:
    url = _log(tmp_path)
    _exec(url, delete(AuditRow).where(AuditRow.seq == 2))
    v = _verify(url)
    assert not v.ok and v.seq == 2 and "deleted" in (v.problem or "")
    (tmp_path / "b").mkdir()
    url2 = _log(tmp_path / "b")
    _exec(url2, delete(AuditRow).where(AuditRow.seq == 5))
    v = _verify(url2)
    assert not v.ok and v.seq == 5


def test_cli_verify(tmp_path: Path) -> None:
    url = _log(tmp_path)
    runner = CliRunner()
    ok = runner.invoke(cli_app, ["audit", "verify", "--db", url])
    assert ok.exit_code == 0 and "5 entries" in ok.output
    _exec(url, text("UPDATE svc_audit SET target = 'si:x' WHERE seq = 4"))
    bad = runner.invoke(cli_app, ["audit", "verify", "--db", url])
    assert bad.exit_code == 1 and "entry 4" in bad.output
