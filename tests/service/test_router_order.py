"""app.ROUTERS is ordered for speed (route matching scans the app's routes in order, so the participant nodes'
busiest resources come first); no path is claimed by two routers, so the order changes no answer. The routes
join the app as declared (api/service/routing.py)."""

from __future__ import annotations

import re

from fastapi import FastAPI
from service_world import World
from starlette.routing import Match, Route

from api.service.app import ROUTERS
from api.service.routers import health
from api.service.routing import API_PREFIX


def _sample(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "B00001", path)


def test_no_path_is_claimed_by_two_routers() -> None:
    routers = [health.router, *(m.router for m in ROUTERS)]
    for i, mine in enumerate(routers):
        for route in mine.routes:
            assert isinstance(route, Route)
            for method in route.methods or {"GET"}:
                scope = {"type": "http", "path": _sample(route.path), "method": method}
                for j, other in enumerate(routers):
                    if j == i:
                        continue
                    for rival in other.routes:
                        assert isinstance(rival, Route)
                        match, _ = rival.matches(scope)
                        assert match is Match.NONE, f"{route.path} ({method}) also matches {rival.path}"


def test_the_app_holds_the_routers_routes_in_order(world: World) -> None:
    """Every route of every router is in the app itself, ROUTERS in order and then health, first in the list;
    the OpenAPI document's route is last."""
    declared = [r for m in (*ROUTERS, health) for r in m.router.routes]
    app = world.client.app
    assert isinstance(app, FastAPI)
    app_routes = app.router.routes
    assert app_routes[:len(declared)] == declared
    assert all(r.path.startswith(API_PREFIX + "/") for r in declared)
    assert getattr(app_routes[-1], "path", None) == "/openapi.json"
    assert world.client.get("/openapi.json").status_code == 200
