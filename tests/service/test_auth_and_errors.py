"""Sign-in with password + TOTP, sessions, API keys, error bodies, size and rate limits."""

from __future__ import annotations

import datetime as dt

from service_world import PASSWORD, P1, World, user_id, with_settings
from sqlalchemy import update

from api.service.db import SessionRow, UserRow
from api.service.security import totp_now


def _err(r: object, status: int, code: str | None = None) -> dict[str, object]:
    assert r.status_code == status, (r.status_code, r.text)  # type: ignore[attr-defined]
    body = r.json()["error"]  # type: ignore[attr-defined]
    assert set(body) == {"code", "message", "field"} and body["message"]
    if code:
        assert body["code"] == code, body
    return dict(body)


def test_public_paths(world: World) -> None:
    assert world.client.get("/v1/health").json()["status"] == "ok"
    assert world.client.get("/openapi.json").json()["openapi"].startswith("3.")


def test_sign_in_and_out(world: World) -> None:
    token = world.sign_in("a-view")
    h = {"Authorization": f"Bearer {token}"}
    me = world.client.get("/v1/me", headers=h).json()
    assert me == {"kind": "user", "name": "a-view", "participant_id": P1, "groups": ["viewer"]}
    assert world.client.delete("/v1/sessions/current", headers=h).status_code == 204
    _err(world.client.get("/v1/me", headers=h), 401, "unauthenticated")
    world.tokens.pop("a-view", None)


def test_wrong_password_or_second_factor(world: World) -> None:
    c = world.client
    code = totp_now(world.totp["a-auth"])
    _err(c.post("/v1/sessions", json={"username": "a-auth", "password": "wrong password!", "totp": code}), 401)
    _err(c.post("/v1/sessions", json={"username": "a-auth", "password": PASSWORD,
                                      "totp": f"{(int(code) + 1) % 1_000_000:06d}"}), 401)
    _err(c.post("/v1/sessions", json={"username": "nobody", "password": PASSWORD, "totp": code}), 401)
    _err(c.post("/v1/sessions", json={"username": "a-auth", "password": PASSWORD}), 422)


def test_totp_code_works_once(world: World) -> None:
    with world.ctx.session() as s:
        s.execute(update(UserRow).where(UserRow.username == "b-view").values(totp_last_step=0))
    # the same code twice (a fresh code each time would pass once the 30 s step rolls over between the two)
    body = {"username": "b-view", "password": PASSWORD, "totp": totp_now(world.totp["b-view"])}
    assert world.client.post("/v1/sessions", json=body).status_code == 201
    with world.ctx.session() as s:
        last = s.get(UserRow, user_id(world, "b-view"))
        assert last is not None and last.totp_last_step > 0
    _err(world.client.post("/v1/sessions", json=body), 401)


def test_expired_session(world: World) -> None:
    token = world.sign_in("a-input")
    with world.ctx.session() as s:
        s.execute(update(SessionRow).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
                  .where(SessionRow.user_id == user_id(world, "a-input")))
    _err(world.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}), 401)
    world.tokens.pop("a-input", None)


def test_bad_credentials(world: World) -> None:
    c = world.client
    _err(c.get("/v1/me", headers={"Authorization": "Bearer nope"}), 401)
    _err(c.get("/v1/me", headers={"X-API-Key": "lck_0000_nope"}), 401)
    _err(c.get("/v1/me", headers={"X-API-Key": "garbage"}), 401)
    _err(c.get("/v1/me"), 401)


def test_api_key_revocation(world: World) -> None:
    key = world.make_key("a-temp", "a-admin", ["viewer"])
    assert world.client.get("/v1/me", headers={"X-API-Key": key}).json()["kind"] == "api_key"
    key_id = key.split("_")[1]
    assert world.client.delete(f"/v1/api-keys/{key_id}", headers=world.h("a-admin")).status_code == 204
    _err(world.client.get("/v1/me", headers={"X-API-Key": key}), 401)


def test_error_bodies_for_framework_errors(world: World) -> None:
    c = world.client
    h = world.h("a-view")
    _err(c.get("/v1/nowhere", headers=h), 404, "not_found")
    _err(c.put("/v1/health"), 405, "method_not_allowed")
    _err(c.post("/v1/sessions", content=b"{not json", headers={"Content-Type": "application/json"}), 422)
    e = _err(c.post("/v1/sessions", json={"username": "abc", "password": "x", "totp": "123456", "extra": 1}), 422)
    assert e["field"] == "extra"
    e = _err(c.get("/v1/instructions?limit=0", headers=h), 422)
    assert e["field"] == "limit"
    _err(c.get("/v1/instructions/notanumber", headers=h), 422)


def test_unexpected_error_is_a_bare_500(world: World, monkeypatch: object) -> None:
    def boom(*_: object) -> int:
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(world.ctx.onchain, "cash_balances", boom)  # type: ignore[attr-defined]
    r = world.client.get(f"/v1/accounts/{P1}/balances", headers=world.h("a-view"))
    _err(r, 500, "internal")
    assert "secret" not in r.text and "Traceback" not in r.text


def test_request_size_limit(world: World) -> None:
    r = world.client.post("/v1/sessions", content=b"x" * (1024 * 1024 + 1),
                          headers={"Content-Type": "application/json"})
    _err(r, 413, "payload_too_large")


def test_rate_limit(world: World) -> None:
    c = with_settings(world, rate_per_s=0.5, rate_burst=3)
    h = world.h("a-view")
    codes = [c.get("/v1/me", headers=h).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[-1] == 429
    r = c.get("/v1/me", headers=h)
    _err(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) >= 1
    # another caller has its own bucket
    assert c.get("/v1/me", headers=world.h("b-view")).status_code == 200


def test_disabled_user_is_signed_out(world: World) -> None:
    world.add_user("a-temp-user", P1, ["viewer"])
    h = world.h("a-temp-user")
    uid = user_id(world, "a-temp-user")
    r = world.client.patch(f"/v1/users/{uid}", json={"active": False}, headers=world.h("a-admin"))
    assert r.status_code == 200 and r.json()["active"] is False
    _err(world.client.get("/v1/me", headers=h), 401)


def test_lockout_after_repeated_failures(world: World) -> None:
    world.add_user("a-locky", P1, ["viewer"])
    c = world.client
    for _ in range(world.ctx.settings.max_failed_signins):
        _err(c.post("/v1/sessions", json={"username": "a-locky", "password": "guess guess guess",
                                          "totp": "000000"}), 401)
    good = {"username": "a-locky", "password": PASSWORD, "totp": totp_now(world.totp["a-locky"])}
    _err(c.post("/v1/sessions", json=good), 401)  # locked: even the right credentials are refused
    uid = user_id(world, "a-locky")
    assert c.patch(f"/v1/users/{uid}", json={"active": True}, headers=world.h("a-admin")).status_code == 200
    assert c.post("/v1/sessions", json=good).status_code == 201
