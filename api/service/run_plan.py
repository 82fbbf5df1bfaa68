"""The dependency tree a route's requests run with, planned once per route instead of worked out per request.

FastAPI 0.165 resolves a route's dependency tree on every request through generic steps. For each query or
path parameter it inspects the annotation (a sequence? a parameter model? JSON?), works out the aliases and
copies the default before it validates: 14-24 µs a parameter (micro-benchmark). For each dependency it makes a
cache key, classifies the function again and gathers its parameters of four kinds: ~60 k instructions a
dependency (callgrind: three merged into one saved 121 k). An instruction list has four query parameters and
three dependencies: about a third of what a read cost in the service process (callgrind: 1,176 k instructions
before, 757 k planned).

`planned(dependant)` prepares a route's tree once. The endpoint's function is wrapped so that it resolves
itself, from the request:

* **its path and query parameters**, when they are all of plain scalar types (ParamPlan): the defaults,
  validators (each parameter's own field) and error entries (loc `("path" | "query", key)`) FastAPI would
  have used;
* **its dependencies**, when every one of them, and everything under them, is an `async` function that
  takes only such parameters and the request and is used once in the tree: solved in their declared order
  before the endpoint's own parameters, each called only if its own subtree was valid, every error entry
  gathered into one 422, exactly as FastAPI's `solve_dependencies` does.

Anything else stays FastAPI's: header, cookie and body parameters (an endpoint with any keeps its whole
tree), sequences, parameter models, JSON, alias choices, generators, sync dependencies (FastAPI runs those in
the thread pool), a dependency used twice (FastAPI's per-request cache shares it), and all the dependencies of
an endpoint if any one of them is left. The OpenAPI document is made from the declared tree and does not
change.

One difference, in error bodies only: when an endpoint's dependencies are left to FastAPI and both they and
the endpoint's planned parameters are wrong, FastAPI answers with its dependencies' errors alone, so the 422
names the same first error but counts fewer ("and N more").
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
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from pydantic import Json
from starlette.requests import Request

# The key under which the wrapped endpoint receives the request when its own signature does not ask for it.
REQUEST_KEY = "_run_plan_request"
_SCALARS = (str, bytes, int, float, decimal.Decimal, enum.Enum, dt.date, dt.time, dt.timedelta, uuid.UUID)
# Defaults shared safely between requests (FastAPI deep-copies every default; for these that is the identity).
_IMMUTABLE = (int, float, bool, str, bytes, type(None))

Where = Literal["path", "query"]


@dataclass(frozen=True)
class _Param:
    name: str  # the function's parameter
    key: str  # the request's key (query key or path parameter)
    loc: tuple[str, str]
    field: Any  # FastAPI's ModelField: validates as FastAPI would
    required: bool
    default: Any
    fresh_default: bool  # copy (or make) the default on each request, as FastAPI does
    validate_default: bool


class ParamPlan:
    """Plain scalar parameters from one place of the request, resolved as FastAPI's `request_params_to_args`."""

    def __init__(self, fields: list[Any], where: Where) -> None:
        self.where = where
        self.params = tuple(_param(f, where) for f in fields)

    def resolve(self, source: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """(values by parameter name, error entries) from `source` (for a query: the last value of a key)."""
        values: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for p in self.params:
            raw = source.get(p.key)
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

    def source(self, request: Request) -> Mapping[str, Any]:
        return request.path_params if self.where == "path" else request.query_params


def _param(field: Any, where: Where) -> _Param:
    info = field.field_info
    key = _key(field)
    required = bool(info.is_required())
    fresh = not required and (info.default_factory is not None or not isinstance(info.default, _IMMUTABLE))
    return _Param(name=field.name, key=key, loc=(where, key), field=field, required=required,
                  default=None if required or fresh else info.default, fresh_default=fresh,
                  validate_default=bool(info.validate_default))


def _key(field: Any) -> str:
    """The one key FastAPI reads a plannable field from: its validation alias, else its alias."""
    va = field.field_info.validation_alias
    return va if isinstance(va, str) and va else str(field.alias)


def plannable(field: Any) -> bool:
    """Whether FastAPI resolves `field` (a path or query parameter) as a single value under one key."""
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


@dataclass(frozen=True)
class _Step:
    """A node of the tree, planned: its dependencies (solved first, in their order) and its parameters."""

    name: str | None  # the parent's parameter it fills (None: run for its effect, or the route's endpoint)
    call: Callable[..., Any]
    request_name: str | None  # the keyword the call takes the request under, if any
    subs: tuple[_Step, ...]
    params: tuple[ParamPlan, ...]  # path, then query: the order FastAPI reports their errors in

    async def arguments(self, request: Request, errors: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The call's arguments, as FastAPI's `solve_dependencies` gathers them: each dependency solved (and
        called only if its own subtree had no errors), then the parameters. None if anything here was
        invalid; its error entries are added to `errors`."""
        before = len(errors)
        values: dict[str, Any] = {}
        for sub in self.subs:
            got = await sub.arguments(request, errors)
            if got is not None:
                value = await sub.call(**got)
                if sub.name is not None:
                    values[sub.name] = value
        values.update(self.parameters(request, errors))
        if len(errors) > before:
            return None
        if self.request_name is not None:
            values[self.request_name] = request
        return values

    def parameters(self, request: Request, errors: list[dict[str, Any]]) -> dict[str, Any]:
        """The valid parameters' values; the others' error entries are added to `errors`."""
        values: dict[str, Any] = {}
        for plan in self.params:
            found, errs = plan.resolve(plan.source(request))
            values.update(found)
            errors.extend(errs)
        return values


def planned(dependant: Dependant) -> Dependant:
    """`dependant` (a route's tree) with its endpoint planned, if the endpoint allows it (see the module's
    docstring)."""
    d = dependant
    kind = _kind(d.call)
    if kind is None or not _own_params_plannable(d) or (d.request_param_name is None and REQUEST_KEY in _names(d)):
        return d
    uses = Counter(id(n.call) for n in _nodes(d))  # by identity: a callable need not be hashable
    subs = tuple(_step(s, uses) for s in d.dependencies) if kind == "async" else ()
    if subs and any(s is None for s in subs):
        subs = ()  # one dependency is FastAPI's: so are the others, so they run in their order
    steps = tuple(s for s in subs if s is not None)
    params = _params(d)
    if not steps and not params:
        return d
    assert d.call is not None
    endpoint = _Step(None, d.call, None, steps, params)
    return dataclasses.replace(d, call=_wrap(endpoint, kind, d.request_param_name),
                               dependencies=[] if steps else d.dependencies, path_params=[], query_params=[],
                               request_param_name=d.request_param_name or REQUEST_KEY)


def _step(d: Dependant, uses: Counter[int]) -> _Step | None:
    """The planned dependency `d`, or None if it (or anything under it) must be left to FastAPI."""
    if (_kind(d.call) != "async" or uses[id(d.call)] != 1 or not _own_params_plannable(d)
            or (d.request_param_name and d.http_connection_param_name) or d.websocket_param_name
            or d.response_param_name or d.background_tasks_param_name or d.security_scopes_param_name
            or d.own_oauth_scopes or d.scope is not None or d.concurrency is not None):
        return None
    subs = [_step(s, uses) for s in d.dependencies]
    if any(s is None for s in subs):
        return None
    assert d.call is not None
    return _Step(d.name, d.call, d.request_param_name or d.http_connection_param_name,
                 tuple(s for s in subs if s is not None), _params(d))


def _own_params_plannable(d: Dependant) -> bool:
    return (not d.header_params and not d.cookie_params and not d.body_params
            and all(map(plannable, (*d.path_params, *d.query_params))))


def _params(d: Dependant) -> tuple[ParamPlan, ...]:
    plans = (ParamPlan(list(d.path_params), "path"), ParamPlan(list(d.query_params), "query"))
    return tuple(p for p in plans if p.params)


def _nodes(d: Dependant) -> typing.Iterator[Dependant]:
    yield d
    for s in d.dependencies:
        yield from _nodes(s)


def _names(d: Dependant) -> set[str | None]:
    """The names FastAPI passes `d.call` its arguments under."""
    fields = (*d.path_params, *d.query_params, *d.header_params, *d.cookie_params, *d.body_params)
    return {f.name for f in fields} | {s.name for s in d.dependencies} | {
        d.websocket_param_name, d.http_connection_param_name, d.response_param_name, d.background_tasks_param_name,
        d.security_scopes_param_name}


def _kind(call: Callable[..., Any] | None) -> Literal["async", "sync"] | None:
    """'async' or 'sync' for a plain function or coroutine function; None (not planned) for anything else."""
    if not inspect.isfunction(call):
        return None  # a callable instance, a class, a partial: left to FastAPI
    if inspect.isgeneratorfunction(call) or inspect.isasyncgenfunction(call):
        return None
    return "async" if inspect.iscoroutinefunction(call) else "sync"


def _wrap(endpoint: _Step, kind: str, own_request: str | None) -> Callable[..., Any]:
    """The endpoint as the route calls it: FastAPI passes what it still resolves (and the request), the plan
    adds the rest, and a 422 carries every error entry of the planned part, as FastAPI's would."""
    call = endpoint.call

    def request_of(values: dict[str, Any]) -> Request:
        return values[own_request] if own_request else values.pop(REQUEST_KEY)  # type: ignore[no-any-return]

    if kind == "async":
        async def run_async(**values: Any) -> Any:
            errors: list[dict[str, Any]] = []
            got = await endpoint.arguments(request_of(values), errors)
            if got is None:
                raise RequestValidationError(errors)
            return await call(**values, **got)

        return functools.wraps(call)(run_async)

    def run_sync(**values: Any) -> Any:  # a sync endpoint's dependencies are all FastAPI's
        errors: list[dict[str, Any]] = []
        got = endpoint.parameters(request_of(values), errors)
        if errors:
            raise RequestValidationError(errors)
        return call(**values, **got)

    return functools.wraps(call)(run_sync)
