"""Who is calling: a signed-in user, an API key or a registered client certificate, with its groups."""

from __future__ import annotations

from dataclasses import dataclass

_ACTOR_PREFIX = {"user": "user", "api_key": "key", "client_cert": "cert"}


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" | "api_key" | "client_cert"
    id: int
    name: str
    participant_id: str | None  # None: the exchange operator
    groups: frozenset[str]
    session_id: int | None = None

    @property
    def actor(self) -> str:
        """The audit log's name for this caller."""
        return f"{_ACTOR_PREFIX.get(self.kind, self.kind)}:{self.name}"

    @property
    def is_machine(self) -> bool:
        return self.kind in ("api_key", "client_cert")

    @property
    def is_operator(self) -> bool:
        return self.participant_id is None

    def has(self, *groups: str) -> bool:
        return bool(self.groups.intersection(groups))
