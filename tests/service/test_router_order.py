"""app.ROUTERS is ordered for speed (route matching scans the included routers in order, so the participant
nodes' busiest resources come first); no path is claimed by two routers, so the order changes no answer."""

from __future__ import annotations

import re

from starlette.routing import Match, Route

from api.service.app import ROUTERS
from api.service.routers import health


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

