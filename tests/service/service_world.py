"""A small market behind the service for the tests: an embedded chain, two brokers with their own keys,
one security, users in every group, API keys, and a TestClient."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn
from eth_account import Account
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api import eip712
from api.service.app import create_app
from api.service.bootstrap import prepare_secrets
from api.service.context import ServiceContext, open_context
from api.service.db import UserRow
from api.service.security import hash_password, new_totp_secret, totp_now
from api.service.settings import Settings
from ledger.onchain import Kind
from ledger.store import ParticipantRow, SecurityRow
from risk.rpf import LiquidityParams, RiskParameterFile, RPFHeader, write_rpf

P1, P2 = "B00001", "B00002"
SEC = "00700"
TOKEN = 700
PASSWORD = "correct horse battery staple"
_HASH = hash_password(PASSWORD)



@contextmanager
def serving(config: uvicorn.Config, start_timeout_s: float = 30.0) -> Iterator[uvicorn.Server]:
    """Run `config` with uvicorn in a thread of this process until the block ends."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + start_timeout_s
    while not server.started and time.time() < deadline:
        time.sleep(0.02)
    try:
        assert server.started, "uvicorn did not start"
        yield server
    finally:
        server.should_exit = True
        thread.join(15)


@dataclass
class World:
    ctx: ServiceContext
    client: TestClient
    keys: dict[str, Any] = field(default_factory=dict)  # participant -> eth account
    totp: dict[str, str] = field(default_factory=dict)  # username -> secret
    tokens: dict[str, str] = field(default_factory=dict)  # username -> session token
    api_keys: dict[str, str] = field(default_factory=dict)  # name -> key

    def add_user(self, username: str, participant: str | None, groups: list[str]) -> None:
        secret = new_totp_secret()
        with self.ctx.session() as s:
            s.add(UserRow(username=username, participant_id=participant, password_hash=_HASH, totp_secret=secret,
                          totp_last_step=0, groups=groups, active=True, created_by="test"))
        self.totp[username] = secret

    def sign_in(self, username: str) -> str:
        with self.ctx.session() as s:  # a TOTP code works once; let the tests sign in repeatedly
            s.execute(update(UserRow).where(UserRow.username == username).values(totp_last_step=0))
        r = self.client.post("/v1/sessions", json={"username": username, "password": PASSWORD,
                                                   "totp": totp_now(self.totp[username])})
        assert r.status_code == 201, r.text
        token = str(r.json()["token"])
        self.tokens[username] = token
        return token

    def h(self, who: str) -> dict[str, str]:
        """Auth headers: an API key by name, else a (cached) session of the user."""
        if who in self.api_keys:
            return {"X-API-Key": self.api_keys[who]}
        return {"Authorization": f"Bearer {self.tokens.get(who) or self.sign_in(who)}"}

    def make_key(self, name: str, admin: str, groups: list[str], participant: str | None = None) -> str:
        body: dict[str, Any] = {"name": name, "groups": groups}
        if participant:
            body["participant_id"] = participant
        r = self.client.post("/v1/api-keys", json=body, headers=self.h(admin))
        assert r.status_code == 201, r.text
        self.api_keys[name] = r.json()["key"]
        return self.api_keys[name]

    def fields(self, participant: str, counterparty: str, direction: str, *, ref: str, nonce: int,
               quantity: int = 100, amount: int = 50_000, expiry: int | None = None) -> dict[str, Any]:
        return {"participant_id": participant, "counterparty_id": counterparty, "direction": direction,
                "security_code": SEC, "quantity": quantity, "amount_cents": amount, "currency": "HKD",
                "settlement_date": "2026-11-23", "sender_reference": ref, "nonce": nonce,
                "expiry": expiry if expiry is not None else int(time.time()) + 600}

    def signed(self, fields: dict[str, Any], signer: str | None = None) -> dict[str, Any]:
        key = self.keys[signer or fields["participant_id"]].key
        data = eip712.typed_data(fields, self.ctx.chain_id, self.ctx.engine_address)
        return {"instruction": fields, "signature": eip712.sign(data, key)}


