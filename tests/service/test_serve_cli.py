"""`ledgerclear serve` starts a real server: health is public, the first operator admin can sign in with
password + TOTP, and everything else needs credentials."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from api.service.security import totp_now


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, headers: dict[str, str] | None = None, body: object = None) -> tuple[int, dict[str, object]]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})},
                                 method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_serve(tmp_path: Path) -> None:
    port = _port()
    env = {**os.environ, "LEDGERCLEAR_ADMIN_PASSWORD": "first admin password"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port),
         "--db", f"sqlite:///{tmp_path / 'serve.sqlite'}", "--reports-dir", str(tmp_path / "reports")],
        stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        secret = ""
        deadline = time.time() + 60
        assert proc.stderr is not None
        while time.time() < deadline:
            line = proc.stderr.readline()
            if "TOTP secret:" in line:
                secret = line.split(":", 1)[1].strip()
            if "serving on" in line:
                break
        assert secret, "the first administrator's TOTP secret is printed once"
        base = f"http://127.0.0.1:{port}"
        while time.time() < deadline:
            try:
                status, body = _get(f"{base}/v1/health")
                break
            except OSError:
                time.sleep(0.1)
        assert status == 200 and body["status"] == "ok"
        assert _get(f"{base}/v1/participants")[0] == 401
        status, body = _get(f"{base}/v1/sessions", body={"username": "operator", "password": "first admin password",
                                                         "totp": totp_now(secret)})
        assert status == 201, body
        status, me = _get(f"{base}/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
        assert status == 200 and me["groups"] == ["operator-admin"]
    finally:
        proc.terminate()
        proc.wait(20)
