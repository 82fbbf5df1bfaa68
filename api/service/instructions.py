"""The life of a signed settlement instruction in the service.

submit (signature verified against the participant's registered address, nonce and expiry checked) ->
unauthorised -> authorise (maker-checker: a different principal with the authoriser group; an API key that
holds `authoriser` is straight-through and skips this step) -> unmatched -> matched with the counterparty's
side (exact match on parties, direction, security, quantity, amount, currency, settlement date): one ledger
instruction (source SI) is written to the ledger store, pending for the next settlement run. From then the
status is the ledger state; hold/release move pending <-> held; cancel needs both sides once matched.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.service import audit, eip712, locks
from api.service.context import ServiceContext
from api.service.db import SignatureRow, SignedInstructionRow
from api.service.deps import Principal
from api.service.errors import ApiError
from api.service.schemas import InstructionOut, InstructionSubmit
from ledger.errors import LedgerError
from ledger.si_matching import Direction, Matched, Payment, SettlementInstruction, SiBook, Unmatched
from ledger.store import InstructionRow, ParticipantRow, SecurityRow

# Matching changes are serialised: within this process by this lock (cheap, no database wait), across worker
# processes by the `matching` lock row taken first in each such transaction.
_MATCH_LOCK = threading.Lock()


@dataclass
class Notice:
    participants: list[str]
    type: str
    data: dict[str, Any]


def _publish(ctx: ServiceContext, s: Session, notices: Sequence[Notice]) -> None:
    """Last in the transaction (the events lock is taken after any other), so the events commit with it."""
    for n in notices:
        ctx.hub.publish(n.participants, n.type, n.data, session=s)


def view(row: SignedInstructionRow, ledger: InstructionRow | None) -> InstructionOut:
    status = row.status
    reason: str | None = row.reason if row.status == "unmatched" else None
    tx: str | None = None
    if row.status == "matched" and ledger is not None:
        status, reason, tx = ledger.state, ledger.reason, ledger.tx_hash
    return InstructionOut(
        id=row.id, participant_id=row.participant_id, counterparty_id=row.counterparty_id, direction=row.direction,
        security_code=row.security_code, quantity=row.quantity, amount_cents=row.amount_cents, currency=row.currency,
        settlement_date=row.settlement_date, sender_reference=row.sender_reference, status=status, reason=reason,
        instruction_id=row.instruction_id, input_by=row.input_by, authorised_by=row.authorised_by,
        cancel_requested=row.cancel_requested, tx_hash=tx)


def view_row(r: Row[Any]) -> InstructionOut:
    """`view` from a Core row (lists: no ORM objects): the SignedInstructionRow columns under their own names,
    and the joined ledger instruction's id, state, reason and tx_hash as ledger_id, ledger_state,
    ledger_reason and ledger_tx_hash (None when there is none)."""
    status = r.status
    reason: str | None = r.reason if r.status == "unmatched" else None
    tx: str | None = None
    if r.status == "matched" and r.ledger_id is not None:
        status, reason, tx = r.ledger_state, r.ledger_reason, r.ledger_tx_hash
    return InstructionOut(
        id=r.id, participant_id=r.participant_id, counterparty_id=r.counterparty_id, direction=r.direction,
        security_code=r.security_code, quantity=r.quantity, amount_cents=r.amount_cents, currency=r.currency,
        settlement_date=r.settlement_date, sender_reference=r.sender_reference, status=status, reason=reason,
        instruction_id=r.instruction_id, input_by=r.input_by, authorised_by=r.authorised_by,
        cancel_requested=r.cancel_requested, tx_hash=tx)


def _ledger_row(s: Session, row: SignedInstructionRow) -> InstructionRow | None:
    return s.get(InstructionRow, row.instruction_id) if row.instruction_id is not None else None


def owned(s: Session, p: Principal, sid: int) -> SignedInstructionRow:
    row = s.get(SignedInstructionRow, sid)
    if row is None or (not p.is_operator and row.participant_id != p.participant_id):
        raise ApiError(404, "instruction not found")
    return row


def _validate_refs(s: Session, ctx: ServiceContext, pid: str, f: Any) -> ParticipantRow:
    me = s.get(ParticipantRow, pid)
    if me is None:
        raise ApiError(409, f"participant {pid} is not registered")
    if me.status != "active":
        raise ApiError(409, f"participant {pid} is {me.status}; instructions are refused")
    if f.counterparty_id == pid:
        raise ApiError(422, "counterparty must be another participant", field="instruction.counterparty_id")
    if f.counterparty_id not in ctx.known_addresses:
        cp = s.get(ParticipantRow, f.counterparty_id)
        if cp is None:
            raise ApiError(422, f"counterparty {f.counterparty_id} is not registered",
                           field="instruction.counterparty_id")
        ctx.known_addresses[cp.id] = cp.address
    if f.security_code not in ctx.known_securities:
        if s.get(SecurityRow, f.security_code) is None:
            raise ApiError(422, f"security {f.security_code} is not listed", field="instruction.security_code")
        ctx.known_securities.add(f.security_code)
    if f.currency not in ctx.deployment.currencies:
        raise ApiError(422, f"currency {f.currency} is not settled here", field="instruction.currency")
    try:
        dt.date.fromisoformat(f.settlement_date)
    except ValueError:
        raise ApiError(422, "settlement_date must be a calendar date yyyy-mm-dd",
                       field="instruction.settlement_date") from None
    return me


def _registered_address(ctx: ServiceContext, pid: str) -> str | None:
    """The participant's registered address (remembered: it never changes), None if not registered."""
    address = ctx.known_addresses.get(pid)
    if address is None:
        with ctx.session() as s:
            row = s.get(ParticipantRow, pid)
            if row is None:
                return None
            address = ctx.known_addresses[pid] = row.address
    return address


