"""ISO 15022 instructions -> settlement system operations, or a specific rejection.

`map_instruction(model, participant, refdata)` turns a decoded MT540-543 into a settlement-
instruction leg for ledger.si_matching (541/543 receive/deliver against payment, 540/542 free of
payment) or, for `23G:CANC`, a cancellation by the LINK `20C::PREV` reference.  `map_command`
turns an MT530 into hold / release / partial-settlement requests.  Everything a participant can
get wrong is a `Rejection` with an MT548 `IPRC//REJT` reason code and a narrative:

    DSEC  unknown security (ISIN or stock code not listed; ISIN and stock code disagree)
    SAFE  unknown safekeeping account, or an account of another participant
    ICAG  counterparty not a participant (or not identified by participant id, or the sender itself)
    NCRR  currency not settled here (ISO 4217 but not one of the deployment's currencies)
    DQUA  quantity not a positive whole number of units (face amounts are not settled here)
    DDAT  settlement date before trade date
    PLCE  place of settlement is not CCASS (XHKCHKH1)
    REFE  a cancellation without the reference of what it cancels
    OTHR  anything else the settlement system refuses (with its message)

Pure functions: no I/O, no state; the engine checks what depends on the book (unknown reference,
state) itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from api.iso15022.models import ProcessingCommand, SettlementInstruction
from api.gateway.accounts import account_owner
from api.gateway.refdata import RefData, SecurityRef
from ledger import si_matching as si

CCASS_PSET = "XHKCHKH1"


@dataclass(frozen=True)
class Rejection:
    reason: str  # 24B REJT code
    narrative: str
    field: str = ""  # the offending field, e.g. ":97A::SAFE//"

    def text(self) -> str:
        return f"{self.field} {self.narrative}".strip()


@dataclass(frozen=True)
class NewLeg:
    """A new SI leg for the book, with the instruction model (kept for confirmations)."""

    leg: si.SettlementInstruction
    model: SettlementInstruction
    partial: bool | None  # STCO//PART True, //NPAR False, absent None
    security: SecurityRef


@dataclass(frozen=True)
class CancelLeg:
    reference: str  # the SEME of the instruction to cancel
    model: SettlementInstruction


@dataclass(frozen=True)
class Request:
    reference: str  # the instruction's SEME
    hold: bool | None
    partial: bool | None


@dataclass(frozen=True)
class Commands:
    requests: tuple[Request, ...]
    model: ProcessingCommand


def check_account(account: str, participant: str, refdata: RefData, field: str = ":97A::SAFE//") -> Rejection | None:
    """None if `account` is one of `participant`'s safekeeping accounts, else why not."""
    owner = account_owner(account)
    if owner is None or not refdata.is_participant(owner):
        return Rejection("SAFE", f"UNKNOWN SAFEKEEPING ACCOUNT {account}", field)
    if owner != participant:
        return Rejection("SAFE", f"ACCOUNT {account} IS NOT AN ACCOUNT OF {participant}", field)
    return None


def _cents(amount: Decimal) -> int | None:
    cents = amount * 100
    if cents != cents.to_integral_value():
        return None
    return int(cents)


