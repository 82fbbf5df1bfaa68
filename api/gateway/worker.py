"""Where the ledger side runs: a child process (default) or a thread of the gateway process.

The chain is CPU-heavy pure Python (the embedded chain executes the EVM in Python; a real-time DvP
takes ~100 ms): run in a thread it holds the GIL for milliseconds at a time, and acknowledgements
wait behind it.  So by default the store and the chain live in one child process (spawned, one
worker, calls executed in order) and the gateway process only parses, validates, maps, matches and
talks to participants.  `in_thread=True` keeps everything in one process (simplest to debug).

Calls are by name: `await worker.call("settle_now", iid)` runs `Settler.settle_now(iid)` over there.
Arguments and results are plain picklable values (dataclasses, tuples, dicts).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.gateway.settler import Settler

_NICE = 5  # the child's scheduling niceness relative to the gateway process
_settler: Settler | None = None  # the worker's state (in the child process, or the thread's process)


@dataclass(frozen=True)
class LedgerSpec:
    """How the worker opens the ledger: a fresh demo market, or an existing deployment and store."""

    participants: tuple[str, ...] = ()
    rpc_url: str | None = None
    db_url: str = "sqlite://"
    deployment_file: Path | None = None  # None: set up a demo market for `participants`
    market_dir: Path | None = None  # a market directory (its own chain, store and deployment)


def _watch_parent(parent: int) -> None:
    """In the child: exit when the gateway process is gone (even killed with SIGKILL)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _init(spec: LedgerSpec, parent: int | None = None) -> None:
    global _settler
    from api.gateway.market import open_market, setup_demo_market

    if parent is not None:
        threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()
        try:
            os.nice(_NICE)  # settlement is throughput work: the acknowledging process goes first
        except OSError:
            pass

    if spec.market_dir is not None:
        from ledger.market import open_market as open_market_dir

        m = open_market_dir(spec.market_dir)
    elif spec.deployment_file is not None:
        m = open_market(spec.deployment_file, spec.rpc_url, spec.db_url)
    else:
        m = setup_demo_market(list(spec.participants), spec.rpc_url, spec.db_url)
    _settler = Settler(m.onchain, m.store, m.addresses, m.token_ids)


def _dispatch(name: str, args: tuple[Any, ...]) -> Any:
    if _settler is None:
        raise RuntimeError("the ledger worker is not initialised")
    return getattr(_settler, name)(*args)


class LedgerWorker:
    """One executor with one worker: calls run one at a time, in submission order."""

    def __init__(self, spec: LedgerSpec, in_thread: bool = False) -> None:
        self.in_thread = in_thread
        self._pool: concurrent.futures.Executor
        if in_thread:
            self._pool = concurrent.futures.ThreadPoolExecutor(1, "gateway-ledger", initializer=_init, initargs=(spec,))
        else:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=_init, initargs=(spec, os.getpid()))

    async def call(self, name: str, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, _dispatch, name, args)

    def call_sync(self, name: str, *args: Any) -> Any:
        return self._pool.submit(_dispatch, name, args).result()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


__all__ = ["LedgerSpec", "LedgerWorker"]