def submit(ctx: ServiceContext, p: Principal, body: InstructionSubmit) -> InstructionOut:
    f = body.instruction
    if p.participant_id is None:
        raise ApiError(403, "the operator does not submit settlement instructions")
    if f.participant_id != p.participant_id:
        raise ApiError(403, "you may submit only your own participant's instructions",
                       field="instruction.participant_id")
    now = int(time.time())
    if f.expiry <= now:
        raise ApiError(422, "the signed instruction has expired", code="expired", field="instruction.expiry")
    if f.expiry > now + ctx.settings.max_instruction_expiry_s:
        raise ApiError(422, f"expiry more than {ctx.settings.max_instruction_expiry_s} s ahead",
                       field="instruction.expiry")
    try:
        as_si(f)
    except ValueError as exc:
        raise ApiError(422, f"not a valid settlement instruction: {exc}", field="instruction") from None
    data = eip712.typed_data(f.model_dump(), ctx.chain_id, ctx.engine_address)
    try:
        signer, digest = eip712.recover_with_digest(data, body.signature)
    except ValueError as exc:
        raise ApiError(422, str(exc), code="bad_signature", field="signature") from None
    address = _registered_address(ctx, f.participant_id)
    if address is not None and signer.lower() != address.lower():  # refused before taking the lock
        raise ApiError(422, f"signature is not by {f.participant_id}'s registered key",
                       code="bad_signature", field="signature")
    notices: list[Notice] = []
    try:
        with _MATCH_LOCK, ctx.session() as s:  # the authoritative checks, in the storing transaction
            locks.hold(s, locks.MATCHING)
            me = _validate_refs(s, ctx, f.participant_id, f)
            if signer.lower() != me.address.lower():
                raise ApiError(422, f"signature is not by {f.participant_id}'s registered key",
                               code="bad_signature", field="signature")
            clash = s.scalar(select(SignedInstructionRow).where(
                SignedInstructionRow.participant_id == f.participant_id,
                (SignedInstructionRow.nonce == str(f.nonce))
                | (SignedInstructionRow.sender_reference == f.sender_reference)))
            if clash is not None:
                what = "nonce" if clash.nonce == str(f.nonce) else "sender_reference"
                raise ApiError(409, f"{what} already used by instruction {clash.id}: replay refused",
                               code="replay", field=f"instruction.{what}")
            stp = p.is_machine and p.has("authoriser")  # a machine granted authoriser is straight-through
            row = SignedInstructionRow(
                participant_id=f.participant_id, counterparty_id=f.counterparty_id, direction=f.direction,
                security_code=f.security_code, quantity=f.quantity, amount_cents=f.amount_cents, currency=f.currency,
                settlement_date=f.settlement_date, sender_reference=f.sender_reference, nonce=str(f.nonce),
                expiry=f.expiry, status="unmatched" if stp else "unauthorised", input_by=p.actor,
                authorised_by=p.actor if stp else None, cancel_requested=False)
            s.add(row)
            s.flush()
            s.add(SignatureRow(signed_instruction_id=row.id, participant_id=f.participant_id, signer=signer,
                               signature=body.signature, digest=digest, typed_data=data))
            audit.append(s, p.actor, "instruction.submitted", f"si:{row.id}",
                         {"reference": f.sender_reference, "nonce": str(f.nonce), "status": row.status,
                          "signer": signer}, f.participant_id)
            notices.append(Notice([row.participant_id], "instruction.status",
                                  {"id": row.id, "status": row.status}))
            if stp:
                notices += _try_match(ctx, s, row, p.actor)
            out = view(row, _ledger_row(s, row))
            _publish(ctx, s, notices)
    except IntegrityError as exc:
        if "svc_signed_instructions" in str(exc.orig) or "uq_si_" in str(exc.orig):
            raise ApiError(409, "nonce or sender reference already used: replay refused", code="replay") from None
        # e.g. a ledger instruction id taken by a concurrent settlement run: nothing was stored, retry
        raise ApiError(409, "conflicting concurrent change; nothing was stored, submit again") from None
    return out


