"""A market behind a real `uvicorn` server for the portal's browser tests (and scripts/bench_portal.py): the
service test world (two brokers, users in every group, TOTP), a published risk parameter file and CP
parameters, so margin and what-if work.

Kept out of conftest.py so the tests import it by a name no other directory uses: with both tests/portal and
tests/service on one command line, `conftest` would resolve to whichever directory's was loaded last."""

from __future__ import annotations

import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "service"))

from service_world import World, build, write_risk_inputs  # noqa: E402

from api.service.app import create_app  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    world: World
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.world.client.close()
        self.world.ctx.engine.dispose()


def serve_world(tmp: Path) -> Served:
    """Build the world and serve it with uvicorn on a free loopback port (in a thread of this process)."""
    rpf_path, cp = write_risk_inputs(tmp)
    w = build(tmp, rpf_path=rpf_path, cp_params_dir=cp)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(w.ctx), host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    return Served(w, f"http://127.0.0.1:{port}", server, t)
