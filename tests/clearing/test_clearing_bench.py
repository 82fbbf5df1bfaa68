"""The netting benchmark script runs end to end and ends with one JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_netting.py"


def test_bench_small_json() -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--trades", "3000", "--participants", "30",
         "--securities", "50", "--json"],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout
    report = json.loads(out.strip().splitlines()[-1])
    for key in ("trades", "generate_s", "csv_read_s", "netting_s", "positions", "peak_rss_mb"):
        assert key in report
    assert report["trades"] == 3000 and report["positions"] > 0
