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
from functools import partial
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api import eip712
from api.service import audit, locks
from api.service.context import ServiceContext
from api.service.db import SignatureRow, SignedInstructionRow
from api.service.deps import Principal
from api.service.errors import ApiError
from api.service.group_commit import GroupCommitter
from api.service.schemas import InstructionOut, InstructionSubmit, SignedFields
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
    ctx.hub.publish_many([(n.participants, n.type, n.data) for n in notices], session=s)


_SI = SignedInstructionRow.__table__.c
_LI = InstructionRow.__table__.c
_SIDE = (_SI.id, _SI.participant_id, _SI.counterparty_id, _SI.direction, _SI.security_code, _SI.quantity,
         _SI.amount_cents, _SI.currency, _SI.settlement_date, _SI.sender_reference, _SI.status, _SI.reason,
         _SI.instruction_id, _SI.input_by, _SI.authorised_by, _SI.cancel_requested)
_LEDGER = (_LI.id, _LI.state, _LI.reason, _LI.tx_hash)
_NO_LEDGER = (None,) * len(_LEDGER)
# What a list selects (the ledger instruction outer-joined on its id), in the order `view_row` unpacks it.
LIST_COLUMNS = (*_SIDE, *(c.label(f"ledger_{c.key}") for c in _LEDGER))


@dataclass
class Side:
    """A side as the group commit and matching handle it: the columns of `_SIDE`, in order, and no ORM object.
    New sides are inserted and matches recorded with Core statements (an ORM flush of the same rows cost
    more than the rest of storing them)."""

    id: int
    participant_id: str
    counterparty_id: str
    direction: str
    security_code: str
    quantity: int
    amount_cents: int
    currency: str
    settlement_date: str
    sender_reference: str
    status: str
    reason: str | None
    instruction_id: int | None
    input_by: str
    authorised_by: str | None
    cancel_requested: bool

    @classmethod
    def of(cls, row: SignedInstructionRow) -> Side:
        return cls(*(getattr(row, c.key) for c in _SIDE))


_SIDE_KEYS = tuple(c.key for c in _SIDE)
_SIDES = cast(Table, SignedInstructionRow.__table__)
_INSERT_SIDES = insert(_SIDES).returning(_SI.id, sort_by_parameter_order=True)
_SET_MATCH = (update(_SIDES).where(_SI.id == bindparam("side_id"))
              .values(status=bindparam("to_status"), instruction_id=bindparam("to_iid"), reason=bindparam("to_reason")))


def view(row: SignedInstructionRow | Side, ledger: Any) -> InstructionOut:
    """The API view of side `row` and its ledger instruction (an InstructionRow or a row of `_LEDGER`; None if
    not matched): their attributes are the columns' keys."""
    ledger_values = tuple(getattr(ledger, c.key) for c in _LEDGER) if ledger is not None else _NO_LEDGER
    return view_row((*(getattr(row, c.key) for c in _SIDE), *ledger_values))


def view_row(r: Sequence[Any]) -> InstructionOut:
    """The API view from a row of LIST_COLUMNS (lists read no ORM objects); once matched, the status is the
    ledger instruction's state."""
    return InstructionOut(**view_fields(r))


def view_fields(r: Sequence[Any]) -> dict[str, Any]:
    """InstructionOut's fields, in its order and with its types, from a row of LIST_COLUMNS: lists serialise
    these without building the model (tests/service/test_list_json.py checks the bytes are the model's).
    Unpacked by position: a list of 20 costs a third of what reading each column of a Core row by name does."""
    (sid, pid, cp, direction, security, quantity, amount, currency, sdate, ref, status, reason, iid, input_by,
     authorised_by, cancel_requested, ledger_id, ledger_state, ledger_reason, ledger_tx) = r
    tx: str | None = None
    if status == "matched" and ledger_id is not None:
        status, reason, tx = ledger_state, ledger_reason, ledger_tx
    elif status != "unmatched":
        reason = None
    return {"id": sid, "participant_id": pid, "counterparty_id": cp, "direction": direction,
            "security_code": security, "quantity": quantity, "amount_cents": amount, "currency": currency,
            "settlement_date": sdate, "sender_reference": ref, "status": status, "reason": reason,
            "instruction_id": iid, "input_by": input_by, "authorised_by": authorised_by,
            "cancel_requested": bool(cancel_requested),  # SQLite read on the loop hands back 0 or 1
            "tx_hash": tx}


