"""The client portal: static pages (plain HTML + one vanilla JS module, Chart.js vendored under static/vendor/)
served by `ledgerclear serve` at /portal. The pages talk only to the service's own /v1 API (sessions with
password + TOTP, balances, instructions, margin, runs, approvals, the SSE event stream); no build step, no Node
at runtime, no external requests."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/portal"
# Everything from this origin: no CDN, no external request can even be made from the pages.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")


class _PortalFiles(StaticFiles):
    """Static files with the portal's security headers."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-cache")]
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


def mount(app: FastAPI) -> None:
    """Serve the portal at /portal/ and send / there (neither appears in the OpenAPI document)."""
    app.mount(PREFIX, _PortalFiles(directory=STATIC, html=True), name="portal")

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)
