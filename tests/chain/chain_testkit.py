"""Shared helpers for the chain-core tests (the market the fixtures build, the World wrapper).

One embedded chain is deployed per test session and set up with a small market (`World`): six
participants, three listed securities, opening holdings and cash. Every test runs inside a chain
snapshot that is reverted afterwards (`world` fixture), so tests are isolated without redeploying.
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

# Participants: id -> kind. Addresses come from eth_account keys (they never sign anything).
PARTICIPANTS: dict[str, Kind] = {
    "B00001": Kind.BROKER,
    "B00002": Kind.BROKER,
    "B00003": Kind.BROKER,
    "B00004": Kind.BROKER,
    "C00001": Kind.CUSTODIAN,
    "H00001": Kind.CCP,
}
# Securities: token id (stock code) -> ISIN.
SECURITIES: dict[int, str] = {700: "HK0700000001", 5: "HK0005000002", 388: "HK0388000003"}
CURRENCIES = ("HKD", "CNY", "USD")

# Opening holdings: (pid, security, quantity). B00004 and C00001 start with no stock.
OPENING_STOCK: list[tuple[str, int, int]] = [
    ("B00001", 700, 10_000), ("B00001", 5, 4_000),
    ("B00002", 700, 2_000), ("B00002", 388, 1_500),
    ("B00003", 5, 8_000), ("B00003", 388, 600),
    ("H00001", 700, 1_000),
]
# Opening cash in cents: (pid, currency, cents). B00004 has no cash at all.
OPENING_CASH: list[tuple[str, str, int]] = [
    ("B00001", "HKD", 50_000_000), ("B00002", "HKD", 80_000_000), ("B00003", "HKD", 30_000_000),
    ("C00001", "HKD", 100_000_000), ("H00001", "HKD", 500_000_000),
    ("B00001", "USD", 1_000_000), ("B00002", "CNY", 2_000_000),
]


def participant_address(pid: str) -> str:
    return str(Account.from_key(keccak(f"ledgerclear-tests/{pid}".encode())).address)


@dataclass
class World:
    """The deployed contracts plus the small market the tests use."""

    chain: Chain
    dep: Deployment
    ol: OnChainLedger
    addr: dict[str, str]  # participant id -> address
    outsider: str  # an unlocked node account that holds no role and is not a participant
    spare: str  # another unlocked node account, unregistered (for tests that need a signing holder)

    # ---- shortcuts --------------------------------------------------------------------------------
    @property
    def ops(self) -> Any:
        return self.dep.operators

    @property
    def holders(self) -> list[str]:
        """Every account that may hold anything (participants, operators, spare)."""
        ops = self.dep.operators
        return list(dict.fromkeys([*self.addr.values(), ops.admin, ops.csd, ops.bank, ops.settler, self.spare,
                                   self.outsider]))

    def sec(self, who: str, sid: int) -> int:
        return self.ol.security_balance(self.addr.get(who, who), sid)

    def cash(self, who: str, cur: str = "HKD") -> int:
        return self.ol.cash_balance(self.addr.get(who, who), cur)

    def snapshot_all(self) -> dict[tuple[str, Any], int]:
        """Every balance of every holder (securities and currencies), for 'nothing moved' checks."""
        out: dict[tuple[str, Any], int] = {}
        hs = self.holders
        pairs = [(a, sid) for sid in SECURITIES for a in hs]
        out.update(zip(pairs, self.ol.security_balances(pairs), strict=True))
        for cur in CURRENCIES:
            for a, b in zip(hs, self.ol.cash_balances(cur, hs), strict=True):
                out[(a, cur)] = b
        return out

    def security_snapshot(self) -> list[int]:
        """Every securities balance of every holder, in one call."""
        return self.ol.security_balances([(a, sid) for sid in SECURITIES for a in self.holders])

    def conserved(self) -> bool:
        return all(self.ol.conservation(self.holders, SECURITIES).values())

    def send(self, fn: Any, sender: str, gas: int | None = None) -> Any:
        return self.chain.send(fn, sender, gas)

    # ---- snapshots (eth-tester and Anvil both answer evm_snapshot / evm_revert) ---------------------
    def take_snapshot(self) -> Any:
        return self.chain.w3.testing.snapshot()

    def revert(self, snap: Any) -> None:
        self.chain.w3.testing.revert(snap)


def build_world() -> World:
    chain = Chain.connect(ChainConfig())
    # Reads without a sender make web3 ask the node for its accounts on every call (a third of a call's
    # time on the embedded chain); a default account avoids that.
    chain.w3.eth.default_account = chain.accounts[0]
    dep = deploy(chain)
    ol = OnChainLedger(dep)
    addr = {pid: participant_address(pid) for pid in PARTICIPANTS}
    names = {a: p for p, a in addr.items()}
    chain.namer = names.get
    ol.register_participants([(pid, addr[pid], kind) for pid, kind in PARTICIPANTS.items()])
    ol.list_securities(list(SECURITIES.items()))
    ol.deposit_many([(addr[p], s, q) for p, s, q in OPENING_STOCK])
    for cur in CURRENCIES:
        entries = [(addr[p], c) for p, k, c in OPENING_CASH if k == cur]
        if entries:
            ol.issue_cash_many(cur, entries, reference="opening")
    accounts = chain.accounts
    return World(chain=chain, dep=dep, ol=ol, addr=addr, outsider=accounts[5], spare=accounts[6])


def mentions(message: object, address: str) -> bool:
    """Whether an error message names `address` (in any letter case)."""
    return address.lower() in str(message).lower()


_RAW_HEX = re.compile(r"0x[0-9a-fA-F]{41,}|0x[0-9a-fA-F]{8}(?![0-9a-fA-F])")


def readable(message: object) -> bool:
    """A readable revert message: a sentence, no raw revert data or bare selectors, no 'unknown error'."""
    text = str(message)
    return bool(text) and "unknown error" not in text and not _RAW_HEX.search(text)
