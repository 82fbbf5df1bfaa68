"""Running `ledgerclear` as a user would (a subprocess), and comparing days' outcomes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# A small day with several batches per run (batch size 100), every stage exercised.
DAY = ["--generate", "800", "--participants", "10", "--securities", "30", "--sis", "40", "--batch-size", "100"]
# Figures that depend on the clock, not on what was settled.
CLOCK = ("timings", "seconds", "market")


def ledgerclear(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from api.cli import main; main()", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, "COLUMNS": "200"})


def crash(point: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`ledgerclear ARGS` killed with SIGKILL at `point` (see crash_day.py)."""
    return subprocess.run([sys.executable, str(HERE / "crash_day.py"), point, "--", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def outcome(market: Path) -> dict[str, Any]:
    """What a day left in its market: the summary less clock figures, and the reports."""
    summary = json.loads((market / "summary.json").read_text())
    for run in summary["runs"]:
        run.pop("seconds")
    reports = {name: (market / name).read_text() for name in ("positions.csv", "fails.csv", "money_summary.csv",
                                                             "settlement_by_participant.csv")}
    return {"summary": {k: v for k, v in summary.items() if k not in CLOCK}, "reports": reports}
