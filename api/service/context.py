"""What every request needs, built once per process: database, ledger store, chain, event hub, settings."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.service import migrate as service_migrate
from api.service.events import EventHub
from api.service.settings import Settings
from ledger import migrate as ledger_migrate
from ledger.chain import Chain, ChainConfig
from ledger.deployment import Deployment, bind, deploy
from ledger.onchain import OnChainLedger
from ledger.store import Store


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: object, _: object) -> None:
            cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
            if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url)


@dataclass
class ServiceContext:
    settings: Settings
    engine: Engine
    store: Store
    deployment: Deployment
    onchain: OnChainLedger
    hub: EventHub = field(default_factory=EventHub)
    chain_lock: threading.RLock = field(default_factory=threading.RLock)  # the chain client is not thread-safe

    def __post_init__(self) -> None:
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

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