def build(tmp: Path, **settings: Any) -> World:
    opts: dict[str, Any] = {"db_url": f"sqlite:///{tmp / 'svc.sqlite'}", "reports_dir": tmp / "reports",
                            "rate_per_s": 100_000.0, "rate_burst": 100_000, "secret_key_file": tmp / "secret.key"}
    opts.update(settings)
    ctx = open_context(Settings(**opts))
    prepare_secrets(ctx)  # users are added below straight into the database, sealed with the service key
    w = World(ctx, TestClient(create_app(ctx), raise_server_exceptions=False))
    for pid in (P1, P2):
        acct = Account.create()
        w.keys[pid] = acct
        ctx.onchain.register_participant(pid, acct.address, Kind.BROKER)
        ctx.store.add_participants([ParticipantRow(id=pid, address=acct.address, kind="broker", name=f"Broker {pid}",
                                                   status="active")])
    ctx.onchain.list_security(TOKEN, "HK0000000700")
    ctx.store.add_securities([SecurityRow(code=SEC, token_id=TOKEN, isin="HK0000000700", name="Tencent",
                                          board_lot=100, currency="HKD")])
    ctx.onchain.deposit(w.keys[P1].address, TOKEN, 10_000)
    ctx.onchain.issue_cash(w.keys[P2].address, "HKD", 100_000_000)
    w.add_user("op1", None, ["operator-admin"])
    w.add_user("op2", None, ["operator-admin"])
    w.add_user("opview", None, ["operator-viewer"])
    for pid, tag in ((P1, "a"), (P2, "b")):
        w.add_user(f"{tag}-admin", pid, ["administrator"])
        w.add_user(f"{tag}-input", pid, ["inputter"])
        w.add_user(f"{tag}-auth", pid, ["authoriser"])
        w.add_user(f"{tag}-view", pid, ["viewer"])
    w.make_key("a-stp", "a-admin", ["inputter", "authoriser"])
    w.make_key("b-stp", "b-admin", ["inputter", "authoriser"])
    return w


def with_settings(w: World, **changes: Any) -> TestClient:
    """Another app over the same context with different settings (limits)."""
    ctx = dataclasses.replace(w.ctx, settings=w.ctx.settings.model_copy(update=changes))
    return TestClient(create_app(ctx), raise_server_exceptions=False)


def user_id(w: World, username: str) -> int:
    with w.ctx.session() as s:
        uid = s.scalar(select(UserRow.id).where(UserRow.username == username))
        assert uid is not None
        return int(uid)


def write_risk_inputs(tmp: Path, seed: int = 3, hvar: int = 50, svar: int = 40) -> tuple[Path, Path]:
    """A small published risk parameter file (two instruments, seeded scenarios) and CP parameters for both
    brokers: (RPF01.csv, the CP parameters directory), for worlds where margin and what-if work."""
    rng = np.random.default_rng(seed)
    header = RPFHeader(valuation_date=date(2026, 11, 20), hvar_scen_count=hvar, svar_scen_count=svar, hvar_cl=0.95,
                       svar_cl=0.9, rounding=10000, holiday_factor=0.0, stv_count=0)
    rpf = RiskParameterFile(header, ("700", "2800"), np.round(rng.normal(0, 0.03, (2, hvar)), 5),
                            np.round(rng.normal(0, 0.06, (2, svar)), 5), {}, {
                                "700": LiquidityParams(0.1, 1.0, 2e7, 400.0),
                                "2800": LiquidityParams(0.1, 1.0, 2e7, 20.0)}, {}, {}, {})
    path = tmp / "RPF01.csv"
    write_rpf(rpf, path)
    cp = tmp / "cp"
    cp.mkdir(exist_ok=True)
    for pid in (P1, P2):
        (cp / f"{pid}.json").write_text(json.dumps({"floor_rate": 0.032, "liquid_capital": 1e12,
                                                    "margin_credit": 0.0, "liquid_capital_multiplier": 1.0}))
    return path, cp