def _ledger_row(s: Session, row: SignedInstructionRow | Side) -> InstructionRow | None:
    return s.get(InstructionRow, row.instruction_id) if row.instruction_id is not None else None


def owned(s: Session, p: Principal, sid: int) -> SignedInstructionRow:
    row = s.get(SignedInstructionRow, sid)
    if row is None or (not p.is_operator and row.participant_id != p.participant_id):
        raise ApiError(404, "instruction not found")
    return row


def _validate_refs(s: Session, ctx: ServiceContext, me: ParticipantRow | None, pid: str, f: Any) -> ParticipantRow:
    """`me`: participant `pid` as read in this transaction (None if it is not registered)."""
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


async def submit(ctx: ServiceContext, p: Principal, body: InstructionSubmit) -> InstructionOut:
    """Check a signed side (outside any lock), then store it with whatever other submissions are waiting, in
    one transaction (group commit); the request waits for that commit without holding a thread."""
    if body.instruction.participant_id in ctx.known_addresses:
        checked = check(ctx, p, body)  # CPU only (the signature recovery, ~0.4 ms): on the event loop
    else:  # the participant's first submission in this process: its address is read once
        checked = await run_in_threadpool(check, ctx, p, body)
    try:
        return await _submissions(ctx).submit_async(checked)
    except IntegrityError as exc:  # stored on its own and still refused by the database: nothing was stored
        if "svc_signed_instructions" in str(exc.orig) or "uq_si_" in str(exc.orig):
            raise ApiError(409, "nonce or sender reference already used: replay refused", code="replay") from None
        # e.g. a ledger instruction id taken by a concurrent settlement run
        raise ApiError(409, "conflicting concurrent change; nothing was stored, submit again") from None


def check(ctx: ServiceContext, p: Principal, body: InstructionSubmit) -> Checked:
    """The checks that need no lock: the caller may submit for this participant, the expiry, the fields, and
    the signature is by the participant's registered key (recovered here)."""
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
    if address is not None and signer.lower() != address.lower():  # refused before it is queued
        raise ApiError(422, f"signature is not by {f.participant_id}'s registered key",
                       code="bad_signature", field="signature")
    return Checked(p, f, body.signature, signer, digest, data)


@dataclass(frozen=True)
class Checked:
    """A submission whose signature has been recovered: what storing it needs."""

    principal: Principal
    fields: SignedFields
    signature: str
    signer: str
    digest: str
    typed_data: dict[str, Any]


_COMMITTER_GUARD = threading.Lock()


def _submissions(ctx: ServiceContext) -> GroupCommitter[Checked, InstructionOut]:
    with _COMMITTER_GUARD:
        if ctx.submissions is None:
            ctx.submissions = GroupCommitter(partial(store_submissions, ctx), name="submissions")
        return ctx.submissions


