"""In-process pub/sub of status changes, per participant, with a bounded replay buffer (ids increase)."""

from __future__ import annotations

import itertools
import queue
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

OPERATOR = "*operator*"  # the operator's channel sees every event


@dataclass(frozen=True)
class Event:
    id: int
    participant_id: str
    type: str
    data: dict[str, Any]


class EventHub:
    def __init__(self, keep: int = 1000) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._recent: dict[str, deque[Event]] = {}
        self._subs: dict[str, set[queue.Queue[Event]]] = {}
        self._keep = keep

    def publish(self, participant_ids: list[str], type_: str, data: dict[str, Any]) -> None:
        with self._lock:
            for pid in dict.fromkeys([*participant_ids, OPERATOR]):
                ev = Event(next(self._ids), pid, type_, data)
                self._recent.setdefault(pid, deque(maxlen=self._keep)).append(ev)
                for q in self._subs.get(pid, ()):
                    q.put(ev)

    def subscribe(self, channel: str, after: int = 0) -> tuple[queue.Queue[Event], list[Event]]:
        """A queue of new events and the buffered ones with id > after (atomically, so none is missed)."""
        q: queue.Queue[Event] = queue.Queue()
        with self._lock:
            self._subs.setdefault(channel, set()).add(q)
            backlog = [e for e in self._recent.get(channel, ()) if e.id > after]
        return q, backlog

    def unsubscribe(self, channel: str, q: queue.Queue[Event]) -> None:
        with self._lock:
            self._subs.get(channel, set()).discard(q)

    def recent(self, channel: str, after: int = 0) -> list[Event]:
        with self._lock:
            return [e for e in self._recent.get(channel, ()) if e.id > after]
