"""The service benchmark runs end to end against a real `ledgerclear serve` and ends with one JSON line whose
submissions all matched their counterparts (none refused) and whose reads all answered 200."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_api.py"


@pytest.mark.slow
def test_bench_api_small_json() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--clients", "4", "--seconds", "1.5", "--per-client", "40",
                          "--read-rate", "40", "--json"], check=True, capture_output=True, text=True,
                         timeout=300).stdout
    report = json.loads(out.strip().splitlines()[-1])
    for key in ("clients", "read_p50_ms", "read_p99_ms", "submissions_per_s", "paced_read_p99_ms", "read_cpu_ms",
                "read_client_cpu_ms"):
        assert key in report
    assert report["clients"] == 4 and report["submissions_per_s"] > 0
    assert report["read_errors"] == 0 and report["submit_refused"] == {}
    assert 0 < report["paced_reads_per_s"] <= 40 * 1.2
