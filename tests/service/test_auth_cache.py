"""The per-process authentication cache (api/service/auth_cache.py, used by api/service/deps.py): a revoked or changed credential is refused on the
very next request even when the cache remembers it, also when the change was made through another app and
context on the same database (another worker process); expiry still holds with a warm cache; the cache is
bounded; a warm request reads the auth epoch and no credential table."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi.testclient import TestClient
from alembic import command
from service_world import P1, P2, PASSWORD, World, user_id, with_settings
from sqlalchemy import event, inspect, select, update
from sqlalchemy.engine import Engine
from starlette.types import Receive, Scope, Send

from api.service import migrate as service_migrate
from api.service.app import create_app
from api.service.bootstrap import prepare_secrets
from api.service.context import make_engine, open_context
from api.service.db import AuthEpochRow, UserRow
from api.service.auth_cache import AuthCache, Remembered, auth_cache, auth_epoch
from api.service.principal import Principal
from api.service.security import totp_now
from ledger import migrate as ledger_migrate

SESSION_REFUSED = "session token unknown, expired or signed out"


@pytest.fixture(scope="module")
def other(world: World) -> Iterator[TestClient]:
    """A second app over its own context and engine on the same database file: another worker process as far
    as caches go (nothing in memory is shared with `world`)."""
    ctx2 = open_context(world.ctx.settings, deployment=world.ctx.deployment)
    prepare_secrets(ctx2)
    assert ctx2.engine is not world.ctx.engine
    client = TestClient(create_app(ctx2), raise_server_exceptions=False)
    yield client
    client.close()
    ctx2.engine.dispose()


def _me(client: TestClient, headers: dict[str, str]) -> Any:
    return client.get("/v1/me", headers=headers)


def _refused(r: Any, message: str) -> None:
    assert r.status_code == 401, r.text
    assert r.json()["error"]["message"] == message
    assert r.headers["WWW-Authenticate"] == "Bearer"


def _warm(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    """Authenticate twice, so the second answer comes from the cache."""
    first = _me(client, headers)
    assert first.status_code == 200, first.text
    second = _me(client, headers)
    assert second.json() == first.json()
    return dict(first.json())


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class _Statements:
    """The SQL statements an engine runs while in use."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.seen = engine, list[str]()

    def __enter__(self) -> list[str]:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self.seen

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _c: object, _cur: object, statement: str, *_: object) -> None:
        self.seen.append(statement)


def test_a_warm_request_reads_only_the_epoch(world: World) -> None:
    token = world.sign_in("a-view")
    _warm(world.client, _bearer(token))
    with _Statements(world.ctx.engine) as seen:
        assert _me(world.client, _bearer(token)).status_code == 200
    assert len(seen) == 1 and "svc_auth_epoch" in seen[0], seen  # the epoch, and no credential table
    # a cold credential is looked up in its table
    key = world.make_key("cache-cold", "a-admin", ["viewer"])
    with _Statements(world.ctx.engine) as seen:
        assert _me(world.client, {"X-API-Key": key}).status_code == 200
    assert any("svc_api_keys" in s for s in seen), seen


def test_sign_out_takes_effect_with_a_warm_cache(world: World) -> None:
    token = world.sign_in("a-input")
    h = _bearer(token)
    _warm(world.client, h)
    assert world.client.delete("/v1/sessions/current", headers=h).status_code == 204
    _refused(_me(world.client, h), SESSION_REFUSED)
    world.tokens.pop("a-input", None)


def test_api_key_revocation_with_a_warm_cache(world: World) -> None:
    key = world.make_key("cache-revoke", "a-admin", ["viewer"])
    _warm(world.client, {"X-API-Key": key})
    key_id = key.split("_")[1]
    assert world.client.delete(f"/v1/api-keys/{key_id}", headers=world.h("a-admin")).status_code == 204
    _refused(_me(world.client, {"X-API-Key": key}), "API key unknown or revoked")


def test_a_wrong_secret_is_refused_even_when_its_key_id_is_cached(world: World) -> None:
    key = world.make_key("cache-secret", "a-admin", ["viewer"])
    _warm(world.client, {"X-API-Key": key})
    forged = key[:-4] + ("0000" if not key.endswith("0000") else "1111")
    _refused(_me(world.client, {"X-API-Key": forged}), "API key unknown or revoked")


