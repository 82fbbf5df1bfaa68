"""What every request needs, built once per process: database, ledger store, chain, event hub, settings."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.service import migrate as service_migrate
from api.service.events import EventHub
from api.service.group_commit import GroupCommitter
from api.service.settings import Settings
from ledger import migrate as ledger_migrate
from ledger.chain import Chain, ChainConfig
from ledger.deployment import Deployment, bind, deploy
from ledger.onchain import OnChainLedger
from ledger.store import Store


POOL_SIZE = 40  # anyio's default worker threads, which run the sync endpoints


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # One pooled connection per request thread (anyio's pool has 40): an overflow connection is opened
        # and closed per request, and each open replays the PRAGMAs below.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=POOL_SIZE, max_overflow=POOL_SIZE)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: object, _: object) -> None:
            cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
            if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
                cur.execute("PRAGMA journal_mode=WAL")
                # WAL lets reads run beside the writer; FULL keeps every acknowledged commit on disk even
                # through a power cut (accepted instructions must survive any crash).
                cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_size=POOL_SIZE // 4, max_overflow=POOL_SIZE)


class BlockCache:
    """Chain reads memoised for the block they were read at. The chain's state changes only with a new
    block, so an entry is dropped as soon as the chain has moved on; a value may be computed after a newer
    block appeared (a node outside the service mined one), never before the block it is filed under.
    Call only while holding the chain lock (the chain client is not thread-safe)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.block = -1
        self.max_entries = max_entries
        self._entries: dict[Hashable, Any] = {}

    def get(self, block: int, key: Hashable, compute: Callable[[], Any]) -> Any:
        if block != self.block or len(self._entries) >= self.max_entries:
            self._entries.clear()
            self.block = block
        if key not in self._entries:
            self._entries[key] = compute()
        return self._entries[key]

    def peek(self, block: int, key: Hashable) -> Any:
        """The value filed under `key` for `block`, or None (nothing is computed)."""
        return self._entries.get(key) if block == self.block else None

    def put(self, block: int, key: Hashable, value: Any) -> None:
        """File a value read at `block` (e.g. the by-products of a bulk read) while `get` computes."""
        if block == self.block and len(self._entries) < self.max_entries:
            self._entries[key] = value


@dataclass
class ServiceContext:
    settings: Settings
    engine: Engine
    store: Store
    deployment: Deployment
    onchain: OnChainLedger
    hub: EventHub = field(init=False)  # events in the database, shared by every worker process
    chain_lock: threading.RLock = field(default_factory=threading.RLock)  # the chain client is not thread-safe
    chain_reads: BlockCache = field(default_factory=BlockCache)  # under chain_lock
    # Rows the service only ever inserts (participants and securities are never deleted, a participant's
    # address never changes): participant id -> registered address, listed security codes. Positive
    # entries only; a participant's status is always read afresh.
    known_addresses: dict[str, str] = field(default_factory=dict)
    known_securities: set[str] = field(default_factory=set)
    # submissions stored in batches, one transaction each (api/service/instructions.py makes it on first use)
    submissions: GroupCommitter[Any, Any] | None = None

    def __post_init__(self) -> None:
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.hub = EventHub(self._sessions, poll_s=self.settings.event_poll_s, keep=self.settings.event_retention)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction over service and ledger tables (same database): all or nothing."""
        with self._sessions.begin() as s:
            yield s

    @property
    def chain_id(self) -> int:
        return self.deployment.chain.chain_id

    @property
    def engine_address(self) -> str:
        return str(self.deployment.engine.address)


def open_context(settings: Settings, deployment: Deployment | None = None) -> ServiceContext:
    """Migrate both schemas and connect to the chain (embedded and freshly deployed unless told otherwise)."""
    engine = make_engine(settings.db_url)
    ledger_migrate.upgrade(engine)
    service_migrate.upgrade(engine)
    store = Store(engine)
    if deployment is None:
        chain = Chain.connect(ChainConfig(rpc_url=settings.rpc_url))
        if settings.deployment_file is not None and settings.deployment_file.exists():
            deployment = bind(chain, json.loads(settings.deployment_file.read_text()))
        else:
            deployment = deploy(chain)
            if settings.deployment_file is not None:
                settings.deployment_file.write_text(json.dumps(deployment.describe(), indent=2))
    return ServiceContext(settings=settings, engine=engine, store=store, deployment=deployment,
                          onchain=OnChainLedger(deployment))
