"""The one way participants and securities enter a market: on chain and in the store together.

The chain transactions are sent first; the returned `save` writes the store rows, to be run in the
transaction that records the step done (ledger.stage_log), so a crash in between redoes neither.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eth_account import Account
from eth_utils.crypto import keccak
from sqlalchemy.orm import Session

from ledger.onchain import Kind, OnChainLedger
from ledger.store import ParticipantRow, SecurityRow

KINDS = {"broker": Kind.BROKER, "custodian": Kind.CUSTODIAN, "ccp": Kind.CCP,
         "settlement_bank": Kind.SETTLEMENT_BANK, "csd_operator": Kind.CSD_OPERATOR}
_PREFIX_KINDS = {"B": "broker", "C": "custodian", "H": "ccp", "S": "settlement_bank", "D": "csd_operator"}


def participant_address(namespace: str, pid: str) -> str:
    """A participant's chain address from a key derived from `namespace` (generated markets hold no real keys)."""
    return str(Account.from_key(keccak(f"ledgerclear/{namespace}/{pid}".encode())).address)


def kind_of(pid: str) -> str:
    """The participant kind its id's letter stands for (B broker, C custodian, H CCP, S bank, D CSD)."""
    return _PREFIX_KINDS.get(pid[0], "broker")


@dataclass(frozen=True)
class NewParticipant:
    id: str
    kind: str  # a key of KINDS
    name: str
    address: str


@dataclass(frozen=True)
class NewSecurity:
    code: str
    isin: str
    name: str
    board_lot: int
    currency: str

    @property
    def token_id(self) -> int:
        return int(self.code)  # the stock code is the token id (codes are 1-5 digits)


def register(onchain: OnChainLedger, participants: Sequence[NewParticipant]) -> Callable[[Session], None]:
    """Register participants on chain; the returned function stores them."""
    onchain.register_participants([(p.id, p.address, KINDS[p.kind]) for p in participants])

    def save(s: Session) -> None:
        s.add_all([ParticipantRow(id=p.id, address=p.address, kind=p.kind, name=p.name, status="active")
                   for p in participants])

    return save


def list_securities(onchain: OnChainLedger, securities: Sequence[NewSecurity]) -> Callable[[Session], None]:
    """List securities on chain; the returned function stores them."""
    onchain.list_securities([(s.token_id, s.isin) for s in securities])

    def save(s: Session) -> None:
        s.add_all([SecurityRow(code=x.code, token_id=x.token_id, isin=x.isin, name=x.name, board_lot=x.board_lot,
                               currency=x.currency) for x in securities])

    return save
