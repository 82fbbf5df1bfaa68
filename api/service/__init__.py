"""The participant service: a FastAPI application over the ledger and the risk engine.

Modules, one job each: settings (configuration), db (service tables), migrate (their Alembic
scripts), security (passwords, tokens, TOTP), audit (hash-chained log), eip712 (signed instructions),
errors (error bodies), limits (body size and rate limits), events (pub/sub), context (what a request
needs), deps (authentication and authorisation dependencies), instructions (instruction lifecycle),
routers/ (one per resource), app (assembly).
"""
