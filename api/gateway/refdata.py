"""The reference data the gateway checks instructions against: participants, securities, currencies.

A snapshot read from the store (and the deployment's currencies) at start and on `reload`; lookups
are dict probes on the event loop, never a database round trip on the acknowledgement path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger.refdata import canonical_stock_code
from ledger.store import Store


@dataclass(frozen=True)
class SecurityRef:
    code: str  # canonical stock code, "700"
    token_id: int
    isin: str
    name: str
    board_lot: int
    currency: str


@dataclass
class RefData:
    participants: dict[str, str] = field(default_factory=dict)  # id -> status
    securities: dict[str, SecurityRef] = field(default_factory=dict)  # by stock code
    by_isin: dict[str, SecurityRef] = field(default_factory=dict)
    currencies: tuple[str, ...] = ("HKD", "CNY", "USD")
    addresses: dict[str, str] = field(default_factory=dict)  # participant id -> chain address

    @classmethod
    def from_store(cls, store: Store, currencies: tuple[str, ...]) -> RefData:
        rd = cls(currencies=tuple(currencies))
        for p in store.participants():
            rd.participants[p.id] = p.status
            rd.addresses[p.id] = p.address
        for s in store.securities():
            rd.add_security(SecurityRef(s.code, int(s.token_id), s.isin, s.name, int(s.board_lot), s.currency))
        return rd

    def add_security(self, sec: SecurityRef) -> None:
        self.securities[sec.code] = sec
        self.by_isin[sec.isin] = sec

    def is_participant(self, pid: str) -> bool:
        return pid in self.participants

    def security(self, isin: str | None, stock_code: str | None) -> SecurityRef | None | str:
        """The listed security for an ISIN and/or stock code; None if unknown; a message (str) when
        both are given and name different securities."""
        by_isin = self.by_isin.get(isin) if isin else None
        by_code: SecurityRef | None = None
        if stock_code:
            try:
                by_code = self.securities.get(canonical_stock_code(stock_code))
            except ValueError:
                by_code = None
        if isin and stock_code:
            if by_isin is None or by_code is None:
                return None
            if by_isin.code != by_code.code:
                return f"ISIN {isin} is stock code {by_isin.code}, not {stock_code}"
            return by_isin
        return by_isin or by_code


__all__ = ["RefData", "SecurityRef"]
