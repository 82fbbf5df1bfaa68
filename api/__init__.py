"""api: every way in from outside — the CLI, the ISO 15022 gateway, the service and the portal."""

import ledger as _ledger  # noqa: F401 - first: chooses eth-hash's Keccak backend (ledger/keccak_backend.py)
