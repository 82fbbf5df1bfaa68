"""Audit of refused state-changing requests (successful changes are audited by their handlers, inside the
same transaction as the change): method, path, status and the caller, as far as it was authenticated."""

from __future__ import annotations

from anyio import to_thread

from api.service import audit
from api.service.context import ServiceContext
from api.service.limits import ASGIApp, Message, Receive, Scope, Send, caller_key

CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AuditRefused:
    def __init__(self, app: ASGIApp, ctx: ServiceContext, prefix: str = "/v1") -> None:
        self.app = app
        self.ctx = ctx
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in CHANGING:
            await self.app(scope, receive, send)
            return
        status = 0

        async def watch(msg: Message) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = int(msg["status"])
            await send(msg)

        await self.app(scope, receive, watch)
        path = str(scope.get("path", ""))
        signin_denial = path == f"{self.prefix}/sessions" and status == 401  # the handler records these
        if status >= 400 and not signin_denial:
            await to_thread.run_sync(self._record, scope, status, path)

    def _record(self, scope: Scope, status: int, path: str) -> None:
        p = scope.get("state", {}).get("principal")
        actor = p.actor if p is not None else caller_key(scope)
        with self.ctx.session() as s:
            audit.append(s, actor, "request.refused", f"{scope.get('method')} {path[:60]}", {"status": status},
                         getattr(p, "participant_id", None))
