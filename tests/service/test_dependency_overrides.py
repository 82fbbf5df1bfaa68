"""The service's dependencies are FastAPI's own, so app.dependency_overrides (FastAPI's testing hook) reaches
every route: a test can stand in for the caller, and the role checks still apply to whoever it stands in for."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from service_world import P1, World

from api.service.app import create_app
from api.service.deps import authenticate
from api.service.principal import Principal

VIEWER = Principal("user", 10_001, "stand-in", P1, frozenset({"viewer"}))


@pytest.fixture()
def app(world: World) -> Iterator[FastAPI]:
    app = create_app(world.ctx)  # an app of its own: the overrides end with the test
    yield app
    app.dependency_overrides.clear()


def test_an_overridden_caller_is_who_every_route_sees(world: World, app: FastAPI) -> None:
    app.dependency_overrides[authenticate] = lambda: VIEWER
    with TestClient(app, raise_server_exceptions=False) as c:  # no credentials sent at all
        assert c.get("/v1/me").json() == {"kind": "user", "name": "stand-in", "participant_id": P1,
                                          "groups": ["viewer"]}
        lst = c.get("/v1/instructions?limit=5")  # a route behind a role check
        assert lst.status_code == 200, lst.text
        assert all(i["participant_id"] == P1 for i in lst.json()["items"])
        bal = c.get(f"/v1/accounts/{P1}/balances")
        assert bal.status_code == 200 and bal.json()["participant_id"] == P1
        # the role checks and ownership still hold for the stand-in
        assert c.get("/v1/users").status_code == 403
        assert c.get("/v1/accounts/B00002/balances").status_code == 404


def test_without_the_override_credentials_are_required_again(app: FastAPI) -> None:
    app.dependency_overrides[authenticate] = lambda: VIEWER
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/v1/me").status_code == 200
        app.dependency_overrides.clear()
        r = c.get("/v1/me")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