def store_submissions(ctx: ServiceContext, items: Sequence[Checked]) -> list[InstructionOut | ApiError]:
    """Store checked submissions in one transaction: the authoritative checks (participant active, refs,
    signer, no replay), the rows and their evidence, audit entries, matching, events. An item that fails a
    check gets its ApiError and is left out; an unexpected error fails the whole batch (nothing stored)."""
    outcomes: list[InstructionOut | ApiError | None] = [None] * len(items)
    with _MATCH_LOCK, ctx.session() as s:
        locks.hold(s, locks.MATCHING)
        # the batch's participants in one query, held here: the session's identity map keeps objects only
        # while something refers to them, so a get per item would read the row again each time
        members = {r.id: r for r in s.scalars(select(ParticipantRow).where(
            ParticipantRow.id.in_({c.fields.participant_id for c in items})))}
        valid: list[int] = []
        for k, c in enumerate(items):
            try:
                pid = c.fields.participant_id
                me = _validate_refs(s, ctx, members.get(pid), pid, c.fields)
                if c.signer.lower() != me.address.lower():
                    raise ApiError(422, f"signature is not by {c.fields.participant_id}'s registered key",
                                   code="bad_signature", field="signature")
                valid.append(k)
            except ApiError as exc:
                outcomes[k] = exc
        fresh, repeats = _replays(s, items, valid, outcomes)
        new = {k: _new_side(items[k]) for k in fresh}
        ids = s.execute(_INSERT_SIDES, list(new.values())).scalars().all() if new else []
        sides = {k: Side(id=sid, **{key: row[key] for key in _SIDE_KEYS[1:]})
                 for (k, row), sid in zip(new.items(), ids, strict=True)}
        for k, first, what in repeats:  # the same nonce or reference twice in one batch: the later is a replay
            outcomes[k] = ApiError(409, f"{what} already used by instruction {sides[first].id}: replay refused",
                                   code="replay", field=f"instruction.{what}")
        if sides:
            s.execute(insert(cast(Table, SignatureRow.__table__)), [
                {"signed_instruction_id": side.id, "participant_id": side.participant_id, "signer": items[k].signer,
                 "signature": items[k].signature, "digest": items[k].digest, "typed_data": items[k].typed_data}
                for k, side in sides.items()])
        entries = [audit.Entry(items[k].principal.actor, "instruction.submitted", f"si:{side.id}",
                               {"reference": side.sender_reference, "nonce": new[k]["nonce"], "status": side.status,
                                "signer": items[k].signer}, side.participant_id) for k, side in sides.items()]
        notices = [Notice([side.participant_id], "instruction.status", {"id": side.id, "status": side.status})
                   for side in sides.values()]
        notices += _match(ctx, s, [side for side in sides.values() if side.status == "unmatched"], entries)
        audit.append_many(s, entries)
        iids = {side.instruction_id for side in sides.values() if side.instruction_id is not None}
        ledger = {r.id: r for r in s.execute(select(*_LEDGER).where(_LI.id.in_(iids)))} if iids else {}
        for k, side in sides.items():
            outcomes[k] = view(side, ledger.get(side.instruction_id) if side.instruction_id is not None else None)
        _publish(ctx, s, notices)
    assert all(o is not None for o in outcomes)
    return outcomes  # type: ignore[return-value]


def _new_side(c: Checked) -> dict[str, Any]:
    """The row of a checked submission (without its id); a machine granted authoriser is straight-through."""
    f, p = c.fields, c.principal
    stp = p.is_machine and p.has("authoriser")
    return {"participant_id": f.participant_id, "counterparty_id": f.counterparty_id, "direction": f.direction,
            "security_code": f.security_code, "quantity": f.quantity, "amount_cents": f.amount_cents,
            "currency": f.currency, "settlement_date": f.settlement_date, "sender_reference": f.sender_reference,
            "nonce": str(f.nonce), "expiry": f.expiry, "status": "unmatched" if stp else "unauthorised",
            "reason": None, "instruction_id": None, "input_by": p.actor, "authorised_by": p.actor if stp else None,
            "cancel_requested": False}


def _replays(s: Session, items: Sequence[Checked], valid: list[int], outcomes: list[InstructionOut | ApiError | None]
             ) -> tuple[list[int], list[tuple[int, int, str]]]:
    """Split `valid` into fresh items and repeats of an earlier item of the batch ((k, first k, field));
    an item whose nonce or reference is already stored gets its 409 in `outcomes`."""
    if not valid:
        return [], []
    pids = {items[k].fields.participant_id for k in valid}
    used = s.execute(select(SignedInstructionRow.id, SignedInstructionRow.participant_id, SignedInstructionRow.nonce,
                            SignedInstructionRow.sender_reference).where(
        SignedInstructionRow.participant_id.in_(pids),
        SignedInstructionRow.nonce.in_({str(items[k].fields.nonce) for k in valid})
        | SignedInstructionRow.sender_reference.in_({items[k].fields.sender_reference for k in valid}))).all()
    nonces = {(r.participant_id, r.nonce): r.id for r in used}
    refs = {(r.participant_id, r.sender_reference): r.id for r in used}
    batch_nonces: dict[tuple[str, str], int] = {}
    batch_refs: dict[tuple[str, str], int] = {}
    fresh: list[int] = []
    repeats: list[tuple[int, int, str]] = []
    for k in valid:
        f = items[k].fields
        kn, kr = (f.participant_id, str(f.nonce)), (f.participant_id, f.sender_reference)
        what, sid = ("nonce", nonces[kn]) if kn in nonces else ("sender_reference", refs.get(kr))
        if sid is not None:
            outcomes[k] = ApiError(409, f"{what} already used by instruction {sid}: replay refused",
                                   code="replay", field=f"instruction.{what}")
        elif kn in batch_nonces:
            repeats.append((k, batch_nonces[kn], "nonce"))
        elif kr in batch_refs:
            repeats.append((k, batch_refs[kr], "sender_reference"))
        else:
            batch_nonces[kn] = batch_refs[kr] = k
            fresh.append(k)
    return fresh, repeats


