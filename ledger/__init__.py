"""ledger: chain access, contract bindings, clearing and settlement, and the store."""
