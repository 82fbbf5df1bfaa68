"""`ledgerclear audit verify`: walk the service's hash-chained audit log and name the first bad entry."""

from __future__ import annotations

from typing import Annotated

import typer


app = typer.Typer(help="The service's append-only, hash-chained audit log.", no_args_is_help=True)


@app.command("verify")
def verify(
    db: Annotated[str, typer.Option("--db", help="Database URL of the service.")] = "sqlite:///ledgerclear.sqlite",
) -> None:
    """Exit 0 if every entry is intact; else print which entry was edited or deleted and exit 1."""
    from sqlalchemy.orm import Session

    from api.service import audit
    from api.service.context import make_engine

    with Session(make_engine(db)) as s:
        v = audit.verify(s)
    if v.ok:
        typer.echo(f"audit log intact: {v.entries} entries")
        return
    typer.echo(f"audit log TAMPERED: {v.problem}", err=True)
    raise typer.Exit(code=1)


def register(root: typer.Typer) -> None:
    """Add the ``audit`` command group to ``root``."""
    root.add_typer(app, name="audit")
