"""A market behind a real `uvicorn` server for the portal's browser tests (and scripts/bench_portal.py): the
service test world (two brokers, users in every group, TOTP), a published risk parameter file and CP
parameters, so margin and what-if work."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "service"))

from service_world import P1, P2, World, build  # noqa: E402

from api.service.app import create_app  # noqa: E402
from risk.rpf import LiquidityParams, RiskParameterFile, RPFHeader, write_rpf  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"


def write_rpf_file(path: Path) -> Path:
    rng = np.random.default_rng(3)
    ids = ("700", "2800")
    header = RPFHeader(valuation_date=date(2026, 11, 20), hvar_scen_count=50, svar_scen_count=40, hvar_cl=0.95,
                       svar_cl=0.9, rounding=10000, holiday_factor=0.0, stv_count=0)
    rpf = RiskParameterFile(header, ids, np.round(rng.normal(0, 0.03, (2, 50)), 5),
                            np.round(rng.normal(0, 0.06, (2, 40)), 5), {}, {
                                "700": LiquidityParams(0.1, 1.0, 2e7, 400.0),
                                "2800": LiquidityParams(0.1, 1.0, 2e7, 20.0)}, {}, {}, {})
    write_rpf(rpf, path)
    return path


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
    cp = tmp / "cp"
    cp.mkdir()
    for pid in (P1, P2):
        (cp / f"{pid}.json").write_text(json.dumps({"floor_rate": 0.032, "liquid_capital": 1e12,
                                                    "margin_credit": 0.0, "liquid_capital_multiplier": 1.0}))
    w = build(tmp, rpf_path=write_rpf_file(tmp / "RPF01.csv"), cp_params_dir=cp)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(w.ctx), host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    return Served(w, f"http://127.0.0.1:{port}", server, t)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s = serve_world(tmp_path_factory.mktemp("portal"))
    yield s
    s.stop()
