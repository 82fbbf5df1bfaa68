"""`--setup-demo-market`: a fresh deployment with the certificate holders as participants.

Registers each participant (addresses derived from a seed: the demo holds no real keys), lists a
handful of HK securities (HKD counters, one RMB counter, one USD counter), and funds every
participant with stock and cash so instructions between them can settle.  Also used by the tests
and the benchmark.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_utils.crypto import keccak

from ledger.chain import Chain, ChainConfig
from ledger.deployment import Deployment, bind, deploy
from ledger.onchain import Kind, OnChainLedger
from ledger.refdata import hk_isin_for_code
from ledger.store import ParticipantRow, SecurityRow, Store

# (stock code, ISIN or None for a synthetic HK one, name, board lot, currency)
DEMO_SECURITIES: tuple[tuple[str, str | None, str, int, str], ...] = (
    ("5", None, "HSBC HOLDINGS", 400, "HKD"),
    ("388", None, "HKEX", 100, "HKD"),
    ("700", None, "TENCENT", 100, "HKD"),
    ("1299", "HK0000069689", "AIA GROUP LTD", 200, "HKD"),
    ("9988", "KYG017191142", "BABA-W", 100, "HKD"),
    ("9001", None, "USD COUNTER DEMO", 100, "USD"),
    ("80737", None, "RMB COUNTER DEMO -R", 100, "CNY"),
)
DEMO_STOCK = 1_000_000  # units of each security per participant
DEMO_CASH_CENTS = 10_000_000_000  # 100,000,000.00 of each currency per participant


def participant_address(pid: str, seed: int = 15022) -> str:
    return str(Account.from_key(keccak(f"ledgerclear-gateway/{seed}/{pid}".encode())).address)


@dataclass
class Market:
    deployment: Deployment
    onchain: OnChainLedger
    store: Store
    addresses: dict[str, str]
    token_ids: dict[str, int]


def _kind(pid: str) -> Kind:
    return {"C": Kind.CUSTODIAN, "H": Kind.CCP, "S": Kind.SETTLEMENT_BANK, "D": Kind.CSD_OPERATOR}.get(pid[0], Kind.BROKER)


def setup_demo_market(participants: Sequence[str], rpc_url: str | None = None, db_url: str = "sqlite://",
                      *, stock: int = DEMO_STOCK, cash_cents: int = DEMO_CASH_CENTS) -> Market:
    chain = Chain.connect(ChainConfig(rpc_url=rpc_url))
    dep = deploy(chain)
    onchain = OnChainLedger(dep)
    store = Store.open(db_url)
    addresses = {p: participant_address(p) for p in participants}
    onchain.register_participants([(p, addresses[p], _kind(p)) for p in participants])
    store.add_participants(ParticipantRow(id=p, address=addresses[p], kind=_kind(p).name.lower(), name=f"participant {p}",
                                          status="active") for p in participants)
    token_ids = {code: int(code) for code, *_ in DEMO_SECURITIES}
    isins = {code: isin or hk_isin_for_code(code) for code, isin, *_ in DEMO_SECURITIES}
    onchain.list_securities([(token_ids[c], isins[c]) for c in token_ids])
    store.add_securities(SecurityRow(code=c, token_id=token_ids[c], isin=isins[c], name=name, board_lot=lot, currency=cur)
                         for c, _, name, lot, cur in DEMO_SECURITIES)
    if stock > 0:
        onchain.deposit_many([(addresses[p], token_ids[c], stock) for p in participants for c in token_ids])
    if cash_cents > 0:
        for code in dep.currencies:
            onchain.issue_cash_many(code, [(addresses[p], cash_cents) for p in participants], reference="gateway demo")
    return Market(dep, onchain, store, addresses, token_ids)


def open_market(deployment_file: Path, rpc_url: str | None, db_url: str) -> Market:
    """Bind to an existing deployment (deployment.json) and store (participants and securities)."""
    chain = Chain.connect(ChainConfig(rpc_url=rpc_url))
    dep = bind(chain, json.loads(deployment_file.read_text()))
    store = Store.open(db_url)
    addresses = {p.id: p.address for p in store.participants()}
    token_ids = {s.code: int(s.token_id) for s in store.securities()}
    return Market(dep, OnChainLedger(dep), store, addresses, token_ids)


__all__ = ["DEMO_SECURITIES", "Market", "open_market", "participant_address", "setup_demo_market"]
