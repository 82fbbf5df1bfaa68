"""ServiceRoute and credentials: the OpenAPI document lists the credential schemes the dependencies declare,
and requests run without resolving them (the dependencies read the credentials from the request themselves)."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.service.deps import SCHEMES, ApiKey, Bearer
from api.service.routing import ServiceRoute, add_routes


async def _who(request: Request, bearer: Bearer = None, api_key: ApiKey = None) -> str:
    scheme = SCHEMES[0]
    credentials = await scheme(request)
    return credentials.credentials if credentials is not None else request.headers.get("x-api-key", "nobody")


def _app(route_class: type[APIRoute]) -> FastAPI:
    app = FastAPI()
    router = APIRouter(route_class=route_class)

    @router.get("/who")
    async def who(name: Annotated[str, Depends(_who)]) -> dict[str, str]:
        return {"name": name}

    add_routes(app, router)
    return app


def _bearer_calls(route_class: type[APIRoute], monkeypatch: pytest.MonkeyPatch) -> int:
    """How many times the bearer scheme reads one request: once by `_who` itself, once more if FastAPI
    resolves the declared dependency too."""
    calls = [0]
    scheme = type(SCHEMES[0])
    real = scheme.__call__

    async def counted(self: object, request: Request) -> object:
        calls[0] += 1
        return await real(self, request)  # type: ignore[arg-type]

    monkeypatch.setattr(scheme, "__call__", counted)
    client = TestClient(_app(route_class))
    assert client.get("/who", headers={"Authorization": "Bearer tok"}).json() == {"name": "tok"}
    return calls[0]


def test_requests_do_not_resolve_the_declared_schemes(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _bearer_calls(ServiceRoute, monkeypatch) == 1
    client = TestClient(_app(ServiceRoute))
    assert client.get("/who", headers={"X-API-Key": "lck_a_b"}).json() == {"name": "lck_a_b"}
    assert client.get("/who").json() == {"name": "nobody"}


def test_a_plain_route_would_resolve_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The count above can fail: FastAPI's own route resolves the declared scheme as well."""
    assert _bearer_calls(APIRoute, monkeypatch) == 2


def test_the_document_lists_the_schemes() -> None:
    doc = _app(ServiceRoute).openapi()
    assert doc["paths"]["/who"]["get"]["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}]
    assert set(doc["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}


def test_every_service_route_is_a_service_route() -> None:
    from api.service.app import ROUTERS
    from api.service.routers import health

    for module in (health, *ROUTERS):
        for route in module.router.routes:
            assert isinstance(route, ServiceRoute), route
