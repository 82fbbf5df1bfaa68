"""`ledgerclear pss send FILE...`: act as a participant's back office (PSS) against the gateway."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Optional

import typer


app = typer.Typer(help="Participant-side tools for the ISO 15022 gateway.", no_args_is_help=True)


@app.command("send")
def send(
    files: Annotated[list[Path], typer.Argument(help="Message files (several messages per file allowed).")],
    participant: Annotated[str, typer.Option("--participant", help="Participant id (its certificate is used).")],
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 15022,
    certs: Annotated[Path, typer.Option("--certs", help="Directory with ca.pem and <ID>.pem/.key.")] = Path("certs"),
    wait: Annotated[float, typer.Option("--wait", help="Stop after this many seconds without a reply.")] = 3.0,
    raw: Annotated[bool, typer.Option("--raw", help="Print replies as received (FIN text).")] = False,
    server_name: Annotated[Optional[str], typer.Option("--server-name", help="Name to check the server "
                                                                                "certificate against.")] = None,
) -> None:
    """Send every message in FILE... and print the gateway's replies until idle for --wait seconds."""
    from api.gateway.client import send_files
    from api.gateway.replies import summarise
    from api.iso15022 import split_messages

    messages: list[str] = []
    for f in files:
        try:
            text = f.read_bytes().decode("ascii", errors="replace")
        except OSError as exc:
            typer.echo(f"error: cannot read {f}: {exc.strerror or exc}", err=True)
            raise typer.Exit(2) from None
        messages.extend(m.replace("\n", "\r\n") for _, m in split_messages(text))

    def show(msg: str) -> None:
        typer.echo(msg.replace("\r\n", "\n") + "\n$" if raw else summarise(msg))

    try:
        got = asyncio.run(send_files(host, port, certs, participant, messages, wait, server_name, show))
    except (OSError, TimeoutError) as exc:
        typer.echo(f"error: cannot talk to the gateway at {host}:{port}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"sent {len(messages)} message(s), received {len(got)} repl{'y' if len(got) == 1 else 'ies'}",
               err=True)


def register(root: typer.Typer) -> None:
    """Add the ``pss`` command group to ``root``."""
    root.add_typer(app, name="pss")
