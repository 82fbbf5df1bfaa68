"""HTTPS for `ledgerclear serve`, and the client certificate of each connection in the ASGI scope.

Why a uvicorn protocol subclass is here, and only here: uvicorn (0.54) has no public way to hand the
application the TLS peer certificate. It neither fills the ASGI TLS extension nor passes the transport or its
`ssl_object` to the app, and a middleware sees only the scope. The certificate belongs to the connection, and
uvicorn makes one protocol object per connection that hands each request on it to `self.app`; so, when the
service accepts client certificates (client_ca), `serve` passes uvicorn (its public `http` option) a subclass
of its httptools protocol (the h11 one has its twin) that, once the handshake is done (asyncio calls
`connection_made` after it), wraps `self.app` in an app that adds the ASGI TLS extension to each scope:
`scope["extensions"]["tls"] = {"client_cert_chain": [PEM], "client_cert_name", "client_cert_error", ...}`.
Only a certificate the TLS layer verified against the client CA is put there. Without client_ca, uvicorn runs
its own protocol as configured. tests/service/test_client_certs.py fails if a uvicorn release breaks the hook.

The client certificate is optional at the TLS layer (CERT_OPTIONAL): browsers and API-key callers connect
without one; a certificate that is presented must chain to the client CA or the handshake fails.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import ssl
from typing import Any

from cryptography import x509
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.service.settings import Settings

_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
_HEX_FP = re.compile(r"^[0-9a-f]{64}$")


def fingerprint(der: bytes) -> str:
    """sha256 of the DER certificate, lower-case hex (what `openssl x509 -fingerprint -sha256` shows, without
    colons)."""
    return hashlib.sha256(der).hexdigest()


def normalise_fingerprint(text: str) -> str | None:
    """A sha256 fingerprint as lower-case hex, from hex with or without colons; None if it is not one."""
    fp = text.strip().replace(":", "").lower()
    return fp if _HEX_FP.match(fp) else None


def server_context(settings: Settings) -> ssl.SSLContext:
    """The server's TLS context from the settings (tls_cert, tls_key, client_ca). ValueError says what is
    wrong with which file."""
    if settings.tls_cert is None:
        raise ValueError("HTTPS needs tls_cert (and tls_key unless the key is in the same PEM file)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot load the server certificate {settings.tls_cert} / key {settings.tls_key}: "
                         f"{exc}") from None
    if settings.client_ca is not None:
        try:
            ctx.load_verify_locations(cafile=settings.client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot load the client CA {settings.client_ca}: {exc}") from None
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def tls_extension(ssl_object: ssl.SSLObject) -> dict[str, Any]:
    """The ASGI TLS extension of a finished handshake (the standard library gives the client's leaf
    certificate only, not the chain it sent, nor the cipher suite's number)."""
    der = ssl_object.getpeercert(binary_form=True)
    # The dict form is empty unless the certificate was verified: with CERT_OPTIONAL a presented certificate
    # that fails verification aborts the handshake, so this is a belt to those braces.
    verified = bool(der) and bool(ssl_object.getpeercert())
    name: str | None = None
    if der and verified:
        try:
            name = x509.load_der_x509_certificate(der).subject.rfc4514_string()
        except ValueError:
            verified = False
    version = ssl_object.version()
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der and verified else [],
        "client_cert_name": name,
        "client_cert_error": "not verified" if der and not verified else None,
        "tls_version": _TLS_VERSIONS.get(version) if version else None,
        "cipher_suite": None,
    }


class _WithTls:
    """The app as seen from one TLS connection: every scope carries the connection's TLS extension."""

    def __init__(self, app: ASGIApp, tls: dict[str, Any]) -> None:
        self.app = app
        self.tls = tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "extensions": {**(scope.get("extensions") or {}), "tls": self.tls}}
        await self.app(scope, receive, send)


class _ReportsPeerCertificate(asyncio.Protocol):
    """Mixed into a uvicorn HTTP protocol: once the handshake is done, its app sees the TLS extension."""

    app: ASGIApp

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if isinstance(ssl_object, ssl.SSLObject):
            self.app = _WithTls(self.app, tls_extension(ssl_object))


class TlsH11Protocol(_ReportsPeerCertificate, H11Protocol):  # type: ignore[misc]
    """uvicorn's h11 protocol, reporting the connection's verified client certificate to the app."""


class TlsHttpToolsProtocol(_ReportsPeerCertificate, HttpToolsProtocol):  # type: ignore[misc]
    """uvicorn's httptools protocol (the one `serve` uses), reporting the verified client certificate.
    Module-level classes: with several workers uvicorn pickles its config, classes by name."""


def peer_certificate(request: Request) -> bytes | None:
    """The DER client certificate the TLS layer verified for this request's connection, or None."""
    ext = request.scope.get("extensions") or {}
    tls = ext.get("tls") if isinstance(ext, dict) else None
    if not isinstance(tls, dict) or tls.get("client_cert_error") is not None:
        return None
    chain = tls.get("client_cert_chain") or []
    if not chain:
        return None
    try:
        return ssl.PEM_cert_to_DER_cert(chain[0])
    except ValueError:
        return None


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.run/Config options: the HTTP protocol, and HTTPS when the settings have a certificate (with the
    peer-certificate hook above when they accept client certificates)."""
    if settings.tls_cert is None:
        return {"http": "httptools"}
    server_context(settings)  # errors surface here, before the port is bound
    # A partial of a module function, not a closure: with several workers uvicorn pickles its config into
    # each process.
    return {"http": TlsHttpToolsProtocol if settings.client_ca is not None else "httptools",
            "ssl_context_factory": functools.partial(_context_factory, settings)}


def _context_factory(settings: Settings, _config: Any, _default: Any) -> ssl.SSLContext:
    return server_context(settings)


def run(app: ASGIApp | str, settings: Settings, host: str, port: int, **options: Any) -> None:
    """uvicorn.run, over HTTPS when the settings have a certificate (client certificates with client_ca).
    `app` may be an import string (with factory=True and workers=N: one app per worker process)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, **uvicorn_options(settings), **options)
