"""A planned dependency tree (api/service/run_plan.py) resolves requests as FastAPI's own resolution does:
the same values and error entries for any query string or path values, on every parameter set the service
declares; and through an app, the same answers (auth before validation, dependencies in their order), the
same dependency caching and the same document."""

from __future__ import annotations

import datetime as dt
import inspect
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AliasChoices
from starlette.datastructures import QueryParams

from api.service import errors
from api.service.errors import ApiError
from api.service.routing import ServiceRoute, add_routes
from api.service.run_plan import ParamPlan, plannable


def _service_routes() -> list[ServiceRoute]:
    from api.service.app import ROUTERS
    from api.service.routers import health

    return [r for m in (health, *ROUTERS) for r in m.router.routes if isinstance(r, ServiceRoute)]


def _nodes(d: Dependant) -> Iterator[Dependant]:
    yield d
    for s in d.dependencies:
        yield from _nodes(s)


# Every distinct set of query (path) parameters the service declares, on the endpoints and their dependencies.
def _declared(kind: str) -> list[tuple[tuple[str, ...], list[Any]]]:
    found = {tuple(f.alias for f in getattr(n, kind)): list(getattr(n, kind))
             for r in _service_routes() for n in _nodes(r.dependant) if getattr(n, kind)}
    return sorted(found.items())


_QUERY_SETS, _PATH_SETS = _declared("query_params"), _declared("path_params")

_VALUE = st.one_of(
    st.integers(min_value=-10**20, max_value=10**20).map(str),
    st.sampled_from(["", " ", "0", "1", "100", "500", "501", "1.5", "1e3", "-0", "true", "null", "nan", "B00001",
                     "b00001", "B0000", "matched", "cancelled", "MATCHED", "2026-11-22", "2026-02-30", "20261122",
                     "0.5", "30", "4611686018427387904", "١٢", "\u00a0", "%", "[1]"]),
    st.text(max_size=6),
)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_query_plans_resolve_as_fastapi_does(data: st.DataObject) -> None:
    """Keys missing, repeated (the last one counts), empty, or strangers; any values."""
    keys, fields = data.draw(st.sampled_from(_QUERY_SETS))
    pairs = data.draw(st.lists(st.tuples(st.sampled_from([*keys, "other"]), _VALUE), max_size=6))
    query = QueryParams(urlencode(pairs))
    assert ParamPlan(fields, "query").resolve(query) == request_params_to_args(fields, query), pairs


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_path_plans_resolve_as_fastapi_does(data: st.DataObject) -> None:
    keys, fields = data.draw(st.sampled_from(_PATH_SETS))
    values = {k: data.draw(_VALUE) for k in keys}
    assert ParamPlan(fields, "path").resolve(values) == request_params_to_args(fields, values), values


def test_async_endpoints_without_headers_or_bodies_leave_fastapi_nothing_to_resolve() -> None:
    """Their dependencies are all async and request-only (sync ones, say, would each cost a thread hand-off)."""
    assert _QUERY_SETS and _PATH_SETS, "the service declares both"
    planned = 0
    for r in _service_routes():
        d = r.dependant
        if inspect.iscoroutinefunction(d.call) and not (d.header_params or d.cookie_params or d.body_params):
            run = r.run_dependant()
            assert (run.dependencies, run.path_params, run.query_params) == ([], [], []), r.path
            planned += 1
    assert planned >= 5


@pytest.mark.parametrize("path", ["/v1/instructions", "/v1/accounts/{pid}/balances", "/v1/me"])
def test_the_hot_reads_leave_fastapi_nothing_to_resolve(path: str) -> None:
    (route,) = [r for r in _service_routes() if r.path == path and "GET" in (r.methods or ())]
    run = route.run_dependant()
    assert (run.dependencies, run.path_params, run.query_params) == ([], [], [])


def test_unplannable_parameters_are_recognised() -> None:
    app = FastAPI()

    @app.get("/x")
    async def x(a: Annotated[list[int], Query()], b: Annotated[int | None, Query(validation_alias="bee")] = None,
                c: int = 0, d: Literal["x", "y"] | None = None, e: dt.date | None = None,
                g: Annotated[tuple[int, int] | None, Query()] = None,
                h: Annotated[int | None, Query(validation_alias=AliasChoices("h", "aitch"))] = None) -> None:
        return None

    route = app.router.routes[-1]
    assert isinstance(route, APIRoute)
    assert {f.name: plannable(f) for f in route.dependant.query_params} == {
        "a": False, "b": True, "c": True, "d": True, "e": True, "g": False, "h": False}


