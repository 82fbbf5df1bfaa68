"""Resumable jobs: which steps of a job (a settlement day) are done, with what result, in the store.

A step runs, then records its result in the same store transaction as its own store writes, so a step is
either wholly recorded or not at all. Its chain transactions are sent at most once across crashes: the
senders' nonces are recorded before the step sends anything, and a rerun skips the transactions the chain
already holds (`Chain.resuming`). A rerun of a job therefore redoes only the step it was killed in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ledger.chain import Chain
from ledger.store import Store


@dataclass
class Step:
    """What a step produced: `output` (JSON) is kept; `save` writes the step's rows with the record."""

    output: Any
    save: Callable[[Session], object] | None = None


class StageLog:
    def __init__(self, store: Store, chain: Chain, scope: str) -> None:
        self.store = store
        self.chain = chain
        self.scope = scope  # e.g. "day:2026-11-20"

    def _key(self, name: str, part: str) -> str:
        return f"{self.scope}:{name}:{part}"

    def done(self, name: str) -> Any | None:
        """The recorded output of step `name`, or None if it has not finished."""
        record = self.store.get_meta(self._key(name, "done"))
        return None if record is None else record["output"]

    def run(self, name: str, work: Callable[[], Step], senders: Sequence[str] = ()) -> Any:
        """Run step `name` unless it is done; its output as recorded (JSON round trip either way)."""
        record = self.store.get_meta(self._key(name, "done"))
        if record is not None:
            return record["output"]
        start: dict[str, int] | None = self.store.get_meta(self._key(name, "nonces"))
        if start is None:
            start = {s: self.chain.nonce(s) for s in dict.fromkeys(senders)}
            self.store.set_meta(self._key(name, "nonces"), start)  # durable before anything is sent
        with self.chain.resuming(start):
            step = work()
        output = json.loads(json.dumps(step.output))
        with self.store.session() as s:
            if step.save is not None:
                step.save(s)
            self.store.set_meta_in(s, self._key(name, "done"), {"output": output})
        return output
