"""Record what the participant service answers to a fixed set of requests, to compare two versions of the code.

Builds the tests' small market (tests/service/service_world.py) in a temporary directory, sends the same
requests in the same order (reads, writes, refusals, malformed input) and prints one JSON document: the OpenAPI
document and every request with its status and body. Values that differ between any two runs (tokens, keys,
addresses, signatures, timestamps, hashes) are replaced by their kind, so two runs of the same code print the
same bytes.

    .venv/bin/python scripts/record_service_answers.py > new.json
    LEDGERCLEAR_ROOT=<other checkout> .venv/bin/python scripts/record_service_answers.py > old.json
    diff old.json new.json
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(os.environ.get("LEDGERCLEAR_ROOT") or Path(__file__).resolve().parent.parent)
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "service")]

from service_world import P1, P2, World, build  # noqa: E402

# Keys whose values change from run to run: replaced by a placeholder.
_VOLATILE = {"token", "expires_at", "key", "key_id", "totp_secret", "totp_uri", "address", "signature", "signer",
             "digest", "typed_data", "tx_hash", "ts", "hash", "prev_hash", "block", "started_at", "finished_at",
             "verifyingContract", "fingerprint", "expiry", "nonce", "input_by", "authorised_by", "actor",
             "requested_by", "decided_by", "target", "chain_id", "chainId", "engine", "name", "seconds"}
_HEX = re.compile(r"0x[0-9a-fA-F]{8,}")


def _mask(value: Any, key: str | None = None) -> Any:
    if key in _VOLATILE and value is not None and not isinstance(value, (dict, list)):
        return f"<{key}>"
    if isinstance(value, dict):
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if isinstance(value, str):
        return _HEX.sub("<hex>", value)
    return value


def _answer(r: Any) -> dict[str, Any]:
    kind = r.headers.get("content-type", "").split(";")[0]
    body: Any = r.text
    if kind == "application/json":
        body = _mask(r.json())
    elif kind == "text/event-stream":
        body = re.sub(r"data: .*", "data: <data>", r.text)
    extra = {h: r.headers[h] for h in ("www-authenticate", "retry-after", "allow") if h in r.headers}
    return {"status": r.status_code, "type": kind, "body": body, **({"headers": extra} if extra else {})}


def record(w: World) -> dict[str, Any]:
    c = w.client
    log: list[dict[str, Any]] = []

    def call(label: str, method: str, url: str, who: str | None = None, **kw: Any) -> Any:
        r = c.request(method, url, headers=w.h(who) if who else kw.pop("headers", None), **kw)
        log.append({"request": f"{label}: {method} {url}" + (f" as {who}" if who else ""), **_answer(r)})
        return r

    now = int(time.time())
    call("public", "GET", "/v1/health")
    call("no credentials", "GET", "/v1/me")
    call("bad bearer", "GET", "/v1/me", headers={"Authorization": "Bearer nope"})
    call("bad key", "GET", "/v1/me", headers={"X-API-Key": "lck_0000_nope"})
    call("garbage key", "GET", "/v1/me", headers={"X-API-Key": "garbage"})
    for who in ("a-view", "a-stp", "op1", "opview"):
        call("me", "GET", "/v1/me", who)
    call("sign-in refused", "POST", "/v1/sessions", json={"username": "a-auth", "password": "x" * 12, "totp": "000000"})
    call("sign-in malformed", "POST", "/v1/sessions", json={"username": "a-auth"})
    call("unknown path", "GET", "/v1/nowhere", "a-view")
    call("wrong method", "PUT", "/v1/me", "a-view")
    call("groups", "GET", "/v1/groups", "a-view")
    call("signing domain", "GET", "/v1/signing-domain", "a-view")
    # query and path parameters, good and bad (422 bodies name the first error)
    for q in ("", "?limit=1", "?limit=0", "?limit=501", "?limit=abc", "?offset=-1", "?limit=0&offset=-1",
              "?status=matched", "?status=bogus", "?participant_id=B00002", "?participant_id=bad"):
        call("list", "GET", f"/v1/instructions{q}", "a-view")
        call("list (operator)", "GET", f"/v1/instructions{q}", "opview")
    for pid in (P1, P2, "B09999", "bad"):
        call("balances", "GET", f"/v1/accounts/{pid}/balances", "a-view")
        call("balances (operator)", "GET", f"/v1/accounts/{pid}/balances?limit=5", "opview")
    call("balances, bad paging", "GET", f"/v1/accounts/{P1}/balances?limit=0&offset=x", "a-view")
    # submissions: both sides straight through (they match), a user's side (unauthorised), refusals
    sides = [(P1, P2, "deliver", "a-stp"), (P2, P1, "receive", "b-stp")]
    for n in range(2):
        for pid, cp, direction, who in sides:
            f = w.fields(pid, cp, direction, ref=f"REC{n}", nonce=700 + n, expiry=now + 600)
            call("submit", "POST", "/v1/instructions", who, json=w.signed(f))
    f = w.fields(P1, P2, "deliver", ref="REC-U", nonce=720, expiry=now + 600)
    sid = call("submit by a user", "POST", "/v1/instructions", "a-input", json=w.signed(f)).json()["id"]
    call("replay", "POST", "/v1/instructions", "a-input", json=w.signed(f))
    bad = w.fields(P1, P2, "deliver", ref="REC-B", nonce=721, expiry=now + 600)
    call("signed by another", "POST", "/v1/instructions", "a-stp", json=w.signed(bad, signer=P2))
    call("not an inputter", "POST", "/v1/instructions", "a-view", json=w.signed(bad))
    call("malformed body", "POST", "/v1/instructions", "a-stp", json={"instruction": {}})
    call("own side only", "POST", "/v1/instructions", "b-stp", json=w.signed(bad))
    call("one", "GET", f"/v1/instructions/{sid}", "a-view")
    call("another's", "GET", f"/v1/instructions/{sid}", "b-view")
    call("bad id", "GET", "/v1/instructions/0", "a-view")
    call("evidence", "GET", f"/v1/instructions/{sid}/evidence", "a-view")
    call("self-authorise", "POST", f"/v1/instructions/{sid}/authorise", "a-input")
    call("authorise", "POST", f"/v1/instructions/{sid}/authorise", "a-auth")
    call("hold unmatched", "POST", f"/v1/instructions/{sid}/hold", "a-input")
    call("cancel", "POST", f"/v1/instructions/{sid}/cancel", "a-input")
    matched = call("matched", "GET", "/v1/instructions?status=matched", "a-view").json()["items"]
    if matched:
        m = matched[0]["id"]
        call("hold", "POST", f"/v1/instructions/{m}/hold", "a-input")
        call("release", "POST", f"/v1/instructions/{m}/release", "a-input")
        call("evidence matched", "GET", f"/v1/instructions/{m}/evidence", "a-view")
    for q in ("", "?status=matched", "?status=cancelled", "?limit=2&offset=1"):
        call("list after", "GET", f"/v1/instructions{q}", "a-view")
    call("participants", "GET", "/v1/participants", "a-view")
    call("participant", "GET", f"/v1/participants/{P2}", "a-view")
    call("no participant", "GET", "/v1/participants/B09999", "a-view")
    call("securities", "GET", "/v1/securities", "a-view")
    call("security", "GET", "/v1/securities/00700", "a-view")
    call("no security", "GET", "/v1/securities/99999", "a-view")
    call("register, not operator", "POST", "/v1/participants", "a-admin",
         json={"id": "B00003", "address": "0x" + "11" * 20, "kind": "broker", "name": "B3"})
    call("register, bad body", "POST", "/v1/participants", "op1", json={"id": "x"})
    call("status change", "POST", f"/v1/participants/{P2}/status-changes", "op1", json={"status": "suspended"})
    call("approvals", "GET", "/v1/approvals", "opview")
    call("approve own", "POST", "/v1/approvals/1/approve", "op1")
    call("reject", "POST", "/v1/approvals/1/reject", "op2")
    call("users", "GET", "/v1/users?limit=3", "a-admin")
    call("users, viewer", "GET", "/v1/users", "a-view")
    call("create user", "POST", "/v1/users", "a-admin",
         json={"username": "rec-user", "password": "a long password 1", "groups": ["viewer"]})
    call("create user, operator group", "POST", "/v1/users", "a-admin",
         json={"username": "rec-user2", "password": "a long password 1", "groups": ["operator-admin"]})
    call("user", "GET", "/v1/users/1", "op1")
    call("user, another's", "GET", "/v1/users/1", "a-admin")
    call("patch user", "PATCH", "/v1/users/99999", "a-admin", json={"active": False})
    call("api keys", "GET", "/v1/api-keys", "a-admin")
    call("create key", "POST", "/v1/api-keys", "a-admin", json={"name": "rec", "groups": ["viewer"]})
    call("revoke unknown key", "DELETE", "/v1/api-keys/nope", "a-admin")
    call("certificates", "GET", "/v1/client-certificates", "a-admin")
    call("register fingerprint", "POST", "/v1/client-certificates", "a-admin",
         json={"fingerprint": "ab" * 32, "label": "rec", "groups": ["viewer"]})
    call("certificate", "GET", f"/v1/client-certificates/{'ab' * 32}", "a-admin")
    call("certificate, bad path", "GET", "/v1/client-certificates/xyz", "a-admin")
    call("revoke certificate", "DELETE", f"/v1/client-certificates/{'ab' * 32}", "a-admin")
    call("run, not operator", "POST", "/v1/settlement-runs", "a-admin", json={"name": "r1"})
    call("run", "POST", "/v1/settlement-runs", "op1", json={"name": "rec-run"})
    call("runs", "GET", "/v1/settlement-runs", "opview")
    call("run one", "GET", "/v1/settlement-runs/1", "opview")
    call("no run", "GET", "/v1/settlement-runs/999", "opview")
    call("own runs", "GET", f"/v1/participants/{P1}/settlement-runs", "a-view")
    call("own runs, bad date", "GET", f"/v1/participants/{P1}/settlement-runs?date=xx", "a-view")
    call("another's runs", "GET", f"/v1/participants/{P2}/settlement-runs", "a-view")
    call("margin not configured", "GET", f"/v1/margin/{P1}", "a-view")
    call("margin summary, participant", "GET", "/v1/margin/summary", "a-view")
    call("parameter file", "GET", "/v1/margin/parameter-file", "a-view")
    call("reports", "GET", "/v1/reports", "a-view")
    call("no report", "GET", "/v1/reports/none.csv", "a-view")
    call("bad report name", "GET", "/v1/reports/x..y", "a-view")
    call("events", "GET", "/v1/events?limit=5", "a-view")
    call("events, bad after", "GET", "/v1/events?after=-1", "a-view")
    call("event stream", "GET", "/v1/events/stream?limit=2&timeout=1", "a-view")
    call("audit, participant", "GET", "/v1/audit", "a-view")
    call("audit", "GET", "/v1/audit?limit=3", "opview")
    call("audit verify", "GET", "/v1/audit/verify", "opview")
    call("sign out an API key", "DELETE", "/v1/sessions/current", "a-stp")
    openapi = c.get("/openapi.json").json()
    return {"openapi_paths_in_order": list(openapi["paths"]), "openapi": openapi, "answers": log}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="record_answers_") as tmp:
        w = build(Path(tmp))
        try:
            out = record(w)
        finally:
            w.client.close()
            w.ctx.engine.dispose()
    print(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
