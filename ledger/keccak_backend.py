"""Keccak-256 through safe-pysha3 rather than eth-hash's first choice, pycryptodome.

eth-hash (under web3, eth-account and py-evm) takes the first backend it can import, and pycryptodome comes
first. Its Keccak goes through cffi: ~21 us a hash here against ~3 us with safe-pysha3's C extension, and it
lets go of the GIL on every call, so while another thread is busy (the group committer, a settlement run)
each of the ~11 hashes of a signed submission waits for the GIL to come back (~75 us each). eth-hash reads
ETH_HASH_BACKEND when it first hashes, so the choice is made on import of `ledger` (and `api`, which imports
`ledger` first), before anything hashes; an explicit ETH_HASH_BACKEND is left as it is.
"""

from __future__ import annotations

import importlib.util
import os

PREFERRED = "pysha3"  # eth-hash's name for the backend over the `sha3` module (safe-pysha3)


def prefer_pysha3() -> None:
    if importlib.util.find_spec("sha3") is not None:
        os.environ.setdefault("ETH_HASH_BACKEND", PREFERRED)


prefer_pysha3()
