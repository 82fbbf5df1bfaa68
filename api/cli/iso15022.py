"""`ledgerclear iso15022`: validate and parse ISO 15022 (FIN) message files.

A file may hold several messages: each starts at `{1:`; they may sit back to back, on their
own lines, separated by blank lines or by a line holding only `$`.  Errors print one per line
on stdout as `[message N: ]CODE line L FIELD text` (lines counted in the file), warnings as
`[message N: ]warning: CODE ...`; a summary goes to stderr.  Errors are what SWIFT would NAK;
warnings are not (e.g. an ISIN whose ISO 6166 check digit fails), unless `--strict`.
Exit codes: 0 valid (warnings allowed), 1 invalid, 2 the file could not be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import typer

from api.iso15022 import Iso15022Error, decode, parse, split_messages, validate_message
from api.iso15022.jsonify import message_to_dict, model_to_dict
from api.iso15022.validate import size_error


def _read(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {path}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # Latin-1 maps every byte to a character, so odd bytes surface as M60 errors.
        return raw.decode("latin-1")


def _check(text: str, offset: int, warnings: bool = False) -> tuple[Any, list[Iso15022Error]]:
    """(message or None, errors -- and warnings if asked -- with file line numbers)."""
    errors: list[Iso15022Error] = []
    too_big = size_error(text)  # counted with CRLF line ends, as on the wire
    if too_big is not None:
        errors.append(too_big)
    try:
        message = parse(text)
    except Iso15022Error as exc:
        return None, [e.shifted(offset) for e in [*errors, exc]]
    errors.extend(validate_message(message, warnings))
    return message, [e.shifted(offset) for e in errors]


app = typer.Typer(
    help=(
        "ISO 15022 (SWIFT FIN) settlement messages: validate and parse.  A FILE may hold "
        "several messages, each starting at {1:, back to back or separated by blank lines "
        "or by a line holding only $."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command("validate")
def validate_cmd(
    file: Path = typer.Argument(..., help="file of one or more FIN messages"),
    strict: bool = typer.Option(False, "--strict", help="treat warnings (e.g. ISIN check digit) as errors"),
) -> None:
    """Validate every message in FILE; print errors and warnings one per line; exit 0 valid
    (warnings allowed unless --strict), 1 invalid."""
    _guarded(_validate_file, file, strict)


@app.command("parse")
def parse_cmd(
    file: Path = typer.Argument(..., help="file of one or more FIN messages"),
    as_json: bool = typer.Option(False, "--json", help="print the tree and typed model as JSON"),
) -> None:
    """Parse every message in FILE: the sequence tree, the typed model and any errors."""
    _guarded(_parse_file, file, as_json)


def _guarded(fn: Callable[..., None], *args: Any) -> None:
    """Run a command body; a bug becomes one line on stderr and exit 2, never a traceback."""
    try:
        fn(*args)
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # noqa: BLE001 - the user gets a line, not a traceback
        typer.echo(f"error: internal error ({type(exc).__name__}: {exc})", err=True)
        raise typer.Exit(2) from None


def _is_error(e: Iso15022Error, strict: bool) -> bool:
    return strict or e.severity == "error"


def _validate_file(file: Path, strict: bool = False) -> None:
    text = _read(file)
    chunks = split_messages(text)
    if not chunks:
        typer.echo("L02 line 1 file holds no message")
        raise typer.Exit(1)
    bad = warned = 0
    for index, (offset, chunk) in enumerate(chunks, start=1):
        _, problems = _check(chunk, offset, warnings=True)
        if any(_is_error(e, strict) for e in problems):
            bad += 1
        elif problems:
            warned += 1
        prefix = f"message {index}: " if len(chunks) > 1 else ""
        for e in problems:
            tag = "" if _is_error(e, strict) else "warning: "
            typer.echo(f"{prefix}{tag}{e}")
    note = f", {warned} with warnings only" if warned else ""
    typer.echo(f"{len(chunks)} message(s), {bad} invalid{note}", err=True)
    raise typer.Exit(1 if bad else 0)


def _parse_file(file: Path, as_json: bool) -> None:
    text = _read(file)
    out: list[dict[str, Any]] = []
    bad = 0
    for index, (offset, chunk) in enumerate(split_messages(text), start=1):
        message, errors = _check(chunk, offset)
        entry: dict[str, Any] = {"index": index, "line": offset + 1, "errors": [e.as_dict() for e in errors]}
        if message is not None:
            entry["message"] = message_to_dict(message)
            entry["model"] = None
            if not errors:
                try:
                    entry["model"] = model_to_dict(decode(message))
                except Iso15022Error as exc:
                    entry["errors"].append(exc.shifted(offset).as_dict())
        if entry["errors"]:
            bad += 1
        out.append(entry)
    if as_json:
        typer.echo(json.dumps({"file": str(file), "messages": out}, indent=2))
    else:
        for entry in out:
            _print_entry(entry)
    raise typer.Exit(1 if bad or not out else 0)


def _print_entry(entry: dict[str, Any]) -> None:
    msg = entry.get("message")
    head = f"message {entry['index']} (line {entry['line']})"
    typer.echo(f"{head}: MT{msg['mt']}" if msg else f"{head}: unparseable")
    if msg:
        _print_items(msg["text"], 1)
    model = entry.get("model")
    if model:
        typer.echo(f"  model: {model['type']}")
    for e in entry["errors"]:
        typer.echo(f"  {e['code']} line {e['line']} {e['field']} {e['message']}")


def _print_items(items: list[dict[str, Any]], depth: int) -> None:
    pad = "  " * depth
    for item in items:
        if "sequence" in item:
            typer.echo(f"{pad}{item['sequence']}")
            _print_items(item["items"], depth + 1)
        elif "qualifier" in item:
            typer.echo(f"{pad}:{item['tag']}::{item['qualifier']}/{item['issuer']}/{item['data']!r}")
        else:
            typer.echo(f"{pad}:{item['tag']}:{item['value']!r}")


def register(root: typer.Typer) -> None:
    """Add the ``iso15022`` command group to ``root``."""
    root.add_typer(app, name="iso15022")
