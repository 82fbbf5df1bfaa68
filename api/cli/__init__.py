"""The `ledgerclear` command line: one Typer app, one module per command group."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="ledgerclear",
    help="ledgerclear: securities settlement on an EVM ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Each module exposes `register(app)`; add a command group by adding its module name here.
_COMMAND_MODULES: tuple[str, ...] = (
    "api.cli.iso15022",
    "api.cli.day",
    "api.cli.margin",
    "api.cli.serve",
    "api.cli.audit",
    "api.cli.node",
    "api.cli.gateway",
    "api.cli.certs",
    "api.cli.pss",
)


@app.callback()
def _root() -> None:
    """ledgerclear: securities settlement on an EVM ledger."""


for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """Console entry point."""
    app()
