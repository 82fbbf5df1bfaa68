"""TOTP secrets are sealed at rest (AES-256-GCM under the service key, bound to the user id): the database
never holds the clear secret, sign-in still works, clear rows from before are sealed on start, a wrong or
missing key is a clear start-up error (and a 503, never a 500, for an app that was not started by `serve`),
and the migration's downgrade opens them again."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from pydantic import SecretStr
from service_world import PASSWORD, World, build, user_id
from sqlalchemy import text

from api.service import migrate as service_migrate
from api.service.app import create_app
from api.service.bootstrap import ensure_operator_admin, prepare_secrets
from api.service.context import ServiceContext, make_engine
from api.service.security import (
    SecretKeyError, TotpCipher, encode_service_key, is_sealed, load_service_key, new_totp_secret, totp_now,
)
from api.service.settings import Settings
from ledger.migrate import alembic_config


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    w = build(tmp_path_factory.mktemp("totp"))
    yield w
    w.client.close()
    w.ctx.engine.dispose()


def _raw(w: World, username: str) -> str:
    with w.ctx.engine.connect() as c:
        return str(c.execute(text("SELECT totp_secret FROM svc_users WHERE username = :u"), {"u": username}).scalar())


def _sign_in(client: TestClient, w: World, username: str, secret: str) -> int:
    with w.ctx.engine.begin() as c:  # a code is accepted once; the tests sign in repeatedly
        c.execute(text("UPDATE svc_users SET totp_last_step = 0 WHERE username = :u"), {"u": username})
    return client.post("/v1/sessions", json={"username": username, "password": PASSWORD,
                                             "totp": totp_now(secret)}).status_code


def _fresh(w: World, **settings: Any) -> ServiceContext:
    """The same database through a new engine (a restarted service), with other settings."""
    return dataclasses.replace(w.ctx, engine=make_engine(w.ctx.settings.db_url),
                               settings=w.ctx.settings.model_copy(update=settings))


def test_database_holds_no_clear_secret_and_sign_in_works(world: World) -> None:
    for name in ("a-view", "op1"):
        raw = _raw(world, name)
        assert is_sealed(raw) and world.totp[name] not in raw
        assert _sign_in(world.client, world, name, world.totp[name]) == 201
    assert _sign_in(world.client, world, "a-view", new_totp_secret()) == 401


def test_users_created_through_the_api_are_sealed(world: World) -> None:
    r = world.client.post("/v1/users", headers=world.h("a-admin"),
                          json={"username": "a-sealed", "password": PASSWORD, "groups": ["viewer"]})
    assert r.status_code == 201, r.text
    secret = r.json()["totp_secret"]
    raw = _raw(world, "a-sealed")
    assert is_sealed(raw) and secret not in raw
    assert _sign_in(world.client, world, "a-sealed", secret) == 201


def test_sealed_secret_is_bound_to_its_user(world: World) -> None:
    # Copy a-input's sealed secret onto b-input's row: it must not open there (a 401, not a 500).
    with world.ctx.engine.begin() as c:
        c.execute(text("UPDATE svc_users SET totp_secret = :v WHERE username = 'b-input'"),
                  {"v": _raw(world, "a-input")})
    assert _sign_in(world.client, world, "b-input", world.totp["a-input"]) == 401
    assert _sign_in(world.client, world, "b-input", world.totp["b-input"]) == 401
    assert _sign_in(world.client, world, "a-input", world.totp["a-input"]) == 201
    # and a restart names the row instead of starting with it
    with pytest.raises(SecretKeyError, match=f"user id {user_id(world, 'b-input')}"):
        prepare_secrets(_fresh(world))
    cipher = TotpCipher(load_service_key(world.ctx.settings, create=False)[0])
    with world.ctx.engine.begin() as c:  # repair for the tests below
        c.execute(text("UPDATE svc_users SET totp_secret = :v WHERE username = 'b-input'"),
                  {"v": cipher.seal(user_id(world, "b-input"), world.totp["b-input"])})


def test_clear_secrets_from_before_are_sealed_on_start(world: World) -> None:
    with world.ctx.engine.begin() as c:  # as the s0001 schema stored it
        c.execute(text("UPDATE svc_users SET totp_secret = :v WHERE username = 'b-view'"), {"v": world.totp["b-view"]})
    ctx = _fresh(world)
    ready = prepare_secrets(ctx)
    assert ready is not None and ready.sealed_now == 1 and ready.checked >= 10
    raw = _raw(world, "b-view")
    assert is_sealed(raw) and world.totp["b-view"] not in raw
    assert _sign_in(TestClient(create_app(ctx)), world, "b-view", world.totp["b-view"]) == 201
    assert prepare_secrets(ctx) is None  # once per database


def test_key_file_is_generated_private_beside_the_database(world: World) -> None:
    path = world.ctx.settings.key_file()
    assert path.exists() and path.stat().st_mode & 0o777 == 0o600
    key, source = load_service_key(world.ctx.settings, create=False)
    assert len(key) == 32 and source == str(path)
    # the default place is the SQLite database's directory
    assert Settings(db_url="sqlite:////data/x/ledger.sqlite").key_file() == Path("/data/x/ledgerclear-secret.key")


def test_wrong_or_missing_key_is_a_clear_startup_error(world: World, tmp_path: Path) -> None:
    wrong = encode_service_key(os.urandom(32))
    with pytest.raises(SecretKeyError, match="sealed with service key id .* configured key has id"):
        prepare_secrets(_fresh(world, secret_key=SecretStr(wrong)))
    with pytest.raises(SecretKeyError, match="does not exist"):
        prepare_secrets(_fresh(world, secret_key_file=tmp_path / "nothing.key"))
    assert not (tmp_path / "nothing.key").exists()  # a lost key is not replaced by a new one
    with pytest.raises(SecretKeyError, match="32 bytes"):
        prepare_secrets(_fresh(world, secret_key=SecretStr("c2hvcnQ=")))
    with pytest.raises(SecretKeyError, match="base64 or hex"):
        prepare_secrets(_fresh(world, secret_key=SecretStr("not a key!")))
    # An app that was not started by `serve` finds out on its first request: 503 with the error body.
    client = TestClient(create_app(_fresh(world, secret_key=SecretStr(wrong))), raise_server_exceptions=False)
    r = client.post("/v1/sessions", json={"username": "a-view", "password": PASSWORD, "totp": "123456"})
    assert r.status_code == 503 and r.json()["error"]["code"]
    # The key in hex works as well as base64.
    key = load_service_key(world.ctx.settings, create=False)[0]
    assert prepare_secrets(_fresh(world, secret_key=SecretStr(key.hex()))) is not None


def test_serve_refuses_to_start_with_the_wrong_key(world: World, tmp_path: Path) -> None:
    env = {**os.environ, "LEDGERCLEAR_SECRET_KEY": encode_service_key(os.urandom(32))}
    r = subprocess.run([sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", "1",
                        "--db", world.ctx.settings.db_url, "--reports-dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "error: service key:" in r.stderr and "configured key has id" in r.stderr
    assert "Traceback" not in r.stderr


def test_migration_downgrade_opens_and_upgrade_reseals(tmp_path: Path) -> None:
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'm.sqlite'}", secret_key_file=tmp_path / "k.key")
    engine = make_engine(settings.db_url)
    service_migrate.upgrade(engine, "s0002")  # this feature's revision (later ones are not its business)

    @dataclasses.dataclass
    class Mini:  # what prepare_secrets and ensure_operator_admin use of a ServiceContext
        settings: Settings
        engine: Any

        def session(self) -> Any:
            return ServiceContext.session(self)  # type: ignore[arg-type]

        def __post_init__(self) -> None:
            from sqlalchemy.orm import sessionmaker
            self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    ctx: Any = Mini(settings, engine)
    first = ensure_operator_admin(ctx, password="p" * 12)
    assert first is not None
    with engine.connect() as c:
        assert is_sealed(str(c.execute(text("SELECT totp_secret FROM svc_users")).scalar()))

    cfg = alembic_config(engine, service_migrate.MIGRATIONS)
    with engine.connect() as c:
        head = c.execute(text("SELECT version_num FROM alembic_version_service")).scalar()
    with pytest.raises(RuntimeError, match="no key|refused"):
        env = dict(os.environ)
        try:
            os.environ["LEDGERCLEAR_SECRET_KEY_FILE"] = str(tmp_path / "absent.key")
            os.environ.pop("LEDGERCLEAR_SECRET_KEY", None)
            command.downgrade(cfg, "s0001")
        finally:
            os.environ.clear()
            os.environ.update(env)
    with engine.connect() as c:  # refused: nothing changed
        assert is_sealed(str(c.execute(text("SELECT totp_secret FROM svc_users")).scalar()))
        assert c.execute(text("SELECT version_num FROM alembic_version_service")).scalar() == head

    cfg.attributes["secret_key"] = load_service_key(settings, create=False)[0]
    command.downgrade(cfg, "s0001")
    with engine.connect() as c:
        assert c.execute(text("SELECT totp_secret FROM svc_users")).scalar() == first.totp_secret
        tables = {r[0] for r in c.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))}
        assert "svc_client_certs" not in tables

    service_migrate.upgrade(engine, "s0002")
    again: Any = Mini(settings, make_engine(settings.db_url))  # a restarted service
    ready = prepare_secrets(again)
    assert ready is not None and ready.sealed_now == 1
    with engine.connect() as c:
        raw = str(c.execute(text("SELECT totp_secret FROM svc_users")).scalar())
    assert is_sealed(raw) and first.totp_secret not in raw