def as_si(side: Any) -> SettlementInstruction:
    """The SI-matching view of a signed side (raises ValueError on what SI matching would refuse)."""
    day = dt.date.fromisoformat(side.settlement_date)
    return SettlementInstruction(
        sender=side.participant_id, reference=side.sender_reference, counterparty=side.counterparty_id,
        direction=Direction.DELIVER if side.direction == "deliver" else Direction.RECEIVE,
        payment=Payment.AGAINST if side.amount_cents > 0 else Payment.FREE, security_code=side.security_code,
        quantity=side.quantity, amount_cents=side.amount_cents, currency=side.currency, trade_date=day,
        settle_date=day)


def _try_match(ctx: ServiceContext, s: Session, row: SignedInstructionRow, actor: str) -> list[Notice]:
    parties = (row.participant_id, row.counterparty_id)
    waiting = list(s.scalars(select(SignedInstructionRow).where(
        SignedInstructionRow.participant_id.in_(parties), SignedInstructionRow.counterparty_id.in_(parties),
        SignedInstructionRow.security_code == row.security_code, SignedInstructionRow.status == "unmatched",
        SignedInstructionRow.id != row.id).order_by(SignedInstructionRow.id)))
    by_key = {(r.participant_id, r.sender_reference): r for r in [*waiting, row]}
    book = SiBook()
    for r in [*waiting, row]:
        book.add(as_si(r))
    notices: list[Notice] = []
    for ev in book.match():
        if isinstance(ev, Matched):
            ob = ev.obligation
            deliver, receive = by_key[ob.deliver_key], by_key[ob.receive_key]
            iid = ctx.store.add_instruction_in(s, ob.to_new_instruction(0))
            for side in (deliver, receive):
                side.status, side.instruction_id, side.reason = "matched", iid, None
            audit.append(s, actor, "instruction.matched", f"instruction:{iid}",
                         {"deliver_side": deliver.id, "receive_side": receive.id}, row.participant_id)
            notices += [Notice([side.participant_id], "instruction.status",
                               {"id": side.id, "status": "pending", "instruction_id": iid})
                        for side in (deliver, receive)]
        elif isinstance(ev, Unmatched):
            side = by_key[ev.key]
            if side.status == "unmatched" and side.reason != ev.reason.value:
                side.reason = ev.reason.value
                notices.append(Notice([side.participant_id], "instruction.status",
                                      {"id": side.id, "status": "unmatched", "reason": side.reason}))
    return notices