# --- through an app: a ServiceRoute and FastAPI's own APIRoute, side by side ---------------------------------

_calls: list[str] = []
_fresh = itertools.count()


async def caller(request: Request) -> str:
    _calls.append("caller")
    who = request.headers.get("x-who")
    if not who:
        raise ApiError(401, "who are you?")
    return who


async def context() -> str:
    _calls.append("context")
    return "ctx"


async def effect(request: Request) -> None:
    _calls.append("effect")


async def paging(limit: Annotated[int, Query(ge=1, le=500)] = 100,
                 offset: Annotated[int, Query(ge=0)] = 0) -> tuple[int, int]:
    _calls.append("paging")
    return limit, offset


async def also_paging(p: Annotated[tuple[int, int], Depends(paging)]) -> tuple[int, int]:
    return p


def sync_filter(kind: Annotated[Literal["a", "b"] | None, Query()] = None) -> str | None:
    return kind


async def tag() -> AsyncIterator[str]:
    yield "tagged"


async def generated(word: Annotated[str, Query(max_length=5)] = "w",
                    t: Annotated[str, Depends(tag)] = "") -> AsyncIterator[str]:
    yield f"{word}:{t}"  # an async generator dependency with a query parameter: left to FastAPI


Who = Annotated[str, Depends(caller)]
Pid = Annotated[str, Path(pattern=r"^[A-Z][0-9]{5}$")]


