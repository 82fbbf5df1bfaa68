"""`--setup-demo-market`: a fresh deployment with the certificate holders as participants.

Registers each participant (addresses derived from a seed: the demo holds no real keys), lists a
handful of HK securities (HKD counters, one RMB counter, one USD counter), and funds every
participant with stock and cash so instructions between them can settle.  Also used by the tests
and the benchmark. A gateway on a market directory (`--market`) opens it with ledger.market instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ledger.chain import Chain, ChainConfig
from ledger.deployment import bind, deploy
from ledger.market import Market
from ledger.market_setup import NewParticipant, NewSecurity, kind_of, list_securities, participant_address, register
from ledger.onchain import OnChainLedger
from ledger.refdata import hk_isin_for_code
from ledger.store import Store

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


def setup_demo_market(participants: Sequence[str], rpc_url: str | None = None, db_url: str = "sqlite://",
                      *, stock: int = DEMO_STOCK, cash_cents: int = DEMO_CASH_CENTS) -> Market:
    chain = Chain.connect(ChainConfig(rpc_url=rpc_url))
    dep = deploy(chain)
    onchain = OnChainLedger(dep)
    store = Store.open(db_url)
    people = [NewParticipant(p, kind_of(p), f"participant {p}", participant_address("gateway", p))
              for p in participants]
    securities = [NewSecurity(code, isin or hk_isin_for_code(code), name, lot, cur)
                  for code, isin, name, lot, cur in DEMO_SECURITIES]
    save_people = register(onchain, people)
    save_securities = list_securities(onchain, securities)
    with store.session() as s:
        save_people(s)
        save_securities(s)
    m = Market(None, store, chain, dep, onchain, {}, {})
    m.refresh_refdata()
    if stock > 0:
        onchain.deposit_many([(m.addresses[p], m.token_ids[c], stock) for p in participants for c in m.token_ids])
    if cash_cents > 0:
        for code in dep.currencies:
            onchain.issue_cash_many(code, [(m.addresses[p], cash_cents) for p in participants], reference="gateway demo")
    return m


def open_market(deployment_file: Path, rpc_url: str | None, db_url: str) -> Market:
    """Bind to an existing deployment (deployment.json) and store (participants and securities)."""
    chain = Chain.connect(ChainConfig(rpc_url=rpc_url))
    dep = bind(chain, json.loads(deployment_file.read_text()))
    m = Market(None, Store.open(db_url), chain, dep, OnChainLedger(dep), {}, {})
    m.refresh_refdata()
    return m


__all__ = ["DEMO_SECURITIES", "Market", "open_market", "participant_address", "setup_demo_market"]
