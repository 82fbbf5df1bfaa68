"""JSON-ready views of messages and models (for the CLI and for logs): plain dicts and lists,
decimals as strings (no float rounding), dates as ISO 8601."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .message import Field, Message, Sequence
from .models import Model


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _items(seq: Sequence) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in seq.items:
        if isinstance(item, Field):
            entry: dict[str, Any] = {"tag": item.tag, "line": item.line}
            if item.generic:
                entry.update(qualifier=item.qualifier, issuer=item.issuer, data=item.data)
            else:
                entry["value"] = item.value
            out.append(entry)
        else:
            out.append({"sequence": item.name, "line": item.line, "items": _items(item)})
    return out


def message_to_dict(message: Message) -> dict[str, Any]:
    """Envelope and the text block as a tree of sequences and fields."""
    return {
        "mt": message.mt,
        "basic_header": _plain(message.basic),
        "application_header": _plain(message.app),
        "user_header": dict(message.user),
        "trailer": dict(message.trailer),
        "system": dict(message.system),
        "text": _items(message.text),
    }


def model_to_dict(model: Model) -> dict[str, Any]:
    """A typed model with its type name and derived properties (direction, payment)."""
    out: dict[str, Any] = {"type": type(model).__name__}
    body = _plain(model)
    assert isinstance(body, dict)
    out.update(body)
    for prop in ("direction", "payment"):
        if hasattr(model, prop):
            out[prop] = getattr(model, prop)
    return out
