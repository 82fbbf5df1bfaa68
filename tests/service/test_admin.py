"""Delegated administration: a participant's administrator stays inside its participant."""

from __future__ import annotations

from service_world import P1, P2, PASSWORD, World, user_id


def _new_user(world: World, admin: str, **body: object) -> object:
    payload = {"username": "u", "password": PASSWORD, "groups": ["viewer"], **body}
    return world.client.post("/v1/users", json=payload, headers=world.h(admin))


def test_admin_creates_user_in_own_participant_who_can_sign_in(world: World) -> None:
    r = _new_user(world, "a-admin", username="a-new", groups=["inputter", "viewer"])
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert body["participant_id"] == P1 and body["groups"] == ["inputter", "viewer"]
    assert body["totp_uri"].startswith("otpauth://totp/")
    world.totp["a-new"] = body["totp_secret"]
    me = world.client.get("/v1/me", headers=world.h("a-new")).json()
    assert me["participant_id"] == P1


def test_admin_cannot_create_users_elsewhere(world: World) -> None:
    assert _new_user(world, "a-admin", username="a-x1", participant_id=P2).status_code == 403  # type: ignore
    r = _new_user(world, "a-admin", username="a-x2", groups=["operator-admin"])
    assert r.status_code == 422 and r.json()["error"]["field"] == "groups"  # type: ignore[attr-defined]
    assert _new_user(world, "a-view", username="a-x3").status_code == 403  # type: ignore[attr-defined]
    assert _new_user(world, "a-input", username="a-x4").status_code == 403  # type: ignore[attr-defined]


def test_admin_cannot_see_or_touch_other_accounts(world: World) -> None:
    c, h = world.client, world.h("a-admin")
    for other in ("b-view", "op1"):
        uid = user_id(world, other)
        assert c.get(f"/v1/users/{uid}", headers=h).status_code == 404
        assert c.patch(f"/v1/users/{uid}", json={"active": False}, headers=h).status_code == 404
        assert c.patch(f"/v1/users/{uid}", json={"groups": ["administrator"]}, headers=h).status_code == 404
    names = {u["participant_id"] for u in c.get("/v1/users", headers=h).json()["items"]}
    assert names == {P1}
    own = user_id(world, "a-view")
    r = c.patch(f"/v1/users/{own}", json={"groups": ["operator-admin"]}, headers=h)
    assert r.status_code == 422
    assert c.get(f"/v1/users/{own}", headers=h).json()["groups"] == ["viewer"]


def test_admin_api_keys_stay_inside(world: World) -> None:
    c, h = world.client, world.h("a-admin")
    r = c.post("/v1/api-keys", json={"name": "x", "groups": ["viewer"], "participant_id": P2}, headers=h)
    assert r.status_code == 403
    b_key = world.api_keys["b-stp"].split("_")[1]
    assert c.delete(f"/v1/api-keys/{b_key}", headers=h).status_code == 404
    assert {k["participant_id"] for k in c.get("/v1/api-keys", headers=h).json()["items"]} == {P1}


def test_operator_admin_bootstraps_a_participant_admin(world: World) -> None:
    r = _new_user(world, "op1", username="b-admin2", participant_id=P2, groups=["administrator"])
    assert r.status_code == 201 and r.json()["participant_id"] == P2  # type: ignore[attr-defined]
    r = _new_user(world, "op1", username="op3", groups=["operator-viewer"])
    assert r.status_code == 201 and r.json()["participant_id"] is None  # type: ignore[attr-defined]
    assert _new_user(world, "op1", username="zzz", participant_id="Z99999").status_code == 404  # type: ignore
    assert _new_user(world, "op1", username="b-admin2", participant_id=P2).status_code == 409  # type: ignore[attr-defined]


def test_groups_catalogue(world: World) -> None:
    names = {g["name"] for g in world.client.get("/v1/groups", headers=world.h("a-view")).json()["items"]}
    assert names == {"viewer", "inputter", "authoriser", "administrator", "operator-viewer", "operator-admin"}
