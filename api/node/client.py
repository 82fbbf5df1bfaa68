"""A small HTTP client of the participant service (stdlib only), authenticated by an API key or by a client
certificate (HTTPS; the administrator registered the certificate, POST /v1/client-certificates)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ServiceError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"HTTP {status}: {err.get('code', '?')}: {err.get('message', body)}")
        self.status = status
        self.body = body


def tls_context(cert: Path | None = None, key: Path | None = None, ca: Path | None = None) -> ssl.SSLContext:
    """A client TLS context: the service's CA to trust (default: the system's), and the client certificate
    with its key to present (key None: in the certificate's PEM file)."""
    ctx = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    return ctx


@dataclass
class ServiceClient:
    base_url: str
    api_key: str | None  # None: authenticated by the client certificate in ssl_context
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = None

    def _req(self, method: str, path: str, body: Any = None) -> urllib.request.Request:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        if data is not None:
            headers["Content-Type"] = "application/json"
        return urllib.request.Request(self.base_url.rstrip("/") + path, data=data, method=method, headers=headers)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            with urllib.request.urlopen(self._req(method, path, body), timeout=self.timeout,
                                        context=self.ssl_context) as resp:
                raw = resp.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = {"error": {"message": raw.decode(errors="replace")}}
            raise ServiceError(exc.code, parsed) from None

    def signing_domain(self) -> dict[str, Any]:
        return dict(self.call("GET", "/v1/signing-domain"))

    def submit(self, fields: dict[str, Any], signature: str) -> dict[str, Any]:
        return dict(self.call("POST", "/v1/instructions", {"instruction": fields, "signature": signature}))

    def instruction(self, sid: int) -> dict[str, Any]:
        return dict(self.call("GET", f"/v1/instructions/{sid}"))

    def evidence(self, sid: int) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/v1/instructions/{sid}/evidence"))

    def balances(self, pid: str) -> dict[str, Any]:
        out = dict(self.call("GET", f"/v1/accounts/{pid}/balances?limit=500"))
        items = list(out["securities"]["items"])
        while out["securities"]["next_offset"] is not None:
            page = self.call("GET", f"/v1/accounts/{pid}/balances?limit=500&offset={out['securities']['next_offset']}")
            items += page["securities"]["items"]
            out["securities"] = page["securities"]
        out["securities"] = {"items": items, "next_offset": None}
        return out

    def events(self, after: int = 0, limit: int | None = None, timeout: float = 3600) -> Iterator[dict[str, Any]]:
        """Server-Sent Events of the participant's own status changes, as {id, type, data} dicts."""
        q = f"/v1/events/stream?after={after}&timeout={timeout}" + (f"&limit={limit}" if limit else "")
        req = self._req("GET", q)
        req.add_header("Accept", "text/event-stream")
        try:
            resp = urllib.request.urlopen(req, timeout=timeout + 30, context=self.ssl_context)
        except urllib.error.HTTPError as exc:
            raise ServiceError(exc.code, json.loads(exc.read() or b"{}")) from None
        with resp:
            ev: dict[str, Any] = {}
            for raw in resp:
                line = raw.decode().rstrip("\n")
                if not line:
                    if "data" in ev:
                        yield {"id": int(ev.get("id", 0)), "type": ev.get("event", "message"),
                               "data": json.loads(ev["data"])}
                    ev = {}
                elif not line.startswith(":") and ":" in line:
                    k, v = line.split(":", 1)
                    ev[k] = v.lstrip(" ")
