"""The committed contract artifacts are exactly what the pinned solc-js builds from contracts/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.node
def test_artifacts_rebuild_byte_for_byte(tmp_path: Path) -> None:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "solc").exists():
        pytest.fail("Node.js and the npm toolchain are required: run `make install` (CI installs them)")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_contracts.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True, text=True)
    committed = sorted(p.name for p in (ROOT / "ledger" / "artifacts").glob("*.json"))
    rebuilt = sorted(p.name for p in tmp_path.glob("*.json"))
    assert rebuilt == committed
    for name in committed:
        assert (tmp_path / name).read_bytes() == (ROOT / "ledger" / "artifacts" / name).read_bytes(), (
            f"{name} differs from a fresh build: run `make contracts` and commit the result"
        )
