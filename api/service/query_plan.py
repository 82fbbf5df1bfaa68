"""Query parameters read by a plan made once per route, not worked out again on every request.

FastAPI 0.165 resolves each query parameter through the same generic steps on every request: it inspects
the parameter's annotation (a sequence? a parameter model? JSON?), works out its aliases, copies its
default, and only then validates. For the four parameters of an instruction list that is ~50 µs of the
~400 µs a read costs in the service process (the annotation checks alone recurse through `typing`).

`planned(dependant)` gives the dependency tree a route runs with. Each node (the endpoint or a dependency)
whose query parameters are all plain scalars gets them from a QueryPlan: its function is wrapped so that it
reads them from the request itself, with the defaults, validators (each parameter's own field) and error
entries (loc `("query", alias)`) FastAPI would have used. A node with any other kind of query parameter (a
sequence, a parameter model, JSON, a validation alias) keeps FastAPI's own resolution, as do generator
dependencies. The OpenAPI document is made from the declared tree, so it does not change.

One difference, in error bodies only: FastAPI gathers the validation errors of every node before it answers
422; a planned node reports its query errors when it runs. When several parameters are wrong, the answer can
name another of them first, and counts fewer ("and N more").
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import decimal
import enum
import functools
import inspect
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from pydantic import Json
from starlette.requests import Request

# The key under which a wrapped function receives the request when its own signature does not ask for it.
REQUEST_KEY = "_query_plan_request"
_SCALARS = (str, bytes, int, float, decimal.Decimal, enum.Enum, dt.date, dt.time, dt.timedelta, uuid.UUID)
# Defaults shared safely between requests (FastAPI deep-copies every default; for these that is the identity).
_IMMUTABLE = (int, float, bool, str, bytes, type(None))


@dataclass(frozen=True)
class _Param:
    name: str  # the function's parameter
    alias: str  # the query key
    loc: tuple[str, str]
    field: Any  # FastAPI's ModelField: validates as FastAPI would
    required: bool
    default: Any
    fresh_default: bool  # copy (or make) the default on each request, as FastAPI does
    validate_default: bool


class QueryPlan:
    """The scalar query parameters of one node, resolved as FastAPI's `request_params_to_args` would."""

    def __init__(self, fields: list[Any]) -> None:
        self.params = tuple(_param(f) for f in fields)

    def resolve(self, query: Mapping[str, str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """(values by parameter name, error entries) for the query's values (the last one of a repeated key)."""
        values: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for p in self.params:
            raw = query.get(p.alias)
            if raw is None:
                if p.required:
                    errors.append({"type": "missing", "loc": p.loc, "msg": "Field required", "input": None})
                    continue
                value = copy.deepcopy(p.field.default) if p.fresh_default else p.default
                if not p.validate_default:
                    values[p.name] = value
                    continue
                raw = value
            value, errs = p.field.validate(raw, values, loc=p.loc)
            if errs:
                errors.extend(errs)
            else:
                values[p.name] = value
        return values, errors

    def read(self, request: Request) -> dict[str, Any]:
        """The values from `request`'s query; RequestValidationError (422) with every error entry if any."""
        values, errors = self.resolve(request.query_params)
        if errors:
            raise RequestValidationError(errors)
        return values


def _param(field: Any) -> _Param:
    info = field.field_info
    key = _key(field)
    required = bool(info.is_required())
    fresh = not required and (info.default_factory is not None or not isinstance(info.default, _IMMUTABLE))
    return _Param(name=field.name, alias=key, loc=("query", key), field=field, required=required,
                  default=None if required or fresh else info.default, fresh_default=fresh,
                  validate_default=bool(info.validate_default))


def _key(field: Any) -> str:
    """The one query key FastAPI reads a plannable field from: its validation alias, else its alias."""
    va = field.field_info.validation_alias
    return va if isinstance(va, str) and va else str(field.alias)


def plannable(field: Any) -> bool:
    """Whether FastAPI resolves `field` (a query parameter) as a single value under one key."""
    info = field.field_info
    va = info.validation_alias
    config = field.config or {}
    if (va is not None and not (isinstance(va, str) and va)) or any(
            k in config for k in ("validate_by_alias", "validate_by_name", "populate_by_name")):
        return False  # alias choices or paths, or names accepted besides aliases: FastAPI's way
    if any(type(m) is Json for m in info.metadata):  # as FastAPI tells a JSON-encoded parameter
        return False
    return all(_scalar(a) for a in _members(info.annotation))


def _members(annotation: Any) -> list[Any]:
    """The alternatives of `annotation` (through Annotated, Optional and unions)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [m for a in typing.get_args(annotation) for m in _members(a)]
    return [annotation]


def _scalar(annotation: Any) -> bool:
    if annotation is type(None) or typing.get_origin(annotation) is typing.Literal:
        return True
    # A known single-value type; anything else (a sequence, a model, a generic alias) is left to FastAPI.
    return isinstance(annotation, type) and issubclass(annotation, _SCALARS)


def planned(dependant: Dependant) -> Dependant:
    """`dependant`'s tree with the query parameters of every node that allows it read by a QueryPlan."""
    wrapped: dict[int, Callable[..., Any]] = {}  # one wrapper per function: FastAPI caches a dependency by it
    return _planned(dependant, wrapped)


def _planned(d: Dependant, wrapped: dict[int, Callable[..., Any]]) -> Dependant:
    subs = [_planned(s, wrapped) for s in d.dependencies]
    call = d.call
    kind = _kind(call)
    if not d.query_params or kind is None or not all(plannable(f) for f in d.query_params):
        return dataclasses.replace(d, dependencies=subs)
    assert call is not None
    own_request = d.request_param_name
    if own_request is None and REQUEST_KEY in _names(d):
        return dataclasses.replace(d, dependencies=subs)  # a parameter of that very name: FastAPI's way
    fn = wrapped.get(id(call))
    if fn is None:
        fn = wrapped[id(call)] = _wrap(call, kind, QueryPlan(list(d.query_params)), own_request)
    return dataclasses.replace(d, dependencies=subs, call=fn, query_params=[],
                               request_param_name=own_request or REQUEST_KEY)


def _names(d: Dependant) -> set[str | None]:
    """The names FastAPI passes `d.call` its arguments under."""
    fields = (*d.path_params, *d.query_params, *d.header_params, *d.cookie_params, *d.body_params)
    return {f.name for f in fields} | {s.name for s in d.dependencies} | {
        d.websocket_param_name, d.http_connection_param_name, d.response_param_name, d.background_tasks_param_name,
        d.security_scopes_param_name}


def _kind(call: Callable[..., Any] | None) -> str | None:
    """'async' or 'sync' for a plain function or coroutine function; None (not planned) for anything else."""
    if not inspect.isfunction(call):
        return None  # a callable instance, a class, a partial: left to FastAPI
    if inspect.isgeneratorfunction(call) or inspect.isasyncgenfunction(call):
        return None
    return "async" if inspect.iscoroutinefunction(call) else "sync"


def _wrap(call: Callable[..., Any], kind: str, plan: QueryPlan, own_request: str | None) -> Callable[..., Any]:
    def arguments(values: dict[str, Any]) -> dict[str, Any]:
        request = values[own_request] if own_request else values.pop(REQUEST_KEY)
        values.update(plan.read(request))
        return values

    if kind == "async":
        async def run_async(**values: Any) -> Any:
            return await call(**arguments(values))

        return functools.wraps(call)(run_async)

    def run_sync(**values: Any) -> Any:
        return call(**arguments(values))

    return functools.wraps(call)(run_sync)
