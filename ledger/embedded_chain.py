"""The embedded chain made durable: py-evm's database in a SQLite file of the market directory.

py-evm keeps a chain as key-value pairs (trie nodes keyed by their hash, headers, blocks, receipts, the
canonical head). `SqliteChainDB` is a py-evm database backend (its public `BaseAtomicDB` interface) over one
SQLite table: each atomic batch py-evm writes (a mined block with its header and canonical head, a state
commit) is one SQLite transaction, so `kill -9` at any point leaves the chain at its last mined block.
Opening the file resumes that block: nothing is replayed, so opening a market takes the same time
whatever days it holds.

Several processes may open one market's chain (the service and the gateway): a transaction is applied
under an exclusive lock on `chain.lock` beside the database, and a process whose view is older than the
file (SQLite's `data_version` moved) rebuilds its chain from the file's canonical head before it reads or
writes. Trie nodes are never deleted, so a reader at an older head always finds its state.
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eth.abc import AtomicWriteBatchAPI
from eth.db.backends.base import BaseAtomicDB, BaseDB
from eth.db.chain import ChainDB
from eth.db.diff import DBDiffTracker, DiffMissingError
from eth.exceptions import CanonicalHeadNotFound
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm.main import generate_genesis_state_for_keys, setup_tester_chain
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import RPCEndpoint, RPCResponse

# Requests that change the chain: applied under the market's exclusive chain lock.
_WRITES = frozenset({"eth_sendTransaction", "eth_sendRawTransaction", "evm_mine", "evm_revert",
                     "evm_snapshot", "evm_setTime", "evm_increaseTime"})


class SqliteChainDB(BaseAtomicDB):
    """py-evm's key-value database in one SQLite table (WAL; every commit durable on disk)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")
        self._lock = threading.RLock()  # one connection, shared by the threads of this process

    def __getitem__(self, key: bytes) -> bytes:
        with self._lock:
            row = self._conn.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def __setitem__(self, key: bytes, value: bytes) -> None:
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, value))

    def __delitem__(self, key: bytes) -> None:
        with self._lock:
            if not self._conn.execute("DELETE FROM kv WHERE k = ?", (key,)).rowcount:
                raise KeyError(key)

    def _exists(self, key: bytes) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM kv WHERE k = ?", (key,)).fetchone() is not None

    @contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        batch = _WriteBatch(self)
        try:
            yield batch
        except BaseException:
            batch.close()
            raise
        self.write_all(batch.close())

    def write_all(self, changes: tuple[dict[bytes, bytes], list[bytes]]) -> None:
        """Apply a batch's puts and deletes in one SQLite transaction (all or nothing)."""
        puts, deletes = changes
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", puts.items())
                self._conn.executemany("DELETE FROM kv WHERE k = ?", ((k,) for k in deletes))
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def data_version(self) -> int:
        """Moves whenever another connection (another process) has committed to the file."""
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _WriteBatch(BaseDB, AtomicWriteBatchAPI):
    """The pending writes of one atomic batch, readable through to the database (py-evm's contract)."""

    def __init__(self, db: SqliteChainDB) -> None:
        self._db = db
        self._diff: DBDiffTracker | None = DBDiffTracker()

    def _tracker(self) -> DBDiffTracker:
        if self._diff is None:
            raise RuntimeError("write batch used outside its atomic_batch() block")
        return self._diff

    def __getitem__(self, key: bytes) -> bytes:
        try:
            return bytes(self._tracker()[key])
        except DiffMissingError as missing:
            if missing.is_deleted:
                raise KeyError(key) from None
            return self._db[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._tracker()[key] = value

    def __delitem__(self, key: bytes) -> None:
        if key not in self:
            raise KeyError(key)
        del self._tracker()[key]

    def _exists(self, key: bytes) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def close(self) -> tuple[dict[bytes, bytes], list[bytes]]:
        diff = self._tracker().diff()
        self._diff = None
        return dict(diff.pending_items()), list(diff.deleted_keys())


class DurablePyEVMBackend(PyEVMBackend):  # type: ignore[misc]
    """eth-tester's py-evm backend on a `SqliteChainDB`: created at genesis once, resumed at its head after."""

    def __init__(self, db: SqliteChainDB, genesis_parameters: dict[str, Any]) -> None:
        """genesis_parameters: overrides of eth-tester's genesis (used only when the file is new)."""
        self.db = db
        self._seen_version = -1
        super().__init__(genesis_parameters=genesis_parameters)

    def reset_to_genesis(self, genesis_params: Any = None, genesis_state: Any = None, num_accounts: Any = None,
                         vm_configuration: Any = None, mnemonic: Any = None, hd_path: Any = None) -> None:
        # eth-tester's own set-up gives the accounts and the chain class (rules, chain id); its in-memory
        # chain is discarded for one on the file.
        params = self.generate_genesis_params(overrides=genesis_params)
        keys, template = setup_tester_chain(params, genesis_state, num_accounts, vm_configuration, mnemonic, hd_path)
        self.account_keys = keys
        chain_class = type(template)
        if self.has_head():
            self.chain = chain_class(self.db)
        else:
            self.chain = chain_class.from_genesis(self.db, params, genesis_state or
                                                  generate_genesis_state_for_keys(keys))
        self._seen_version = self.db.data_version()

    def has_head(self) -> bool:
        try:
            ChainDB(self.db).get_canonical_head()
        except CanonicalHeadNotFound:
            return False
        return True

    def sync(self) -> None:
        """Rebuild the chain from the file's head if another process has written since we last looked."""
        version = self.db.data_version()
        if version != self._seen_version:
            self.chain = type(self.chain)(self.db)
            self._seen_version = version


class DurableTesterProvider(EthereumTesterProvider):  # type: ignore[misc]
    """web3's eth-tester provider that keeps every process's view of the market's chain current."""

    def __init__(self, backend: DurablePyEVMBackend, lock_path: Path) -> None:
        super().__init__(EthereumTester(backend=backend))
        self.backend = backend
        self.lock_path = lock_path
        self._thread_lock = threading.RLock()

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with self._thread_lock:
            if method not in _WRITES:
                self.backend.sync()
                return super().make_request(method, params)
            with exclusive(self.lock_path):
                self.backend.sync()
                return super().make_request(method, params)


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on `path` across processes (released by the OS if the holder dies)."""
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