def test_disabling_a_user_with_a_warm_cache(world: World) -> None:
    world.add_user("cache-dis", P1, ["viewer"])
    h = _bearer(world.sign_in("cache-dis"))
    _warm(world.client, h)
    uid = user_id(world, "cache-dis")
    r = world.client.patch(f"/v1/users/{uid}", json={"active": False}, headers=world.h("a-admin"))
    assert r.status_code == 200, r.text
    _refused(_me(world.client, h), SESSION_REFUSED)  # disabling signs the user out everywhere


def test_group_change_is_seen_on_the_next_request(world: World) -> None:
    world.add_user("cache-grp", P1, ["viewer"])
    h = _bearer(world.sign_in("cache-grp"))
    assert _warm(world.client, h)["groups"] == ["viewer"]
    assert world.client.get("/v1/users", headers=h).status_code == 403
    uid = user_id(world, "cache-grp")
    r = world.client.patch(f"/v1/users/{uid}", json={"groups": ["administrator"]}, headers=world.h("a-admin"))
    assert r.status_code == 200, r.text
    assert _me(world.client, h).json()["groups"] == ["administrator"]
    assert world.client.get("/v1/users", headers=h).status_code == 200


def test_changes_made_by_another_worker_are_seen(world: World, other: TestClient) -> None:
    # a session signed out through the other app
    token = world.sign_in("b-input")
    h = _bearer(token)
    _warm(world.client, h)
    _warm(other, h)
    assert other.delete("/v1/sessions/current", headers=h).status_code == 204
    _refused(_me(world.client, h), SESSION_REFUSED)
    world.tokens.pop("b-input", None)
    # an API key revoked through the other app
    key = world.make_key("cache-other", "b-admin", ["viewer"])
    _warm(world.client, {"X-API-Key": key})
    assert other.delete(f"/v1/api-keys/{key.split('_')[1]}", headers=world.h("b-admin")).status_code == 204
    _refused(_me(world.client, {"X-API-Key": key}), "API key unknown or revoked")
    # groups changed through the other app
    world.add_user("cache-other", P2, ["viewer"])
    h = _bearer(world.sign_in("cache-other"))
    _warm(world.client, h)
    uid = user_id(world, "cache-other")
    assert other.patch(f"/v1/users/{uid}", json={"groups": ["inputter"]},
                       headers=world.h("b-admin")).status_code == 200
    assert _me(world.client, h).json()["groups"] == ["inputter"]
    # and disabled through the other app
    assert other.patch(f"/v1/users/{uid}", json={"active": False}, headers=world.h("b-admin")).status_code == 200
    _refused(_me(world.client, h), SESSION_REFUSED)


def test_session_expiry_holds_with_a_warm_cache(world: World) -> None:
    short = with_settings(world, session_ttl_s=1)  # same context, so the same cache
    with world.ctx.session() as s:  # a TOTP code works once; the world's sign-ins may have spent this one
        s.execute(update(UserRow).where(UserRow.username == "a-auth").values(totp_last_step=0))
    r = short.post("/v1/sessions", json={"username": "a-auth", "password": PASSWORD,
                                         "totp": totp_now(world.totp["a-auth"])})
    assert r.status_code == 201, r.text
    h = _bearer(r.json()["token"])
    _warm(short, h)
    expires = dt.datetime.fromisoformat(r.json()["expires_at"])
    time.sleep(max(0.0, (expires - dt.datetime.now(dt.UTC)).total_seconds()) + 0.05)
    _refused(_me(short, h), SESSION_REFUSED)
    short.close()


