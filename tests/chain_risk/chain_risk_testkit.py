"""Shared helpers for the risk-gate chain tests: a small market on an embedded chain plus a RiskGate.

Each test module gets its own chain (`gate_world` is module-scoped, ~2 s to deploy); every test runs
inside a chain snapshot that is reverted afterwards (`gw` fixture).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_utils import keccak

from ledger.chain import Chain, ChainConfig
from ledger.deployment import Deployment, deploy
from ledger.onchain import Kind, OnChainLedger
from ledger.risk_gate import RiskGateClient, deploy_risk_gate

PARTICIPANTS: dict[str, Kind] = {
    "B00001": Kind.BROKER,
    "B00002": Kind.BROKER,
    "B00003": Kind.BROKER,
    "C00001": Kind.CUSTODIAN,
    "H00001": Kind.CCP,
}
SECURITIES: dict[int, str] = {700: "HK0700000001", 5: "HK0005000002"}


def participant_address(pid: str) -> str:
    return str(Account.from_key(keccak(f"ledgerclear-risk-tests/{pid}".encode())).address)


@dataclass
class GateWorld:
    chain: Chain
    dep: Deployment
    ol: OnChainLedger
    gate: RiskGateClient
    addr: dict[str, str]
    risk_engine: str  # holds RISK_ENGINE_ROLE
    outsider: str  # unlocked account without any role

    def take_snapshot(self) -> Any:
        return self.chain.w3.testing.snapshot()

    def revert(self, snap: Any) -> None:
        self.chain.w3.testing.revert(snap)


def build_gate_world(register: bool = True) -> GateWorld:
    chain = Chain.connect(ChainConfig())
    dep = deploy(chain)
    ol = OnChainLedger(dep)
    addr = {pid: participant_address(pid) for pid in PARTICIPANTS}
    names = {a.lower(): p for p, a in addr.items()}
    chain.namer = lambda a: names.get(a.lower())  # revert data decodes addresses in lower case
    if register:
        ol.register_participants([(pid, addr[pid], kind) for pid, kind in PARTICIPANTS.items()])
        ol.list_securities(list(SECURITIES.items()))
    accounts = chain.accounts
    risk_engine = accounts[4]  # a key of its own, not an operator's
    contract = deploy_risk_gate(chain, dep, risk_engine=risk_engine)
    return GateWorld(chain, dep, ol, RiskGateClient(chain, contract, risk_engine), addr, risk_engine, accounts[5])


_RAW_HEX = re.compile(r"0x[0-9a-fA-F]{41,}|0x[0-9a-fA-F]{8}(?![0-9a-fA-F])")


def readable(message: object) -> bool:
    """A sentence, no raw revert data or bare selectors, no 'unknown error'."""
    text = str(message)
    return bool(text) and "unknown error" not in text and not _RAW_HEX.search(text)
