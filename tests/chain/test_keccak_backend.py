"""Keccak-256 comes from safe-pysha3 (ledger/keccak_backend.py) and is the same function as pycryptodome's,
which eth-hash would otherwise use."""

from __future__ import annotations

import os
import subprocess
import sys

from Crypto.Hash import keccak as pycryptodome_keccak
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger  # noqa: F401 - chooses the backend
from ledger.keccak_backend import PREFERRED


def _backend_in_a_fresh_process(code: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run([sys.executable, "-c", code + "; import eth_hash.auto as a; a.keccak(b'');"
                          " print(a.keccak.hasher.__module__)"],
                         capture_output=True, text=True, check=True, env=env)
    return out.stdout.strip()


def test_importing_the_project_selects_pysha3() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ETH_HASH_BACKEND"}
    # every way in that hashes: the ledger, the CLI, the EIP-712 code shared by node and service
    for entry in ("import ledger", "import api.cli", "import api.eip712"):
        assert _backend_in_a_fresh_process(entry, env) == f"eth_hash.backends.{PREFERRED}", entry
    assert _backend_in_a_fresh_process("pass", env) == "eth_hash.backends.pycryptodome"  # eth-hash's own pick
    # an explicit choice stands
    env["ETH_HASH_BACKEND"] = "pycryptodome"
    assert _backend_in_a_fresh_process("import api.cli", env) == "eth_hash.backends.pycryptodome"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_same_digest_as_pycryptodome(data: bytes) -> None:
    from eth_utils import keccak

    assert keccak(data) == pycryptodome_keccak.new(digest_bits=256, data=data).digest()
