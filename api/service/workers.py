"""Several worker processes behind one port (`serve --workers N`): one Python process is bound by its GIL
to one core, so more cores need more processes. They share what must be shared through the database (events,
the matching lock, the audit chain) and the chain through its JSON-RPC node; the embedded chain lives inside
one process, so workers need `--rpc`.

The parent process does the once-only work (migrations, the service key, the first administrator, a fresh
deployment written to `--deployment`), then uvicorn starts the workers, each of which builds its own context
from the same settings, passed in LEDGERCLEAR_* variables.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from pydantic import SecretStr

from api.service.settings import ENV_PREFIX, Settings


class WorkersError(ValueError):
    """The settings cannot run several workers (what is missing, and how to give it)."""


def check(settings: Settings) -> None:
    if settings.workers == 1:
        return
    if settings.rpc_url is None:
        raise WorkersError(f"--workers {settings.workers} needs --rpc URL: the embedded chain lives inside one "
                           "process, so worker processes must share a JSON-RPC node")
    if settings.deployment_file is None:
        raise WorkersError(f"--workers {settings.workers} needs --deployment FILE: every worker binds to the "
                           "same contracts (the file is written on the first start)")
    if settings.db_url in ("sqlite://", "sqlite:///", "sqlite:///:memory:"):
        raise WorkersError("--workers needs a database file or server: an in-memory database is per process")


def export(settings: Settings) -> None:
    """Put every setting in the environment the workers inherit (Settings.from_env reads it back)."""
    for name, value in settings.model_dump(exclude_none=True).items():
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        os.environ[ENV_PREFIX + name.upper()] = str(raw)


def worker_app() -> FastAPI:
    """uvicorn's app factory in each worker process."""
    from api.service.app import create_app, keep_out_of_collections
    from api.service.bootstrap import prepare_secrets
    from api.service.context import open_context

    exported = Settings.from_env()
    # Each worker keeps its own token buckets and the kernel spreads connections over the workers, so each
    # gets its share of the per-caller rate: together they allow about what one process would.
    settings = exported.model_copy(update={"rate_per_s": exported.rate_per_s / exported.workers,
                                           "rate_burst": max(1, exported.rate_burst // exported.workers)})
    ctx = open_context(settings)
    prepare_secrets(ctx)  # the parent sealed and checked; this installs the key in this process
    app = create_app(ctx)
    keep_out_of_collections()
    return app
