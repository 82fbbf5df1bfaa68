"""A gateway restart on a real node (Anvil) with a file store and the journal: the SI book and the
idempotency table come back, nothing settles twice, nothing is confirmed twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from api.gateway.certs import make_certs
from api.gateway.client import PssClient
from api.gateway.replies import summarise
from api.gateway.server import GatewayConfig
from ledger.anvil import anvil_binary, anvil_node

from .gateway_helpers import A, B, RunningGateway, instruction

pytestmark = [pytest.mark.anvil, pytest.mark.skipif(anvil_binary() is None, reason="Anvil is not installed")]


def _about(ref: str, start: str) -> Callable[[str], bool]:
    return lambda m: summarise(m).startswith(start) and f"rel={ref}" in summarise(m)


def test_restart_replays_the_journal_and_settles_nothing_twice(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    make_certs(certs, [A, B])
    db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    config = GatewayConfig(journal=tmp_path / "journal.jsonl")
    r1 = instruction(541, A, B, "RS-R1", quantity=1000, amount="2000")
    d1 = instruction(543, B, A, "RS-D1", quantity=1000, amount="2000")
    u1 = instruction(541, A, B, "RS-U1", quantity=3000, amount="6000")
    d2 = instruction(543, B, A, "RS-D2", quantity=3000, amount="6000")

    with anvil_node() as url:
        first = RunningGateway(certs, [A, B], config, rpc_url=url, db_url=db)
        try:
            dep = tmp_path / "deployment.json"
            dep.write_text(json.dumps(first.ledger("describe")))
            start = first.ledger("security_balance", A, "1299")

            async def before() -> str:
                a = await PssClient.connect(first.host, first.port, certs, A)
                b = await PssClient.connect(first.host, first.port, certs, B)
                await a.send(r1)
                await b.send(d1)
                await a.until(_about("RS-R1", "545"), 30)
                await a.send(u1)
                ack = (await a.until(_about("RS-U1", "548 IPRC//PACK"), 10))[-1]
                await a.close()
                await b.close()
                return ack

            ack_u1 = asyncio.run(before())
        finally:
            first.close()

        second = RunningGateway(certs, [], config, rpc_url=url, db_url=db, deployment_file=dep)
        try:
            assert second.gw.replayed == 3

            async def after() -> tuple[str, list[str]]:
                a = await PssClient.connect(second.host, second.port, certs, A)
                b = await PssClient.connect(second.host, second.port, certs, B)
                await a.send(u1)  # a resend after the restart: the very same acknowledgement
                again = (await a.until(_about("RS-U1", "548 IPRC//PACK"), 10))[-1]
                await b.send(d2)
                got = [summarise(m) for m in await a.until(_about("RS-U1", "545"), 30)]
                await a.send(r1)  # settled before the restart: same ack, nothing new
                got += [summarise(m) for m in await a.drain_idle(1.5)]
                await a.close()
                await b.close()
                return again, got

            again, got = asyncio.run(after())
            assert again == ack_u1
            assert not any(g.startswith("545") and "rel=RS-R1" in g for g in got)  # not confirmed twice
            assert sum(1 for g in got if g.startswith("548 IPRC//PACK rel=RS-R1")) == 1
            assert second.ledger("security_balance", A, "1299") == start + 1000 + 3000
            assert len(second.gw.engine.book) == 4
        finally:
            second.close()
