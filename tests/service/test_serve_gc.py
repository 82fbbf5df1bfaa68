"""`serve` moves what it built to start (the chain, the app and its models) out of the garbage collector's
scans before it listens: without that, a full collection under submission load took up to ~200 ms."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.service import tls


def test_serve_freezes_its_start_up_objects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def run(app: Any, *args: Any, **kwargs: Any) -> None:  # instead of listening: what serve left behind
        seen["frozen"] = gc.get_freeze_count()
        seen["app"] = app

    monkeypatch.setattr(tls, "run", run)
    monkeypatch.setenv("LEDGERCLEAR_ADMIN_PASSWORD", "first admin password")
    monkeypatch.chdir(tmp_path)
    gc.unfreeze()
    try:
        res = CliRunner().invoke(cli_app, ["serve", "--db", f"sqlite:///{tmp_path / 'serve.sqlite'}",
                                           "--reports-dir", str(tmp_path / "reports")])
    finally:
        gc.unfreeze()  # this test process builds more apps: let the collector see them again
    assert res.exit_code == 0, res.output
    assert seen["frozen"] > 10_000, seen  # the embedded chain and the app alone are far more objects
    assert gc.isenabled()  # the collector still runs for everything made after start-up
