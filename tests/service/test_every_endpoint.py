"""Every operation in the OpenAPI spec: without credentials 401 with the error body (bar the public ones)."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from service_world import World

from api.service.app import API_PREFIX, ROUTERS
from api.service.routers import health


PUBLIC = {("GET", "/v1/health"), ("POST", "/v1/sessions")}
_SAMPLE = {"pid": "B00001", "code": "00700", "user_id": "1", "key_id": "abc", "aid": "1", "sid": "1",
           "run_id": "1", "name": "x.csv", "fp": "ab" * 32}


def _operations() -> list[tuple[str, str]]:
    # The spec does not depend on the context; build it from the routers alone (at collection time).
    fake = FastAPI()
    for module in (*ROUTERS, health):
        fake.include_router(module.router, prefix=API_PREFIX)
    doc = get_openapi(title="t", version="1", routes=fake.routes)
    return sorted((m.upper(), p) for p, ops in doc["paths"].items() for m in ops)


OPERATIONS = _operations()


def test_spec_lists_the_operations(world: World) -> None:
    live = world.client.get("/openapi.json").json()["paths"]
    assert sorted((m.upper(), p) for p, ops in live.items() for m in ops) == OPERATIONS
    assert len(OPERATIONS) >= 40


@pytest.mark.parametrize(("method", "path"), [op for op in OPERATIONS if op not in PUBLIC])
def test_unauthenticated_is_401(world: World, method: str, path: str) -> None:
    url = re.sub(r"\{(\w+)\}", lambda m: _SAMPLE[m.group(1)], path)
    r = world.client.request(method, url, json={} if method in ("POST", "PATCH") else None)
    assert r.status_code == 401, (method, url, r.status_code, r.text)
    assert r.json()["error"]["code"] == "unauthenticated"


