"""The `ledgerclear` command line: one Typer app, one module per command group.

Each command module exposes ``register(root)``, which adds its group (a Typer sub-app) or command to the
root app; add a command group by importing its module here and listing it in ``COMMAND_GROUPS``.
"""

from __future__ import annotations

from types import ModuleType

import typer

import ledger.keccak_backend  # noqa: F401 - eth-hash's Keccak backend, chosen before any command hashes
from api.cli import audit, certs, day, gateway, iso15022, margin, node, pss, serve

app = typer.Typer(
    name="ledgerclear",
    help="ledgerclear: securities settlement on an EVM ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

COMMAND_GROUPS: tuple[ModuleType, ...] = (iso15022, day, margin, serve, audit, node, gateway, certs, pss)


@app.callback()
def _root() -> None:
    """ledgerclear: securities settlement on an EVM ledger."""


for _group in COMMAND_GROUPS:
    _group.register(app)


def main() -> None:
    """Console entry point."""
    app()