def authorise(ctx: ServiceContext, p: Principal, sid: int) -> InstructionOut:
    notices: list[Notice] = []
    with _MATCH_LOCK, ctx.session() as s:
        locks.hold(s, locks.MATCHING)
        row = owned(s, p, sid)
        if p.is_operator:
            raise ApiError(403, "the operator does not authorise participants' instructions")
        if row.status != "unauthorised":
            raise ApiError(409, f"instruction is {row.status}, not waiting for authorisation")
        if row.input_by == p.actor:
            raise ApiError(403, "maker-checker: an instruction must be authorised by someone other than its inputter",
                           code="maker_checker")
        row.status, row.authorised_by = "unmatched", p.actor
        audit.append(s, p.actor, "instruction.authorised", f"si:{row.id}", {}, row.participant_id)
        notices.append(Notice([row.participant_id], "instruction.status", {"id": row.id, "status": "unmatched"}))
        notices += _try_match(ctx, s, row, p.actor)
        out = view(row, _ledger_row(s, row))
        _publish(ctx, s, notices)
    return out


def _counterpart(s: Session, row: SignedInstructionRow) -> SignedInstructionRow | None:
    return s.scalar(select(SignedInstructionRow).where(SignedInstructionRow.instruction_id == row.instruction_id,
                                                       SignedInstructionRow.id != row.id))


def cancel(ctx: ServiceContext, p: Principal, sid: int) -> InstructionOut:
    notices: list[Notice] = []
    with _MATCH_LOCK, ctx.session() as s:
        locks.hold(s, locks.MATCHING)
        row = owned(s, p, sid)
        if p.is_operator:
            raise ApiError(403, "participants cancel their own instructions")
        if row.status in ("unauthorised", "unmatched"):
            row.status = "cancelled"
            audit.append(s, p.actor, "instruction.cancelled", f"si:{row.id}", {}, row.participant_id)
            notices.append(Notice([row.participant_id], "instruction.status", {"id": row.id, "status": "cancelled"}))
        elif row.status == "matched":
            led = _ledger_row(s, row)
            if led is None or led.state not in ("pending", "held"):
                raise ApiError(409, f"instruction is {led.state if led else 'unknown'}; it can no longer be cancelled")
            row.cancel_requested = True
            other = _counterpart(s, row)
            audit.append(s, p.actor, "instruction.cancel_requested", f"si:{row.id}", {}, row.participant_id)
            if other is not None and other.cancel_requested:
                with ctx.chain_lock:
                    try:
                        ctx.onchain.cancel(led.id)
                    except LedgerError as exc:
                        raise ApiError(409, f"the chain refused the cancellation: {exc}") from None
                ctx.store.transition(led.id, ("pending", "held"), "cancelled", session=s)
                audit.append(s, p.actor, "instruction.cancelled", f"instruction:{led.id}", {}, row.participant_id)
                notices.append(Notice([row.participant_id, other.participant_id], "instruction.status",
                                      {"instruction_id": led.id, "status": "cancelled"}))
            else:
                notices.append(Notice([row.counterparty_id], "instruction.cancel_requested",
                                      {"instruction_id": row.instruction_id, "by": row.participant_id}))
        else:
            raise ApiError(409, f"instruction is {row.status}")
        out = view(row, _ledger_row(s, row))
        _publish(ctx, s, notices)
    return out


def hold_or_release(ctx: ServiceContext, p: Principal, sid: int, hold: bool) -> InstructionOut:
    with ctx.session() as s:
        row = owned(s, p, sid)
        if p.is_operator:
            raise ApiError(403, "participants hold and release their own instructions")
        if row.status != "matched" or row.instruction_id is None:
            raise ApiError(409, f"instruction is {row.status}; only matched instructions can be held or released")
        frm, to = ("pending", "held") if hold else ("held", "pending")
        if not ctx.store.transition(row.instruction_id, (frm,), to, session=s):
            led = _ledger_row(s, row)
            raise ApiError(409, f"instruction is {led.state if led else 'unknown'}, not {frm}")
        audit.append(s, p.actor, f"instruction.{'held' if hold else 'released'}", f"instruction:{row.instruction_id}",
                     {"side": row.id}, row.participant_id)
        other = _counterpart(s, row)
        s.flush()
        s.expire_all()
        out = view(row, _ledger_row(s, row))
        parties = [row.participant_id] + ([other.participant_id] if other else [])
        ctx.hub.publish(parties, "instruction.status", {"instruction_id": row.instruction_id, "status": to},
                        session=s)
    return out
