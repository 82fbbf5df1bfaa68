"""Group commit: requests that must be serialised (they extend one audit chain and match against each other)
are queued and stored by one thread per process, as many as are waiting in one transaction.

A request hands its item over and waits until that item's outcome is known: the stored result, or the error
that refused it (a thread blocks in `submit`; a coroutine awaits `submit_async` without holding a thread).
Nothing is acknowledged before its transaction has committed, and an item is never half-stored: a batch
commits or rolls back as a whole. If a batch fails as a whole for a reason that is not any one item's (an
integrity error, a lost database connection), each of its items is stored again on its own, so one bad item
does not refuse the others.

Why: one item per transaction pays the lock, the audit-chain head, the event insert and the commit once
per item while every other request waits; a batch pays them once for all its items.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

I = TypeVar("I")  # noqa: E741 - an item
R = TypeVar("R")  # its result


@dataclass
class _Ticket(Generic[I, R]):
    item: I
    done: threading.Event = field(default_factory=threading.Event)
    outcome: object = None
    on_done: Callable[[], object] | None = None  # also told, from the committer thread

    def finish(self, outcome: object) -> None:
        self.outcome = outcome
        self.done.set()
        if self.on_done is not None:
            try:
                self.on_done()
            except RuntimeError:  # the waiting event loop has closed: nobody is left to tell
                pass


class GroupCommitter(Generic[I, R]):
    """Runs `store(items)` on one thread; `store` returns one outcome per item, in order (a result, or the
    exception refusing that item) and raises only if the whole batch failed."""

    def __init__(self, store: Callable[[Sequence[I]], Sequence[R | BaseException]], name: str,
                 max_batch: int = 128, idle_exit_s: float = 30.0) -> None:
        self._store = store
        self.name = name
        self.max_batch = max_batch
        self.idle_exit_s = idle_exit_s
        self._queue: queue.SimpleQueue[_Ticket[I, R]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.batches = 0  # transactions committed and the items they held (diagnostics; the tests read them)
        self.items = 0

    def submit(self, item: I) -> R:
        """Store `item` with whatever else is waiting; its result, or raise the exception that refused it."""
        t: _Ticket[I, R] = _Ticket(item)
        self._queue.put(t)
        self._ensure_running()
        t.done.wait()
        return self._result(t)

    async def submit_async(self, item: I) -> R:
        """`submit` for a coroutine: the event loop waits for the commit, no thread does. If the awaiting task
        is cancelled (the client went away), the item is still stored, as it would be from a thread."""
        loop = asyncio.get_running_loop()
        woken = loop.create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        t: _Ticket[I, R] = _Ticket(item, on_done=lambda: loop.call_soon_threadsafe(wake))
        self._queue.put(t)
        self._ensure_running()
        await woken
        return self._result(t)

    @staticmethod
    def _result(t: _Ticket[I, R]) -> R:
        if isinstance(t.outcome, BaseException):
            raise t.outcome
        return t.outcome  # type: ignore[return-value]

    def _ensure_running(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.idle_exit_s)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():  # a submit after this sees no thread and starts one
                        self._thread = None
                        return
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[_Ticket[I, R]]) -> None:
        try:
            tried = self._attempt(batch)
            if not isinstance(tried, BaseException):
                outcomes: list[R | BaseException] = tried
            elif len(batch) == 1:
                outcomes = [tried]
            else:  # failed as a whole: each item again, on its own
                log.info("%s: a batch of %d failed as a whole (%s); storing its items one by one",
                         self.name, len(batch), type(tried).__name__)
                outcomes = [self._alone(t) for t in batch]
        except BaseException as exc:  # never leave a request thread waiting
            outcomes = [exc] * len(batch)
        for t, o in zip(batch, outcomes, strict=True):
            t.finish(o)

    def _alone(self, t: _Ticket[I, R]) -> R | BaseException:
        out = self._attempt([t])
        return out if isinstance(out, BaseException) else out[0]

    def _attempt(self, batch: list[_Ticket[I, R]]) -> list[R | BaseException] | BaseException:
        """The batch's outcomes, or the exception that failed it as a whole."""
        try:
            outcomes = list(self._store([t.item for t in batch]))
        except Exception as exc:
            return exc
        if len(outcomes) != len(batch):
            return RuntimeError(f"{self.name}: {len(outcomes)} outcomes for {len(batch)} items")
        self.batches += 1
        self.items += len(batch)
        return outcomes