def map_instruction(m: SettlementInstruction, participant: str, refdata: RefData) -> NewLeg | CancelLeg | Rejection:
    """One decoded MT540-543 from `participant`'s session -> a leg, a cancellation or a rejection."""
    bad = check_account(m.safekeeping_account, participant, refdata)
    if bad is not None:
        return bad
    if m.is_cancel:
        if not m.previous_reference:
            return Rejection("REFE", "CANC NEEDS LINK 20C::PREV WITH THE REFERENCE TO CANCEL", ":20C::PREV//")
        return CancelLeg(m.previous_reference, m)
    sec = refdata.security(m.security.isin, m.security.stock_code)
    if isinstance(sec, str):
        return Rejection("DSEC", sec.upper(), ":35B:")
    if sec is None:
        named = " ".join(x for x in (f"ISIN {m.security.isin}" if m.security.isin else "",
                                      f"/{m.security.market}/{m.security.stock_code}" if m.security.stock_code else "") if x)
        return Rejection("DSEC", f"UNKNOWN SECURITY {named or 'WITHOUT ISIN OR STOCK CODE'}", ":35B:")
    cp = m.counterparty
    cp_field = f":95a::{cp.role}//"
    if not cp.participant_id:
        return Rejection("ICAG", f"COUNTERPARTY {cp.identifier or '?'} IS NOT A PARTICIPANT ID (USE 95R::{cp.role}/HKEX/)", cp_field)
    if not refdata.is_participant(cp.participant_id):
        return Rejection("ICAG", f"COUNTERPARTY {cp.participant_id} IS NOT A PARTICIPANT", cp_field)
    if cp.participant_id == participant:
        return Rejection("ICAG", "COUNTERPARTY IS THE SENDER ITSELF", cp_field)
    if cp.account is not None:
        owner = account_owner(cp.account)
        if owner != cp.participant_id:
            return Rejection("SAFE", f"COUNTERPARTY ACCOUNT {cp.account} IS NOT AN ACCOUNT OF {cp.participant_id}",
                             ":97A::SAFE//")
    pset = m.place_of_settlement.bic or m.place_of_settlement.identifier
    if not pset.startswith(CCASS_PSET):
        return Rejection("PLCE", f"PLACE OF SETTLEMENT {pset} IS NOT {CCASS_PSET}", ":95P::PSET//")
    if m.quantity_type != "UNIT" or m.quantity <= 0 or m.quantity != m.quantity.to_integral_value():
        return Rejection("DQUA", f"QUANTITY {m.quantity_type}/{m.quantity} IS NOT A WHOLE NUMBER OF UNITS", ":36B::SETT//")
    if m.payment == "APMT":
        currency = m.currency or ""
        if currency not in refdata.currencies:
            return Rejection("NCRR", f"CURRENCY {currency} IS NOT SETTLED HERE ({', '.join(refdata.currencies)})",
                             ":19A::SETT//")
        cents = _cents(m.settlement_amount) if m.settlement_amount is not None else None
        if cents is None or cents <= 0:
            return Rejection("CASH", f"SETTLEMENT AMOUNT {m.settlement_amount} MUST BE POSITIVE", ":19A::SETT//")
    else:
        if m.currency is not None and m.currency not in refdata.currencies:
            return Rejection("NCRR", f"CURRENCY {m.currency} IS NOT SETTLED HERE", ":19A::SETT//")
        currency, cents = sec.currency, 0  # free of payment: no cash leg (any 19A is informational)
    trade_date = m.trade_date or m.settlement_date
    if m.settlement_date < trade_date:
        return Rejection("DDAT", f"SETTLEMENT DATE {m.settlement_date:%Y%m%d} IS BEFORE TRADE DATE {trade_date:%Y%m%d}",
                         ":98A::SETT//")
    deal_milli: int | None = None
    if m.deal_price is not None:
        milli = m.deal_price * 1000
        deal_milli = int(milli) if milli == milli.to_integral_value() and milli > 0 else None
    try:
        leg = si.SettlementInstruction(
            sender=participant, reference=m.sender_reference, counterparty=cp.participant_id,
            direction=si.Direction(m.direction), payment=si.Payment(m.payment), security_code=sec.code,
            quantity=int(m.quantity), amount_cents=cents, currency=currency, trade_date=trade_date,
            settle_date=m.settlement_date, place_of_settlement=CCASS_PSET, deal_price_milli=deal_milli,
        )
    except ValueError as exc:
        return Rejection("OTHR", str(exc).upper())
    partial = None if m.partial_settlement is None else m.partial_settlement == "PART"
    return NewLeg(leg, m, partial, sec)


def map_command(m: ProcessingCommand, participant: str, refdata: RefData) -> Commands | Rejection:
    """An MT530 -> hold/release/partial requests (the engine checks the references exist)."""
    if m.safekeeping_account is not None:
        bad = check_account(m.safekeeping_account, participant, refdata)
        if bad is not None:
            return bad
    reqs: list[Request] = []
    for r in m.requests:
        partial = None if r.partial_settlement is None else r.partial_settlement == "PART"
        reqs.append(Request(r.related_reference, r.hold, partial))
    if not reqs:
        return Rejection("OTHR", "MT530 WITHOUT A REQUEST", ":16R:REQD")
    return Commands(tuple(reqs), m)


__all__ = ["CCASS_PSET", "CancelLeg", "Commands", "NewLeg", "Rejection", "Request", "check_account",
           "map_command", "map_instruction"]
