"""The gateway's journal: every accepted inbound message, with the acknowledgement it got.

One JSON line per accepted message (`{"p": participant, "r": SEME, "t": message, "a": ack}`), written
and flushed to the operating system before the acknowledgement is queued, and fsynced by the
gateway's watchdog every second and at shutdown.  On a restart the engine replays the journal
(engine.replay): the SI book, cancellations, holds and the idempotency table come back exactly as
they were, and a resend gets the same acknowledgement, byte for byte.  Settlement state is not in
the journal: it is in the store and on the chain, and obligations are stored idempotently (keyed
by their two instructions), so a replay never creates a second instruction.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    participant: str
    reference: str
    text: str
    ack: str


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = path.open("a", encoding="ascii")
        self._dirty = False

    def append(self, participant: str, reference: str, text: str, ack: str) -> None:
        self._f.write(json.dumps({"p": participant, "r": reference, "t": text, "a": ack}) + "\n")
        self._f.flush()  # in the OS before the ack leaves: survives a crash of the gateway process
        self._dirty = True

    def sync(self) -> None:
        if self._dirty:
            os.fsync(self._f.fileno())
            self._dirty = False

    def close(self) -> None:
        self.sync()
        self._f.close()


def read_journal(path: Path) -> Iterator[Entry]:
    """The entries of a journal, in order; a torn last line (crash mid-write) is ignored."""
    if not path.exists():
        return
    with path.open("r", encoding="ascii") as f:
        for line in f:
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                continue
            yield Entry(d["p"], d["r"], d["t"], d["a"])


__all__ = ["Entry", "Journal", "read_journal"]
