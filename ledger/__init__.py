"""ledger: chain access, contract bindings, clearing and settlement, and the store."""

from ledger import keccak_backend as _keccak_backend  # noqa: F401 - first: chooses eth-hash's backend
