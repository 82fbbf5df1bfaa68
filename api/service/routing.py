"""How the resource routers join the app: one path prefix, the error responses every operation documents, and
their routes placed in the app's own route list."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from api.service.deps import SCHEMES
from api.service.errors import ErrorBody
from api.service.run_plan import planned

API_PREFIX = "/v1"
_ERR: dict[str, Any] = {"model": ErrorBody}
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {**_ERR, "description": "bad request"},
    401: {**_ERR, "description": "no or bad credentials"},
    403: {**_ERR, "description": "not allowed for this caller"},
    404: {**_ERR, "description": "not found (or not the caller's)"},
    409: {**_ERR, "description": "conflicts with the current state"},
    413: {**_ERR, "description": "request body too large"},
    422: {**_ERR, "description": "invalid input"},
    429: {**_ERR, "description": "rate limited; see Retry-After"},
    500: {**_ERR, "description": "internal error (logged; no details)"},
}


class ServiceRoute(APIRoute):
    """The service's route: documented from the dependency tree its endpoint declares, run with a tree prepared
    for requests (callgrind counts the instructions a read executes in the service process):

    * without the credential schemes the dependencies declare (deps.SCHEMES): those dependencies read the
      credentials from the request themselves. FastAPI resolves each declared dependency on every request;
      the two cost 9-10% of a read.
    * planned (api/service/run_plan.py): the endpoint resolves its scalar path and query parameters and its
      request-only dependencies itself, by a plan made once, not by FastAPI's generic steps on every request:
      36% of an instruction list (four query parameters, three dependencies), 28% of a balance read."""

    def run_dependant(self) -> Dependant:
        """The dependency tree requests run with (`self.dependant`, the declared one, makes the document)."""
        return planned(_without(self.dependant, SCHEMES))

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        declared = self.dependant
        self.dependant = self.run_dependant()
        try:
            return super().get_route_handler()
        finally:
            self.dependant = declared


def _without(d: Dependant, calls: tuple[object, ...]) -> Dependant:
    """`d` without the dependencies on `calls`, at any depth."""
    return dataclasses.replace(d, dependencies=[_without(sub, calls) for sub in d.dependencies
                                                if sub.call not in calls])


def resource_router(tag: str, responses: dict[int | str, dict[str, Any]] | None = None) -> APIRouter:
    """A router whose routes carry the prefix, `tag` and the error responses (all of COMMON_RESPONSES unless
    `responses` is given) from the moment they are declared."""
    return APIRouter(prefix=API_PREFIX, tags=[tag], responses=COMMON_RESPONSES if responses is None else responses,
                     route_class=ServiceRoute)


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """Put `router`'s routes in the app's route list itself.

    FastAPI 0.165's `include_router` keeps an included router as one route that is matched lazily, twice per
    request, with scope bookkeeping around each of its routes: 8% of the instructions a read executes in the
    service process (callgrind). The routes already hold everything `include_router` would have added (prefix,
    tags, responses): see `resource_router`. The routes keep their router's dependency_overrides_provider
    (none), so app.dependency_overrides does not reach them; nothing here uses it.
    """
    app.router.routes.extend(router.routes)