def as_si(side: Any) -> SettlementInstruction:
    """The SI-matching view of a signed side (raises ValueError on what SI matching would refuse)."""
    day = dt.date.fromisoformat(side.settlement_date)
    return SettlementInstruction(
        sender=side.participant_id, reference=side.sender_reference, counterparty=side.counterparty_id,
        direction=Direction.DELIVER if side.direction == "deliver" else Direction.RECEIVE,
        payment=Payment.AGAINST if side.amount_cents > 0 else Payment.FREE, security_code=side.security_code,
        quantity=side.quantity, amount_cents=side.amount_cents, currency=side.currency, trade_date=day,
        settle_date=day)


def _match(ctx: ServiceContext, s: Session, sides: Sequence[Side], entries: list[audit.Entry]) -> list[Notice]:
    """Match newly unmatched `sides` (already stored as unmatched) against each other and against the waiting
    sides of their parties (one query for all of them), and record the outcome (one statement); the audit
    entries of matches go to `entries`, attributed to whoever made the newer side ready to match."""
    if not sides:
        return []
    groups = {(frozenset((r.participant_id, r.counterparty_id)), r.security_code) for r in sides}
    parties = {p for pair, _ in groups for p in pair}
    new_ids = {r.id for r in sides}
    stored = s.execute(select(*_SIDE).where(
        _SI.participant_id.in_(parties), _SI.counterparty_id.in_(parties),
        _SI.security_code.in_({sec for _, sec in groups}), _SI.status == "unmatched").order_by(_SI.id))
    waiting = [side for side in (Side(*r) for r in stored)  # type: ignore[call-arg]
               if side.id not in new_ids
               and (frozenset((side.participant_id, side.counterparty_id)), side.security_code) in groups]
    candidates = sorted([*waiting, *sides], key=lambda r: r.id)
    by_key = {(r.participant_id, r.sender_reference): r for r in candidates}
    book = SiBook()
    for r in candidates:
        book.add(as_si(r))
    events = book.match()
    iids = iter(ctx.store.add_instructions_in(s, [ev.obligation.to_new_instruction(0) for ev in events
                                                  if isinstance(ev, Matched)]))
    notices: list[Notice] = []
    changed: dict[int, Side] = {}
    for ev in events:
        if isinstance(ev, Matched):
            ob = ev.obligation
            deliver, receive = by_key[ob.deliver_key], by_key[ob.receive_key]
            newer = max(deliver, receive, key=lambda r: r.id)
            iid = next(iids)
            for side in (deliver, receive):
                side.status, side.instruction_id, side.reason = "matched", iid, None
                changed[side.id] = side
            entries.append(audit.Entry(newer.authorised_by or newer.input_by, "instruction.matched",
                                       f"instruction:{iid}", {"deliver_side": deliver.id, "receive_side": receive.id},
                                       newer.participant_id))
            notices += [Notice([side.participant_id], "instruction.status",
                               {"id": side.id, "status": "pending", "instruction_id": iid})
                        for side in (deliver, receive)]
        elif isinstance(ev, Unmatched):
            side = by_key[ev.key]
            if side.status == "unmatched" and side.reason != ev.reason.value:
                side.reason = ev.reason.value
                changed[side.id] = side
                notices.append(Notice([side.participant_id], "instruction.status",
                                      {"id": side.id, "status": "unmatched", "reason": side.reason}))
    if changed:
        s.execute(_SET_MATCH, [{"side_id": side.id, "to_status": side.status, "to_iid": side.instruction_id,
                                "to_reason": side.reason} for side in changed.values()])
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
        entries = [audit.Entry(p.actor, "instruction.authorised", f"si:{row.id}", {}, row.participant_id)]
        notices.append(Notice([row.participant_id], "instruction.status", {"id": row.id, "status": "unmatched"}))
        s.flush()  # stored as unmatched before matching records its outcome with a Core statement
        side = Side.of(row)
        notices += _match(ctx, s, [side], entries)
        audit.append_many(s, entries)
        out = view(side, _ledger_row(s, side))
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
