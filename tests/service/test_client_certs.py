"""Machines authenticate with client certificates: a real uvicorn HTTPS server (the service's own TLS
protocol), certificates from the repository's CA tooling (api/gateway/certs.py), httpx with and without a
certificate. Registration, participant scoping, revocation, expiry, a foreign CA, bad input."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from service_world import P1, P2, World, build, serving

from api.gateway.certs import make_certs
from api.node.client import ServiceClient, ServiceError, tls_context
from api.service import tls
from api.service.app import create_app

EXTRA = "B00009"  # a third certificate of the same CA, never registered


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fp(pem_path: Path) -> str:
    der = x509.load_pem_x509_certificate(pem_path.read_bytes()).public_bytes(Encoding.DER)
    return hashlib.sha256(der).hexdigest()


class Served:
    def __init__(self, world: World, base: str, certs: Path, foreign: Path) -> None:
        self.world, self.base, self.certs, self.foreign = world, base, certs, foreign

    def client(self, who: str | None = None, *, foreign: bool = False) -> httpx.Client:
        d = self.foreign if foreign else self.certs
        verify = tls_context(d / f"{who}.pem" if who else None, d / f"{who}.key" if who else None,
                             self.certs / "ca.pem")
        return httpx.Client(base_url=self.base, verify=verify, timeout=10)

    def register(self, who: str, admin: str = "a-admin", **extra: Any) -> httpx.Response:
        body: dict[str, Any] = {"certificate": (self.certs / f"{who}.pem").read_text(), "label": f"{who} robot",
                                "groups": ["viewer", "inputter"], **extra}
        with self.client() as c:
            return c.post("/v1/client-certificates", json=body, headers=self.world.h(admin))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("certs")
    certs, foreign = tmp / "ca", tmp / "other-ca"
    make_certs(certs, [P1, P2, EXTRA], "localhost")
    make_certs(foreign, [P1], "localhost")
    (tmp / "svc").mkdir()
    w = build(tmp / "svc", tls_cert=certs / "server.pem", tls_key=certs / "server.key", client_ca=certs / "ca.pem")
    port = _port()
    try:
        with serving(uvicorn.Config(create_app(w.ctx), host="127.0.0.1", port=port, log_level="warning",
                                    **tls.uvicorn_options(w.ctx.settings))):
            yield Served(w, f"https://127.0.0.1:{port}", certs, foreign)
    finally:
        w.client.close()
        w.ctx.engine.dispose()


def test_https_without_certificate_still_works_for_people(served: Served) -> None:
    with served.client() as c:
        assert c.get("/v1/health").status_code == 200
        r = c.get("/v1/me")
        assert r.status_code == 401 and r.json()["error"]["code"]
        me = c.get("/v1/me", headers=served.world.h("a-view")).json()
        assert me["kind"] == "user" and me["name"] == "a-view"


def test_registered_certificate_authenticates_as_its_machine(served: Served) -> None:
    r = served.register(P1)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["fingerprint"] == _fp(served.certs / f"{P1}.pem")
    assert out["participant_id"] == P1 and out["groups"] == ["inputter", "viewer"] and out["active"]
    assert out["subject"] and "B00001" in out["subject"] and out["not_after"]
    with served.client(P1) as c:
        me = c.get("/v1/me")
        assert me.status_code == 200, me.text
        assert me.json() == {"kind": "client_cert", "name": out["fingerprint"][:16], "participant_id": P1,
                             "groups": ["inputter", "viewer"]}
        assert c.get(f"/v1/accounts/{P1}/balances").status_code == 200
        # another participant's objects are not found, exactly as for its API keys and users
        bad = c.get(f"/v1/accounts/{P2}/balances")
        assert bad.status_code == 404 and bad.json()["error"]["code"]
        # the groups hold: a viewer/inputter machine is not an administrator
        assert c.get("/v1/users").status_code == 403
        # a bearer token on the same connection wins (authentication order: token, API key, certificate)
        assert c.get("/v1/me", headers=served.world.h("a-admin")).json()["name"] == "a-admin"
    audit = served.world.client.get("/v1/audit?limit=500", headers=served.world.h("op1")).json()["items"]
    assert any(e["action"] == "client_cert.registered" for e in audit)


def test_node_client_uses_the_certificate(served: Served) -> None:
    if served.register(EXTRA, admin="b-admin").status_code != 201:  # a P2 machine
        pytest.fail("registration failed")
    ctx = tls_context(served.certs / f"{EXTRA}.pem", served.certs / f"{EXTRA}.key", served.certs / "ca.pem")
    client = ServiceClient(served.base, None, ssl_context=ctx)
    assert client.balances(P2)["participant_id"] == P2
    with pytest.raises(ServiceError) as err:
        client.balances(P1)
    assert err.value.status == 404
    # without the certificate (and no API key) the same client is refused with the service's error body
    with pytest.raises(ServiceError) as err:
        ServiceClient(served.base, None, ssl_context=tls_context(ca=served.certs / "ca.pem")).balances(P2)
    assert err.value.status == 401 and err.value.body["error"]["code"]


def test_unregistered_certificate_of_the_same_ca_is_401(served: Served) -> None:
    with served.client(P2) as c:  # issued by the client CA, never registered
        r = c.get("/v1/me")
    assert r.status_code == 401
    assert "client certificate" in r.json()["error"]["message"]


def test_certificate_of_another_ca_is_refused(served: Served) -> None:
    # The TLS layer verifies a presented certificate against the client CA: the handshake fails.
    with served.client(P1, foreign=True) as c, pytest.raises(httpx.TransportError):
        c.get("/v1/me")
    # Registering it is refused too, saying why (it could never be used).
    body = {"certificate": (served.foreign / f"{P1}.pem").read_text(), "label": "x", "groups": ["viewer"]}
    with served.client() as c:
        r = c.post("/v1/client-certificates", json=body, headers=served.world.h("a-admin"))
    assert r.status_code == 422 and "client CA" in r.json()["error"]["message"]


def test_revoked_certificate_is_401(tmp_path: Path, served: Served) -> None:
    # a fresh certificate of the same CA, registered by fingerprint this time
    make_certs(served.certs, ["B00008"])
    fp = _fp(served.certs / "B00008.pem")
    w = served.world
    r = w.client.post("/v1/client-certificates", headers=w.h("a-admin"),
                      json={"fingerprint": ":".join(fp[i:i + 2] for i in range(0, 64, 2)).upper(), "label": "rot",
                            "groups": ["viewer"]})
    assert r.status_code == 201, r.text
    assert r.json()["fingerprint"] == fp and r.json()["subject"] is None
    with served.client("B00008") as c:
        assert c.get("/v1/me").status_code == 200
        # another participant's administrator neither sees nor revokes it
        assert w.client.delete(f"/v1/client-certificates/{fp}", headers=w.h("b-admin")).status_code == 404
        assert w.client.get(f"/v1/client-certificates/{fp}", headers=w.h("b-admin")).status_code == 404
        assert fp not in [x["fingerprint"] for x in
                          w.client.get("/v1/client-certificates", headers=w.h("b-admin")).json()["items"]]
        assert w.client.delete(f"/v1/client-certificates/{fp}", headers=w.h("a-admin")).status_code == 204
        assert w.client.get(f"/v1/client-certificates/{fp}", headers=w.h("a-admin")).json()["active"] is False
        r = c.get("/v1/me")  # same keep-alive connection: checked per request, not per connection
        assert r.status_code == 401
    with served.client("B00008") as c:
        assert c.get("/v1/me").status_code == 401


def test_expired_registration_is_401(served: Served) -> None:
    make_certs(served.certs, ["B00007"])
    fp = _fp(served.certs / "B00007.pem")
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    r = served.world.client.post("/v1/client-certificates", headers=served.world.h("a-admin"),
                                 json={"fingerprint": fp, "label": "old", "groups": ["viewer"], "expires_at": past})
    assert r.status_code == 201, r.text
    with served.client("B00007") as c:
        assert c.get("/v1/me").status_code == 401


@pytest.mark.parametrize("body, status, field", [
    ({"label": "x", "groups": ["viewer"]}, 422, "certificate"),  # neither certificate nor fingerprint
    ({"certificate": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n", "label": "x",
      "groups": ["viewer"]}, 422, "certificate"),
    ({"fingerprint": "zz" * 32, "label": "x", "groups": ["viewer"]}, 422, "fingerprint"),
    ({"fingerprint": "ab" * 32, "label": "x", "groups": ["operator-admin"]}, 422, "groups"),
    ({"fingerprint": "ab" * 32, "label": "x", "groups": ["viewer"], "participant_id": P2}, 403, "participant_id"),
    ({"fingerprint": "ab" * 32, "label": "", "groups": ["viewer"]}, 422, None),
    ({"fingerprint": "ab" * 32, "label": "x", "groups": ["viewer"], "extra": 1}, 422, None),
])
def test_bad_registrations_are_clear_4xx(served: Served, body: dict[str, Any], status: int, field: str | None) -> None:
    r = served.world.client.post("/v1/client-certificates", json=body, headers=served.world.h("a-admin"))
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] and err["message"]
    if field:
        assert err["field"] == field


def test_registration_rules(served: Served) -> None:
    w = served.world
    pem = (served.certs / "ca.pem").read_text()  # a CA certificate is not a client certificate
    r = w.client.post("/v1/client-certificates", json={"certificate": pem, "label": "ca", "groups": ["viewer"]},
                      headers=w.h("a-admin"))
    assert r.status_code == 422
    r = w.client.post("/v1/client-certificates", json={"certificate": (served.certs / "server.pem").read_text(),
                                                       "label": "srv", "groups": ["viewer"]}, headers=w.h("a-admin"))
    assert r.status_code == 422 and "client authentication" in r.json()["error"]["message"]
    # only administrators; a second registration of the same certificate conflicts
    assert w.client.get("/v1/client-certificates", headers=w.h("a-input")).status_code == 403
    fp = "cd" * 32
    body = {"fingerprint": fp, "label": "x", "groups": ["viewer"]}
    assert w.client.post("/v1/client-certificates", json=body, headers=w.h("a-admin")).status_code == 201
    assert w.client.post("/v1/client-certificates", json=body, headers=w.h("b-admin")).status_code == 409
    assert w.client.delete("/v1/client-certificates/nothex", headers=w.h("a-admin")).status_code == 422
    # the operator's administrator sees every participant's certificates
    items = w.client.get("/v1/client-certificates?limit=500", headers=w.h("op1")).json()["items"]
    assert {x["participant_id"] for x in items} >= {P1, P2}


def test_serve_cli_https_with_client_certificates(tmp_path: Path) -> None:
    certs = tmp_path / "ca"
    make_certs(certs, [P1])
    port = _port()
    env = {**os.environ, "LEDGERCLEAR_ADMIN_PASSWORD": "first admin password"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port),
         "--db", f"sqlite:///{tmp_path / 'serve.sqlite'}", "--reports-dir", str(tmp_path / "reports"),
         "--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"),
         "--client-ca", str(certs / "ca.pem")],
        stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert proc.stderr is not None
        deadline, seen = time.time() + 90, ""
        while time.time() < deadline and "serving on" not in seen:
            seen = proc.stderr.readline()
        assert "serving on https://" in seen and "client certificates" in seen
        verify = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        while time.time() < deadline:
            try:
                r = httpx.get(f"https://127.0.0.1:{port}/v1/health", verify=verify, timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert r.status_code == 200
        r = httpx.get(f"https://127.0.0.1:{port}/v1/me", timeout=5,
                      verify=tls_context(certs / f"{P1}.pem", certs / f"{P1}.key", certs / "ca.pem"))
        assert r.status_code == 401  # presented and verified, but not registered
        with pytest.raises(httpx.TransportError):  # plain HTTP is not served
            httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=5)
        assert (tmp_path / "ledgerclear-secret.key").stat().st_mode & 0o777 == 0o600
    finally:
        proc.terminate()
        proc.wait(20)


def test_serve_cli_refuses_bad_tls_files(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-c", "from api.cli import main; main()", "serve", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}",
         "--tls-cert", str(tmp_path / "missing.pem")], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 2 and "cannot load the server certificate" in r.stderr
    r = subprocess.run(
        [sys.executable, "-c", "from api.cli import main; main()", "serve", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}",
         "--client-ca", str(tmp_path / "ca.pem")], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 2 and "needs HTTPS" in r.stderr


def test_node_cli_with_a_certificate(served: Served) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    make_certs(served.certs, ["B00006"])
    assert served.register("B00006").status_code == 201
    d = served.certs
    opts = ["node", "--cert", str(d / "B00006.pem"), "--cert-key", str(d / "B00006.key"), "--ca", str(d / "ca.pem")]
    env = {"LEDGERCLEAR_API_KEY": ""}
    r = CliRunner().invoke(app, [*opts, "follow", "--url", served.base, "--timeout", "1"], env=env)
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["node", "--cert", str(d / "missing.pem"), "follow", "--url", served.base], env=env)
    assert r.exit_code == 2 and "client certificate / CA" in r.output
    # without a certificate or an API key the node says what to give
    r = CliRunner().invoke(app, ["node", "follow", "--url", served.base], env=env)
    assert r.exit_code == 2 and "--cert" in r.output


def test_certificate_granted_authoriser_is_straight_through(served: Served) -> None:
    w = served.world
    r = served.register(P2, admin="b-admin", groups=["inputter", "authoriser"])
    assert r.status_code == 201, r.text
    with served.client(P2) as c:
        sub = c.post("/v1/instructions", json=w.signed(w.fields(P2, P1, "receive", ref="CERT-STP", nonce=7_000_001)))
        assert sub.status_code == 201, sub.text
        assert sub.json()["status"] == "unmatched" and sub.json()["authorised_by"].startswith("cert:")
    # an inputter-only machine's input waits for an authoriser, as a person's does
    with served.client(P1) as c:
        if c.get("/v1/me").status_code == 401:
            assert served.register(P1).status_code == 201
        sub = c.post("/v1/instructions", json=w.signed(w.fields(P1, P2, "deliver", ref="CERT-MC", nonce=7_000_002)))
        assert sub.status_code == 201, sub.text
        assert sub.json()["status"] == "unauthorised"


def test_both_http_parsers_report_the_certificate(served: Served) -> None:
    """`serve` uses the httptools protocol (the fixture's server); its h11 twin reports the same identity."""
    assert tls.uvicorn_options(served.world.ctx.settings)["http"] is tls.TlsHttpToolsProtocol
    make_certs(served.certs, ["B00007"])  # a fresh certificate of the same CA, this test's own
    assert served.register("B00007").status_code == 201
    port = _port()
    config = uvicorn.Config(create_app(served.world.ctx), host="127.0.0.1", port=port, log_level="warning",
                            **{**tls.uvicorn_options(served.world.ctx.settings), "http": tls.TlsH11Protocol})
    with serving(config):
        seen = []
        for base in (served.base, f"https://127.0.0.1:{port}"):
            d = served.certs
            verify = tls_context(d / "B00007.pem", d / "B00007.key", d / "ca.pem")
            with httpx.Client(base_url=base, verify=verify, timeout=10) as c:
                me = c.get("/v1/me")
                assert me.status_code == 200, me.text
                seen.append(me.json())
        assert seen[0] == seen[1] and seen[0]["kind"] == "client_cert" and seen[0]["participant_id"] == P1