def _certificate() -> tuple[str, str]:
    """A throw-away certificate (PEM) and its sha256 fingerprint."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "cache-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(Encoding.PEM).decode(), hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _with_certificate(world: World, pem: str) -> TestClient:
    """The service as the TLS layer hands it a verified client certificate (the ASGI TLS extension)."""
    app = create_app(world.ctx)

    async def tls(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "extensions": {**(scope.get("extensions") or {}),
                                             "tls": {"client_cert_chain": [pem], "client_cert_error": None}}}
        await app(scope, receive, send)

    return TestClient(tls, raise_server_exceptions=False)


def _register(world: World, fp: str, **extra: Any) -> None:
    r = world.client.post("/v1/client-certificates", headers=world.h("a-admin"),
                          json={"fingerprint": fp, "label": "cache", "groups": ["viewer"], **extra})
    assert r.status_code == 201, r.text


def test_certificate_revocation_with_a_warm_cache(world: World, other: TestClient) -> None:
    pem, fp = _certificate()
    _register(world, fp)
    with _with_certificate(world, pem) as c:
        assert _warm(c, {})["kind"] == "client_cert"
        assert other.delete(f"/v1/client-certificates/{fp}", headers=world.h("a-admin")).status_code == 204
        _refused(_me(c, {}), "client certificate not registered, revoked or expired")


def test_certificate_expiry_holds_with_a_warm_cache(world: World) -> None:
    pem, fp = _certificate()
    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    _register(world, fp, expires_at=until.isoformat())
    with _with_certificate(world, pem) as c:
        _warm(c, {})
        time.sleep(max(0.0, (until - dt.datetime.now(dt.UTC)).total_seconds()) + 0.05)
        _refused(_me(c, {}), "client certificate not registered, revoked or expired")


def test_the_cache_is_bounded(world: World) -> None:
    cache = auth_cache(world.ctx.engine)
    saved = cache.max_entries
    cache.max_entries = 2
    try:
        keys = [world.make_key(f"cache-bound-{i}", "a-admin", ["viewer"]) for i in range(4)]
        for k in keys:
            assert _me(world.client, {"X-API-Key": k}).status_code == 200
            assert len(cache) <= 2
        for k in keys:  # the evicted ones are looked up again
            assert _me(world.client, {"X-API-Key": k}).status_code == 200
        assert len(cache) == 2
    finally:
        cache.max_entries = saved


def _principal(n: int) -> Principal:
    return Principal("api_key", n, f"k{n}", P1, frozenset({"viewer"}))


def test_cache_keeps_the_most_recently_used_and_drops_stale_epochs() -> None:
    cache = AuthCache(max_entries=2)
    assert cache.get("a", 7) is None
    for k, n in (("a", 1), ("b", 2)):
        cache.put(k, Remembered(7, _principal(n), None))
    assert cache.get("a", 7) is not None  # "a" is now the most recent
    cache.put("c", Remembered(7, _principal(3), None))
    assert cache.get("b", 7) is None and cache.get("a", 7) is not None and cache.get("c", 7) is not None
    # a lookup that read an older epoch is not filed (a revocation may have committed since)
    cache.put("d", Remembered(6, _principal(4), None))
    assert cache.get("d", 7) is None
    # a new epoch voids everything
    assert cache.get("a", 8) is None and cache.get("c", 8) is None and len(cache) == 0


def test_epoch_is_raised_in_the_revoking_transaction(world: World) -> None:
    before = auth_epoch(world.ctx.engine)
    key = world.make_key("cache-epoch", "a-admin", ["viewer"])
    assert auth_epoch(world.ctx.engine) == before  # creating a credential voids nothing
    assert world.client.delete(f"/v1/api-keys/{key.split('_')[1]}", headers=world.h("a-admin")).status_code == 204
    assert auth_epoch(world.ctx.engine) == before + 1
    # a refused revocation (not found) leaves it alone
    assert world.client.delete(f"/v1/api-keys/{key.split('_')[1]}x", headers=world.h("a-admin")).status_code == 404
    assert auth_epoch(world.ctx.engine) == before + 1


def test_migration_s0004_up_and_down(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    try:
        ledger_migrate.upgrade(engine)
        service_migrate.upgrade(engine)
        assert auth_epoch(engine) == 0
        command.downgrade(ledger_migrate.alembic_config(engine, service_migrate.MIGRATIONS), "s0003")
        assert "svc_auth_epoch" not in inspect(engine).get_table_names()
        service_migrate.upgrade(engine)
        with engine.connect() as c:
            assert list(c.execute(select(AuthEpochRow.id, AuthEpochRow.epoch))) == [(1, 0)]
    finally:
        engine.dispose()
