"""Typed models of the messages we speak: plain frozen dataclasses, no wire details.

Inbound:  SettlementInstruction (MT540-543), ProcessingCommand (MT530).
Outbound: SettlementConfirmation (MT544-547), StatusAdvice (MT548), HoldingsStatement (MT535),
          TransactionStatement (MT536).

They are shaped for the settlement mapper: an instruction carries exactly what a settlement leg
needs (reference, function, dates, security, quantity, account, counterparty, place, cash).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, Union

Function = Literal["NEWM", "CANC"]
Direction = Literal["RECE", "DELI"]
Payment = Literal["APMT", "FREE"]

# MT -> (direction, payment) for instructions and their confirmations.
INSTRUCTION_KIND: dict[int, tuple[Direction, Payment]] = {
    540: ("RECE", "FREE"),
    541: ("RECE", "APMT"),
    542: ("DELI", "FREE"),
    543: ("DELI", "APMT"),
}
CONFIRMATION_OF: dict[int, int] = {540: 544, 541: 545, 542: 546, 543: 547}


@dataclass(frozen=True)
class Envelope:
    """Who sends to whom.  For outbound messages the builder fills defaults (the host)."""

    sender: str = "XHKCHKH1AXXX"  # 12-char logical terminal
    receiver: str = "XHKCHKH1XXXX"
    session: str = "0000"
    sequence: str = "000000"
    user_reference: str | None = None  # block 3 {108:}
    priority: str = "N"


@dataclass(frozen=True)
class SecurityId:
    """ISIN and/or local stock code (35B: `ISIN HK0000069689` and/or `/HK/700`)."""

    isin: str | None = None
    stock_code: str | None = None  # e.g. "700"
    # Country of the local code: HK when a stock code is given without one; "" without a code.
    market: str | None = None
    description: tuple[str, ...] = ()  # free lines after the local code

    def __post_init__(self) -> None:
        if self.isin is None and self.stock_code is None and not self.description:
            raise ValueError("a security needs an ISIN, a stock code or a description")
        if self.market is None:
            object.__setattr__(self, "market", "HK" if self.stock_code is not None else "")


@dataclass(frozen=True)
class Party:
    """A settlement party: BIC (95P), participant id under a scheme (95R, e.g. HKEX/B01234),
    or name lines (95Q).  `role` is the qualifier: DEAG, REAG, PSET, SELL, BUYR, ..."""

    role: str
    bic: str | None = None
    participant_id: str | None = None
    scheme: str | None = None  # data source scheme of participant_id, e.g. "HKEX"
    name: tuple[str, ...] = ()
    account: str | None = None  # 97A::SAFE inside the party's SETPRTY

    @property
    def identifier(self) -> str:
        """The one string a mapper keys on: participant id, else BIC, else the name."""
        return self.participant_id or self.bic or " ".join(self.name)


@dataclass(frozen=True)
class SettlementInstruction:
    """MT540/541/542/543, NEWM or CANC."""

    mt: int
    sender_reference: str  # 20C::SEME
    function: Function
    settlement_date: date  # 98a::SETT (date part)
    security: SecurityId
    quantity: Decimal
    safekeeping_account: str  # 97A::SAFE
    counterparty: Party  # DEAG (receive) or REAG (deliver)
    place_of_settlement: Party  # PSET
    trade_date: date | None = None
    quantity_type: str = "UNIT"  # UNIT shares, FAMT face amount
    settlement_amount: Decimal | None = None  # 19A::SETT
    currency: str | None = None
    settlement_type: str = "TRAD"  # 22F::SETR
    partial_settlement: str | None = None  # 22F::STCO//PART or NPAR
    previous_reference: str | None = None  # LINK 20C::PREV (the SEME a CANC cancels)
    deal_price: Decimal | None = None  # 90B::DEAL//ACTU
    other_parties: tuple[Party, ...] = ()  # any further SETPRTY (REAG of a receive, SELL, ...)
    preparation: datetime | None = None  # 98C::PREP
    envelope: Envelope = field(default_factory=Envelope)

    @property
    def direction(self) -> Direction:
        return INSTRUCTION_KIND[self.mt][0]

    @property
    def payment(self) -> Payment:
        """APMT against payment (541/543), FREE free of payment (540/542)."""
        return INSTRUCTION_KIND[self.mt][1]

    @property
    def is_cancel(self) -> bool:
        return self.function == "CANC"


@dataclass(frozen=True)
class ProcessingRequest:
    """One REQD of an MT530: which instruction, and what to change.

    We use `22F::HOLD//YHLD|NHLD` for hold / release and `22F::PRSS//PART|NPAR` for the
    partial-settlement indicator (our documented choice; the handbook's 530 carries the same
    intents as indicators in REQD, and the link to the instruction is LINK 20C::RELA)."""

    related_reference: str  # SEME of the instruction
    hold: bool | None = None  # True hold, False release, None unchanged
    partial_settlement: str | None = None  # PART / NPAR / None unchanged


@dataclass(frozen=True)
class ProcessingCommand:
    """MT530."""

    sender_reference: str
    requests: tuple[ProcessingRequest, ...]
    safekeeping_account: str | None = None
    envelope: Envelope = field(default_factory=Envelope)


@dataclass(frozen=True)
class SettlementConfirmation:
    """MT544/545/546/547: what settled, linked to the instruction by RELA."""

    mt: int
    sender_reference: str
    related_reference: str  # the instruction's SEME
    effective_settlement_date: date  # 98A::ESET (a datetime renders as 98C::ESET)
    security: SecurityId
    quantity: Decimal  # 36B::ESTT
    safekeeping_account: str
    counterparty: Party
    place_of_settlement: Party
    settled_amount: Decimal | None = None  # 19A::ESTT (mandatory for 545/547)
    currency: str | None = None
    trade_date: date | None = None
    quantity_type: str = "UNIT"
    settlement_type: str = "TRAD"
    function: str = "NEWM"
    envelope: Envelope = field(default_factory=Envelope)

    @property
    def direction(self) -> Direction:
        return INSTRUCTION_KIND[self.mt - 4][0]

    @property
    def payment(self) -> Payment:
        return INSTRUCTION_KIND[self.mt - 4][1]


@dataclass(frozen=True)
class StatusReason:
    code: str  # LACK, MONY, CMIS, DSEC, ...
    narrative: tuple[str, ...] = ()  # 70D::REAS lines (<= 6 x 35)


@dataclass(frozen=True)
class Status:
    """25D: `qualifier//code` (IPRC//PACK, SETT//PEND, ...) and its reasons (24B qualifier =
    the status code)."""

    qualifier: str
    code: str
    reasons: tuple[StatusReason, ...] = ()


@dataclass(frozen=True)
class TransactionDetails:
    """548 SETTRAN: the instruction the status is about (optional)."""

    security: SecurityId
    quantity: Decimal
    safekeeping_account: str
    settlement_date: date
    direction: Direction
    payment: Payment
    settlement_amount: Decimal | None = None
    currency: str | None = None
    quantity_type: str = "UNIT"
    settlement_type: str = "TRAD"
    parties: tuple[Party, ...] = ()


@dataclass(frozen=True)
class StatusAdvice:
    """MT548."""

    sender_reference: str
    related_reference: str  # LINK 20C::RELA = the instruction's SEME
    statuses: tuple[Status, ...]
    function: Literal["INST", "CAST"] = "INST"
    related_mt: str | None = None  # LINK 13A::LINK, e.g. "541"
    transaction: TransactionDetails | None = None
    envelope: Envelope = field(default_factory=Envelope)

    @property
    def status(self) -> Status:
        return self.statuses[0]


@dataclass(frozen=True)
class Holding:
    security: SecurityId
    quantity: Decimal  # 93B::AGGR
    available: Decimal | None = None  # 93B::AVAI
    quantity_type: str = "UNIT"
    price: Decimal | None = None  # 90B::MRKT//ACTU
    price_currency: str | None = None
    value: Decimal | None = None  # 19A::HOLD
    value_currency: str | None = None


@dataclass(frozen=True)
class HoldingsStatement:
    """MT535 (one safekeeping account, one page)."""

    sender_reference: str
    statement_date: date
    safekeeping_account: str
    holdings: tuple[Holding, ...]
    page: int = 1
    page_indicator: str = "ONLY"
    frequency: str = "DAIL"
    envelope: Envelope = field(default_factory=Envelope)


@dataclass(frozen=True)
class StatementTransaction:
    related_reference: str  # SEME of the instruction that settled
    quantity: Decimal  # 36B::PSTA
    direction: Direction
    payment: Payment
    settlement_date: date  # 98A::ESET
    amount: Decimal | None = None  # 19A::PSTA
    currency: str | None = None
    quantity_type: str = "UNIT"


@dataclass(frozen=True)
class StatementSecurity:
    security: SecurityId
    transactions: tuple[StatementTransaction, ...]
    opening: Decimal | None = None  # 93B::FIOP
    closing: Decimal | None = None  # 93B::FICL


@dataclass(frozen=True)
class TransactionStatement:
    """MT536 (one safekeeping account, one page)."""

    sender_reference: str
    period_start: date
    period_end: date
    safekeeping_account: str
    securities: tuple[StatementSecurity, ...]
    page: int = 1
    page_indicator: str = "ONLY"
    frequency: str = "DAIL"
    envelope: Envelope = field(default_factory=Envelope)


Model = Union[
    SettlementInstruction,
    ProcessingCommand,
    SettlementConfirmation,
    StatusAdvice,
    HoldingsStatement,
    TransactionStatement,
]
