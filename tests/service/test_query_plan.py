"""Query parameters read by a QueryPlan (api/service/query_plan.py) give what FastAPI's own resolution gives:
the same values and error entries for any query string, on every planned node of the service's routes; and
through an app, the same answers, the same document, the same dependency caching."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import pytest
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AliasChoices
from starlette.datastructures import QueryParams

from api.service import errors
from api.service.query_plan import QueryPlan, plannable
from api.service.routing import ServiceRoute, add_routes


def _service_routes() -> list[ServiceRoute]:
    from api.service.app import ROUTERS
    from api.service.routers import health

    return [r for m in (health, *ROUTERS) for r in m.router.routes if isinstance(r, ServiceRoute)]


def _nodes(d: Dependant) -> Iterator[Dependant]:
    yield d
    for s in d.dependencies:
        yield from _nodes(s)


# Every distinct set of query parameters the service declares (the endpoints' own, and their dependencies').
_DECLARED = {tuple(f.alias for f in n.query_params): list(n.query_params)
             for r in _service_routes() for n in _nodes(r.dependant) if n.query_params}
_FIELD_SETS = sorted(_DECLARED.items())

_VALUE = st.one_of(
    st.integers(min_value=-10**20, max_value=10**20).map(str),
    st.sampled_from(["", " ", "0", "1", "100", "500", "501", "1.5", "1e3", "-0", "true", "null", "nan", "B00001",
                     "b00001", "B0000", "matched", "cancelled", "MATCHED", "2026-11-22", "2026-02-30", "20261122",
                     "0.5", "30", "١٢", "\u00a0", "%", "[1]"]),
    st.text(max_size=6),
)


def _query(keys: tuple[str, ...]) -> st.SearchStrategy[bytes]:
    """Query strings over `keys` and a stranger: keys missing, repeated (the last one counts) or empty."""
    pair = st.tuples(st.sampled_from([*keys, "other"]), _VALUE)
    return st.lists(pair, max_size=6).map(lambda pairs: urlencode(pairs).encode())


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_every_planned_node_resolves_as_fastapi_does(data: st.DataObject) -> None:
    keys, fields = data.draw(st.sampled_from(_FIELD_SETS))
    qs = data.draw(_query(keys))
    query = QueryParams(qs)
    assert QueryPlan(fields).resolve(query) == request_params_to_args(fields, query), qs


def test_the_service_declares_only_plannable_query_parameters() -> None:
    """So every node with query parameters is planned: none is left for FastAPI to resolve per request."""
    assert _FIELD_SETS, "the service declares query parameters"
    for r in _service_routes():
        for n in _nodes(r.run_dependant()):
            assert not n.query_params, (r.path, [f.name for f in n.query_params])


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

_calls: dict[str, int] = {}
_fresh = itertools.count()


async def paging(limit: Annotated[int, Query(ge=1, le=500)] = 100,
                 offset: Annotated[int, Query(ge=0)] = 0) -> tuple[int, int]:
    _calls["paging"] = _calls.get("paging", 0) + 1
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


def _app(route_class: type[APIRoute]) -> FastAPI:
    app = FastAPI()
    errors.install(app)
    router = APIRouter(route_class=route_class)

    @router.get("/list")
    async def listing(p: Annotated[tuple[int, int], Depends(paging)],
                      status: Annotated[Literal["open", "closed"] | None, Query()] = None,
                      day: Annotated[dt.date | None, Query()] = None,
                      required: Annotated[int, Query(alias="need", ge=0)] = 0,
                      seen: Annotated[str | None, Query(validation_alias="seen-at")] = None) -> dict[str, Any]:
        return {"limit": p[0], "offset": p[1], "status": status, "day": str(day), "need": required, "seen": seen}

    @router.get("/twice")
    async def twice(p: Annotated[tuple[int, int], Depends(paging)],
                    again: Annotated[tuple[int, int], Depends(also_paging)]) -> dict[str, int]:
        assert p == again
        return {"limit": p[0]}

    @router.get("/sync")
    def sync(request: Request, kind: Annotated[str | None, Depends(sync_filter)],
             n: Annotated[float, Query(gt=0)] = 1.0) -> dict[str, Any]:
        return {"kind": kind, "n": n, "path": request.url.path}

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


@pytest.mark.parametrize("url", [
    "/list", "/list?limit=5&offset=10", "/list?limit=0", "/list?limit=abc", "/list?offset=-1&limit=7",
    "/list?status=open", "/list?status=shut", "/list?day=2026-11-22", "/list?day=2026-13-01", "/list?need=3",
    "/list?need=-1", "/list?required=-1", "/list?seen-at=x&seen=y", "/list?status=shut&need=-1", "/list?limit=9&limit=10", "/list?other=1", "/sync", "/sync?kind=b&n=2.5", "/sync?kind=c",
    "/sync?n=0", "/needs?x=1", "/needs", "/needs?x=one", "/gen", "/gen?word=abc", "/gen?word=abcdef",
])
def test_answers_are_fastapis(url: str) -> None:
    planned, plain = _PLANNED.get(url), _PLAIN.get(url)
    a, b = planned.json(), plain.json()
    if url == "/needs?x=1":
        assert a.pop("fresh") != _PLANNED.get(url).json()["fresh"]  # the default factory runs per request
        b.pop("fresh")
    assert (planned.status_code, a) == (plain.status_code, b)


def test_a_dependency_used_twice_still_runs_once() -> None:
    _calls.clear()
    assert _PLANNED.get("/twice?limit=3").json() == {"limit": 3}
    assert _calls == {"paging": 1}


def test_errors_of_one_dependency_used_twice_are_counted_once() -> None:
    """The documented difference: FastAPI solves a failing dependency again at its second use and counts its
    errors twice; a planned one answers at the first."""
    planned, plain = _PLANNED.get("/twice?limit=0").json(), _PLAIN.get("/twice?limit=0").json()
    assert planned["error"]["message"] == "limit: Input should be greater than or equal to 1"
    assert plain["error"]["message"] == planned["error"]["message"] + " (and 1 more)"


def test_planned_routes_run_without_fastapis_query_resolution() -> None:
    app = _PLANNED.app
    assert isinstance(app, FastAPI)
    left = {r.path: [f.name for n in _nodes(r.run_dependant()) for f in n.query_params]
            for r in app.router.routes if isinstance(r, ServiceRoute)}
    assert left == {"/list": [], "/twice": [], "/sync": [], "/needs": [], "/gen": ["word"]}  # the generator's
    # parameter stays FastAPI's


def test_the_document_is_the_declared_one() -> None:
    planned, plain = _PLANNED.app, _PLAIN.app
    assert isinstance(planned, FastAPI) and isinstance(plain, FastAPI)
    assert planned.openapi() == plain.openapi()
