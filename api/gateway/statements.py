"""Statement requests (our MT549) and the statements sent back (MT535 holdings, MT536 transactions).

Request: the handbook's MT549 "request for statement/status advice", reduced to what we need:

    {1:F01<LT><session><seq>}{2:I549XHKCHKH1XXXXN}{4:
    :16R:GENL
    :20C::SEME//<reference>          mandatory, a reference like any other (T26 rules)
    :23G:NEWM                        mandatory
    :13A::REQU//535                  mandatory: 535 (holdings) or 536 (transactions)
    :97A::SAFE//B01234-01            mandatory: one of the requester's own accounts
    :98A::STAT//20261121             optional: the statement date (default: the business date)
    :16S:GENL
    -}

It is acknowledged like every inbound message (548 IPRC//PACK or REJT) and answered with one
535 or 536 for the account.  The same statements go to every participant at day end.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from api.iso15022.errors import Iso15022Error, StructureError
from api.iso15022.message import Message
from api.iso15022.models import (
    Envelope,
    Holding,
    HoldingsStatement,
    SecurityId,
    StatementSecurity,
    StatementTransaction,
    TransactionStatement,
)
from api.gateway.refdata import RefData

_REF = re.compile(r"^[A-Za-z0-9/\-?:().,'+ ]{1,16}$")


@dataclass(frozen=True)
class StatementRequest:
    sender_reference: str
    kind: int  # 535 or 536
    account: str
    statement_date: dt.date | None


@dataclass(frozen=True)
class SettledLeg:
    """One side of a settlement, as a 536 line: which instruction (SEME), what moved."""

    reference: str
    account: str
    security_code: str
    quantity: int
    direction: str  # RECE / DELI
    payment: str  # APMT / FREE
    settled_on: dt.date
    amount_cents: int
    currency: str | None


def read_request(message: Message) -> StatementRequest | Iso15022Error:
    """Our MT549 from a parsed message, or the first problem (with its field)."""
    genl = message.seq("GENL")
    if genl is None:
        return StructureError("L06", "mandatory sequence GENL missing", ":16R:GENL", 1)
    seme = genl.get("20", "SEME")
    if seme is None:
        return StructureError("L07", "mandatory field missing", ":20C::SEME//", genl.line)
    ref = seme.data
    if not _REF.match(ref) or ref.startswith("/") or ref.endswith("/") or "//" in ref:
        return StructureError("T26", "reference must not start or end with '/' nor contain '//'", ":20C::SEME//",
                              seme.line)
    func = genl.get("23", "")
    if func is None or func.value != "NEWM":
        return StructureError("K23", "23G must be NEWM", ":23G:", func.line if func else genl.line)
    requ = genl.get("13", "REQU")
    if requ is None or requ.data not in ("535", "536"):
        return StructureError("L07", "13A::REQU must be 535 or 536", ":13A::REQU//", requ.line if requ else genl.line)
    safe = genl.get("97", "SAFE")
    if safe is None or not safe.data:
        return StructureError("L07", "mandatory field missing", ":97A::SAFE//", genl.line)
    day: dt.date | None = None
    stat = genl.get("98", "STAT")
    if stat is not None:
        try:
            day = dt.datetime.strptime(stat.data[:8], "%Y%m%d").date()
        except ValueError:
            return StructureError("T50", "invalid date (YYYYMMDD)", ":98A::STAT//", stat.line)
    return StatementRequest(ref, int(requ.data), safe.data, day)


def _security(code: str, refdata: RefData) -> SecurityId:
    sec = refdata.securities.get(code)
    if sec is None:
        return SecurityId(stock_code=code)
    return SecurityId(isin=sec.isin, stock_code=code, description=(sec.name[:35],) if sec.name else ())


def holdings_statement(reference: str, account: str, day: dt.date, holdings: list[tuple[str, int]],
                       refdata: RefData, envelope: Envelope) -> HoldingsStatement:
    return HoldingsStatement(
        sender_reference=reference, statement_date=day, safekeeping_account=account,
        holdings=tuple(Holding(_security(code, refdata), Decimal(q), available=Decimal(q)) for code, q in holdings),
        envelope=envelope,
    )


def transaction_statement(reference: str, account: str, day: dt.date, legs: list[SettledLeg],
                          closing: dict[str, int], refdata: RefData, envelope: Envelope) -> TransactionStatement:
    by_code: dict[str, list[SettledLeg]] = {}
    for leg in legs:
        if leg.settled_on == day:
            by_code.setdefault(leg.security_code, []).append(leg)
    securities: list[StatementSecurity] = []
    for code in sorted(by_code, key=lambda c: int(c) if c.isdigit() else 0):
        items = by_code[code]
        net = sum(x.quantity if x.direction == "RECE" else -x.quantity for x in items)
        close = closing.get(code, 0)
        securities.append(StatementSecurity(
            security=_security(code, refdata),
            transactions=tuple(StatementTransaction(
                related_reference=x.reference, quantity=Decimal(x.quantity), direction=x.direction,  # type: ignore[arg-type]
                payment=x.payment, settlement_date=x.settled_on,  # type: ignore[arg-type]
                amount=Decimal(x.amount_cents) / 100 if x.payment == "APMT" else None,
                currency=x.currency if x.payment == "APMT" else None) for x in items),
            opening=Decimal(close - net), closing=Decimal(close)))
    return TransactionStatement(sender_reference=reference, period_start=day, period_end=day,
                                safekeeping_account=account, securities=tuple(securities), envelope=envelope)


__all__ = ["SettledLeg", "StatementRequest", "holdings_statement", "read_request", "transaction_statement"]
