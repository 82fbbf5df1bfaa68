"""A market is a directory that every way in opens: its store, its chain, its deployment and its files.

```
M/market.json       the manifest: format version, where the chain and the store are, the reference data
M/chain.sqlite      the embedded chain (durable; absent on a JSON-RPC node)
M/store.sqlite      the store (absent when the manifest names a PostgreSQL URL)
M/deployment.json   the contracts (written once the deployment is complete)
M/summary.json ...  the latest day's summary and reports; days/<date>/ keeps every day's
M/certs/            the gateway's certificates (`ledgerclear certs M/certs`)
```
`create` makes one, `open_market` opens one and checks that its chain and store belong together (the
store records the chain's genesis block; a chain file swapped or deleted is refused, nothing changed).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.chain import Chain, ChainConfig
from ledger.deployment import Deployment, bind
from ledger.errors import LedgerError
from ledger.onchain import OnChainLedger
from ledger.store import Store

MANIFEST = "market.json"
FORMAT = "ledgerclear-market"
VERSION = 1
DEFAULT_DIR = Path("market")


class MarketError(LedgerError):
    """A directory that cannot be opened as a market; the message says what and how to fix it."""


@dataclass(frozen=True)
class Manifest:
    """market.json. `rpc_url` None: the embedded chain in chain.sqlite. `db_url` None: store.sqlite."""

    rpc_url: str | None = None
    db_url: str | None = None
    refdata: dict[str, Any] = field(default_factory=dict)  # how the reference data was made (seeded market)
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": self.version, "chain": {"rpc_url": self.rpc_url},
                "store": {"db_url": self.db_url}, "refdata": self.refdata}

    @classmethod
    def from_json(cls, raw: Any, where: Path) -> Manifest:
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise MarketError(f"{where} is not a ledgerclear market manifest (expected \"format\": \"{FORMAT}\")")
        version = raw.get("version")
        if version != VERSION:
            raise MarketError(f"{where} is a market of format version {version}; this ledgerclear opens version "
                              f"{VERSION}: open it with the ledgerclear that made it")
        try:
            return cls(rpc_url=raw["chain"]["rpc_url"], db_url=raw["store"]["db_url"],
                       refdata=dict(raw.get("refdata") or {}), version=version)
        except (KeyError, TypeError):
            raise MarketError(f"{where} lacks chain.rpc_url or store.db_url") from None


@dataclass
class MarketDir:
    """The files of a market directory (nothing opened yet)."""

    path: Path
    manifest: Manifest

    @property
    def chain_file(self) -> Path:
        return self.path / "chain.sqlite"

    @property
    def deployment_file(self) -> Path:
        return self.path / "deployment.json"

    @property
    def certs_dir(self) -> Path:
        return self.path / "certs"

    def day_dir(self, trade_date: str) -> Path:
        return self.path / "days" / trade_date

    @property
    def db_url(self) -> str:
        return self.manifest.db_url or f"sqlite:///{self.path / 'store.sqlite'}"

    @property
    def chain_config(self) -> ChainConfig:
        if self.manifest.rpc_url is not None:
            return ChainConfig(rpc_url=self.manifest.rpc_url)
        return ChainConfig(chain_file=self.chain_file)

    def write_deployment(self, description: dict[str, Any]) -> None:
        _write_atomically(self.deployment_file, json.dumps(description, indent=2) + "\n")

    def deployment_description(self) -> dict[str, Any] | None:
        if not self.deployment_file.exists():
            return None
        return dict(json.loads(self.deployment_file.read_text()))

    @contextmanager
    def exclusive(self, what: str) -> Iterator[None]:
        """Hold the market for one writer of days (a second `ledgerclear day` is refused, not interleaved)."""
        with open(self.path / "day.lock", "a+b") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise MarketError(f"{self.path}: {what} is refused: another day is running on this market "
                                  "(wait for it to finish)") from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def create(path: Path, rpc_url: str | None = None, db_url: str | None = None,
           refdata: dict[str, Any] | None = None) -> MarketDir:
    """Make a new market in `path` (a new or empty directory); an existing market is opened instead
    when its manifest agrees with the arguments given (None: as the manifest says)."""
    if (path / MANIFEST).exists():
        market = read(path)
        given = {"--rpc": (rpc_url, market.manifest.rpc_url), "--db": (db_url, market.manifest.db_url)}
        for option, (wanted, has) in given.items():
            if wanted is not None and wanted != has:
                raise MarketError(f"{path} is a market on {option} {has or '(its own file)'}; open it without "
                                  f"{option} or choose another directory")
        if refdata is not None and market.manifest.refdata and market.manifest.refdata != refdata:
            raise MarketError(f"{path} is a market of reference data {market.manifest.refdata}, not {refdata}: "
                              "drop --participants/--securities/--seed or choose another directory")
        return market
    if path.exists() and (not path.is_dir() or any(p.name != "day.lock" for p in path.iterdir())):
        raise MarketError(f"{path} is not empty and holds no {MANIFEST}: give a new or empty directory for a "
                          "new market")
    path.mkdir(parents=True, exist_ok=True)
    # the manifest is written once the chain and the store have opened (open_chain_and_store)
    return MarketDir(path, Manifest(rpc_url=rpc_url, db_url=db_url, refdata=refdata or {}))


def read(path: Path) -> MarketDir:
    """The market directory at `path`, from its manifest (raises MarketError saying what is wrong)."""
    if not path.is_dir():
        raise MarketError(f"{path} is not a directory; make a market with `ledgerclear demo --out {path}`")
    file = path / MANIFEST
    if not file.exists():
        raise MarketError(f"{path} is not a market (no {MANIFEST}); make one with `ledgerclear demo --out {path}`")
    try:
        raw = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise MarketError(f"{file} cannot be read as JSON ({exc})") from None
    return MarketDir(path, Manifest.from_json(raw, file))


def read_refdata(path: Path) -> dict[str, Any]:
    """How the market at `path` generated its reference data ({} for a directory that is no market yet)."""
    if not (path / MANIFEST).exists():
        return {}
    return dict(read(path).manifest.refdata.get("generated", {}))


@dataclass
class Market:
    """An open market: its directory, store, chain, deployment and who is who on chain."""

    dir: MarketDir | None
    store: Store
    chain: Chain
    deployment: Deployment
    onchain: OnChainLedger
    addresses: dict[str, str]  # participant id -> chain address
    token_ids: dict[str, int]  # stock code -> token id

    def refresh_refdata(self) -> None:
        """Participants and securities as the store now holds them."""
        self.addresses = {p.id: p.address for p in self.store.participants()}
        self.token_ids = {s.code: int(s.token_id) for s in self.store.securities()}


GENESIS_KEY = "chain:genesis"


def open_chain_and_store(market: MarketDir) -> tuple[Chain, Store]:
    """Connect the market's chain and store and check they belong together (first open: record it)."""
    chain = Chain.connect(market.chain_config)
    store = Store.open(market.db_url)
    if not (market.path / MANIFEST).exists():
        _write_atomically(market.path / MANIFEST, json.dumps(market.manifest.to_json(), indent=2) + "\n")
    genesis = "0x" + bytes(chain.w3.eth.get_block(0)["hash"]).hex()
    known = store.get_meta(GENESIS_KEY)
    if known is None:
        if market.deployment_file.exists():
            raise MarketError(f"{market.path}: the store does not know the chain it was made with; the store "
                              "was replaced: restore store.sqlite (or the database) of this market")
        store.set_meta(GENESIS_KEY, genesis)
    elif known != genesis:
        raise MarketError(f"{market.path}: the chain ({market.chain_config.rpc_url or market.chain_file}) is not "
                          f"the one this store was made on (genesis {genesis[:12]}…, store expects {known[:12]}…); "
                          "restore the market's chain or open the store with its own chain")
    return chain, store


def open_market(path: Path) -> Market:
    """Open a complete market (deployed): the way the service, the gateway and later days come in."""
    market = read(path)
    description = market.deployment_description()
    if description is None:
        raise MarketError(f"{path}: the market's contracts are not deployed yet (an interrupted day?); rerun "
                          "the `ledgerclear day` that made it to finish it")
    chain, store = open_chain_and_store(market)
    deployment = bind(chain, description)
    if not chain.w3.eth.get_code(deployment.engine.address):
        raise MarketError(f"{path}: the settlement engine {deployment.engine.address} is not on the chain; the "
                          "chain does not match deployment.json")
    opened = Market(market, store, chain, deployment, OnChainLedger(deployment), {}, {})
    opened.refresh_refdata()
    return opened


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