def _app(route_class: type[APIRoute]) -> FastAPI:
    app = FastAPI()
    errors.install(app)
    router = APIRouter(route_class=route_class)

    @router.get("/list", dependencies=[Depends(effect)])
    async def listing(who: Who, p: Annotated[tuple[int, int], Depends(paging)],
                      ctx: Annotated[str, Depends(context)],
                      status: Annotated[Literal["open", "closed"] | None, Query()] = None,
                      day: Annotated[dt.date | None, Query()] = None,
                      required: Annotated[int, Query(alias="need", ge=0)] = 0,
                      seen: Annotated[str | None, Query(validation_alias="seen-at")] = None) -> dict[str, Any]:
        return {"who": who, "ctx": ctx, "limit": p[0], "offset": p[1], "status": status, "day": str(day),
                "need": required, "seen": seen}

    @router.get("/accounts/{pid}/items/{n}")
    async def item(pid: Pid, n: Annotated[int, Path(ge=1)], who: Who,
                   p: Annotated[tuple[int, int], Depends(paging)]) -> dict[str, Any]:
        return {"pid": pid, "n": n, "who": who, "limit": p[0]}

    @router.get("/twice")
    async def twice(p: Annotated[tuple[int, int], Depends(paging)],
                    again: Annotated[tuple[int, int], Depends(also_paging)]) -> dict[str, int]:
        assert p == again
        return {"limit": p[0]}

    @router.get("/nested")
    async def nested(p: Annotated[tuple[int, int], Depends(also_paging)], who: Who) -> dict[str, Any]:
        return {"limit": p[0], "who": who}

    @router.get("/sync")
    def sync(request: Request, kind: Annotated[str | None, Depends(sync_filter)],
             n: Annotated[float, Query(gt=0)] = 1.0) -> dict[str, Any]:
        return {"kind": kind, "n": n, "path": request.url.path}

    @router.get("/mixed/{pid}")
    async def mixed(pid: Pid, kind: Annotated[str | None, Depends(sync_filter)], who: Who,
                    x_tag: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        return {"pid": pid, "kind": kind, "who": who, "tag": x_tag}

    @router.get("/needs")
    async def needs(x: Annotated[int, Query()], fresh: Annotated[int, Query(default_factory=lambda: next(_fresh))],
                    v: Annotated[int, Query(validate_default=True)] = "5",  # type: ignore[assignment]
                    ) -> dict[str, Any]:
        return {"x": x, "fresh": fresh, "v": repr(v)}  # v: 5 once the default is validated, '5' if not

    @router.get("/gen")
    async def gen(w: Annotated[str, Depends(generated)]) -> dict[str, str]:
        return {"w": w}

    add_routes(app, router)
    return app


_PLANNED, _PLAIN = TestClient(_app(ServiceRoute)), TestClient(_app(APIRoute))
_ME = {"x-who": "me"}

_URLS = [
    "/list", "/list?limit=5&offset=10", "/list?limit=0", "/list?limit=abc", "/list?offset=-1&limit=7",
    "/list?status=open", "/list?status=shut", "/list?day=2026-11-22", "/list?day=2026-13-01", "/list?need=3",
    "/list?need=-1", "/list?required=-1", "/list?seen-at=x&seen=y", "/list?status=shut&need=-1",
    "/list?limit=9&limit=10", "/list?other=1", "/accounts/B00001/items/3", "/accounts/b00001/items/3",
    "/accounts/B00001/items/0", "/accounts/b1/items/x", "/accounts/B00001/items/2?limit=-5",
    "/nested?limit=4", "/nested?limit=x", "/sync", "/sync?kind=b&n=2.5", "/sync?kind=c", "/sync?n=0",
    "/mixed/B00002?kind=a", "/mixed/x?kind=a", "/mixed/B00002?kind=z", "/needs?x=1", "/needs", "/needs?x=one",
    "/gen", "/gen?word=abc", "/gen?word=abcdef",
]


@pytest.mark.parametrize("headers", [_ME, {}], ids=["signed-in", "anonymous"])
@pytest.mark.parametrize("url", _URLS)
def test_answers_and_calls_are_fastapis(url: str, headers: dict[str, str]) -> None:
    """Status, body (every error entry counted) and the dependencies run, in order: an anonymous caller is
    refused (401) whatever the parameters, as FastAPI runs every dependency whose own input was valid."""
    _calls.clear()
    planned = _PLANNED.get(url, headers=headers)
    planned_calls = list(_calls)
    _calls.clear()
    plain = _PLAIN.get(url, headers=headers)
    a, b = planned.json(), plain.json()
    if url == "/needs?x=1":
        assert a.pop("fresh") != _PLANNED.get(url).json()["fresh"]  # the default factory runs per request
        b.pop("fresh")
    assert (planned.status_code, a, planned_calls) == (plain.status_code, b, _calls)


def test_a_dependency_used_twice_still_runs_once() -> None:
    _calls.clear()
    assert _PLANNED.get("/twice?limit=3").json() == {"limit": 3}
    assert _calls == ["paging"]


def test_errors_left_to_fastapi_hide_the_planned_ones_from_the_count() -> None:
    """The documented difference: a sync dependency is FastAPI's; when it and the endpoint's own planned
    parameter are both wrong, FastAPI answers with the dependency's error before the endpoint runs."""
    planned, plain = _PLANNED.get("/sync?kind=c&n=0").json(), _PLAIN.get("/sync?kind=c&n=0").json()
    assert planned["error"]["field"] == plain["error"]["field"] == "kind"
    assert plain["error"]["message"] == planned["error"]["message"] + " (and 1 more)"


def test_what_is_left_to_fastapi() -> None:
    app = _PLANNED.app
    assert isinstance(app, FastAPI)
    left = {r.path: ([getattr(s.call, "__name__", "") for s in r.run_dependant().dependencies],
                     [f.name for n in _nodes(r.run_dependant()) for f in (*n.path_params, *n.query_params)])
            for r in app.router.routes if isinstance(r, ServiceRoute)}
    assert left == {
        "/list": ([], []), "/accounts/{pid}/items/{n}": ([], []), "/nested": ([], []),
        # one dependency twice: FastAPI's cache shares it, so the endpoint's dependencies stay FastAPI's
        "/twice": (["paging", "also_paging"], ["limit", "offset", "limit", "offset"]),
        "/sync": (["sync_filter"], ["kind"]),  # a sync dependency: FastAPI runs it in the thread pool
        "/mixed/{pid}": (["sync_filter", "caller"], ["pid", "kind"]),  # a header parameter: all FastAPI's
        "/needs": ([], []),
        "/gen": (["generated"], ["word"]),  # a generator dependency stays FastAPI's
    }


def test_the_document_is_the_declared_one() -> None:
    planned, plain = _PLANNED.app, _PLAIN.app
    assert isinstance(planned, FastAPI) and isinstance(plain, FastAPI)
    assert planned.openapi() == plain.openapi()
