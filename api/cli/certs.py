"""`ledgerclear certs DIR --participants B01234,B05678`: a local CA, the gateway's server certificate
and one client certificate per participant (EC P-256, PEM; keys written with mode 0600)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def certs(
    directory: Annotated[Path, typer.Argument(help="Directory for ca.pem/.key, server.pem/.key, <ID>.pem/.key.")],
    participants: Annotated[str, typer.Option("--participants", help="Comma-separated participant ids.")] = "",
    server_name: Annotated[str, typer.Option("--server-name", help="DNS name in the server certificate.")]
    = "localhost",
) -> None:
    """Create (or extend: an existing CA is reused) the gateway's certificates."""
    from api.gateway.certs import make_certs

    ids = [p.strip() for p in participants.split(",") if p.strip()]
    try:
        written = make_certs(directory, ids, server_name)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for p in written:
        typer.echo(str(p))


def register(root: typer.Typer) -> None:
    """Add the top-level ``certs`` command to ``root``."""
    root.command("certs")(certs)
