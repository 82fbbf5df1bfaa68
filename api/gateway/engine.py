"""The gateway's core: inbound messages -> SI book -> settlement -> outbound messages.

Runs on the event loop and never blocks it: parsing, validation, mapping and matching are
microseconds; everything that touches the store or the chain is a job on one asyncio queue,
executed in order by the ledger worker (worker.py: a child process).  Networking is not here:
`send(participant, text)` is given by the server (or a test) and only enqueues.

Per inbound message exactly one acknowledgement, sent before anything else about it:
548 `IPRC//PACK`, or `IPRC//REJT` with a reason code and a narrative naming the offending field.
Then, as things happen: `MTCH//MACH` (to both sides), `MTCH//NMAT` + reason (CMIS, DDAT, DQUA,
DMON, ...), `SETT//PEND` + reason (LACK/CLAC, MONY/CMON, BLOC, FUTU, CYCL, PREA), `IPRC//CAND`
after a cancellation, 544-547 after settlement (to both sides), `SETT//PENF` for what the final run
fails, 535/536 on request (MT549) and at day end.

Idempotency: by (participant, 20C::SEME).  An accepted message's reference is taken for good: a
resend with the same text block gets the very same acknowledgement again and changes nothing; a
different message under a taken reference is rejected (REFE).  A rejected message takes nothing
(its reference can be used again for the corrected message).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from api.gateway import mapping
from api.gateway.accounts import default_account
from api.gateway.framing import BadFrame
from api.gateway.journal import Entry, Journal
from api.gateway.refdata import RefData
from api.gateway.replies import Outbound, reference_ok
from api.gateway.settler import Outcome
from api.gateway.worker import LedgerWorker
from api.gateway.statements import (
    SettledLeg,
    StatementRequest,
    holdings_statement,
    read_request,
    transaction_statement,
)
from api.iso15022 import confirmation_for, parse, validate_message
from api.iso15022.codes import REASON_TEXT
from api.iso15022.errors import Iso15022Error
from api.iso15022.models import ProcessingCommand, SettlementInstruction
from api.iso15022.decode import decode
from api.iso15022.validate import size_error
from ledger import si_matching as si

log = logging.getLogger("ledgerclear.gateway")
Send = Callable[[str, str], None]
Key = tuple[str, str]

# Pending reason on the chain -> (deliverer's 24B, receiver's 24B, narrative)
_PEND: dict[str, tuple[str, str, str]] = {
    "LACK": ("LACK", "CLAC", "SECURITIES SHORT ON THE DELIVERING ACCOUNT"),
    "MONY": ("CMON", "MONY", "CASH SHORT ON THE PAYING ACCOUNT"),
    "BLOC": ("BLOC", "BLOC", "ACCOUNT BLOCKED"),
    "RISK": ("OTHR", "OTHR", "RISK GATE: RECEIVER NOT ELIGIBLE"),
}


@dataclass
class Obligation:
    """A matched pair being settled: the engine's view (the store row is `iid`)."""

    ob: si.MatchedObligation
    iid: int | None = None
    state: str = "queued"  # queued | settling | pending | settled | failed | cancelled
    reason: str | None = None  # last pending reason pushed
    settled_quantity: int = 0


@dataclass
class Leg:
    """An accepted instruction: its model (for confirmations) and partial-settlement wish."""

    model: SettlementInstruction
    partial: bool | None


@dataclass
class Stats:
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    resent: int = 0
    settled: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


class Engine:
    def __init__(self, refdata: RefData, ledger: LedgerWorker, send: Send, *,
                 realtime: bool = True, business_date: dt.date | None = None, journal: Journal | None = None) -> None:
        self.refdata = refdata
        self.ledger = ledger
        self.send = send
        self.realtime = realtime
        self.business_date = business_date or dt.datetime.now(dt.UTC).date()
        self.book = si.SiBook()
        self.out = Outbound()
        self.legs: dict[Key, Leg] = {}
        self.accepted: dict[Key, tuple[str, str]] = {}  # (participant, SEME) -> (text block, ack)
        self.obligations: dict[int, Obligation] = {}  # match id -> obligation
        self.settled_legs: dict[str, list[SettledLeg]] = {}
        self.stats = Stats()
        self.journal = journal
        self._replaying = False
        self._text = ""  # the inbound message being handled (for the journal)
        self._replay_ack = ""  # during replay: the acknowledgement the journal recorded
        self._answered = False  # whether the message being handled has had its one answer
        self._jobs: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="gateway-settlement")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None

    async def idle(self) -> None:
        """Wait until every queued ledger job has run (tests, day end)."""
        await self._jobs.join()

    # ---- inbound --------------------------------------------------------------------------------

    def handle_bad_frame(self, participant: str, bad: BadFrame) -> None:
        self.stats.received += 1
        self._reject(participant, "NONREF", "OTHR", f"{bad.code} {bad.reason}")

    def handle(self, participant: str, text: str) -> None:
        """One inbound message: exactly one 548 ack or rejection, then whatever follows from it."""
        self.stats.received += 1
        self._text = text
        self._answered = False
        try:
            self._handle(participant, text)
        except Exception as exc:  # never a crash, never a silent drop, never two answers
            log.exception("internal error handling a message from %s", participant)
            if not self._answered:
                self._reject(participant, "NONREF", "OTHR", f"INTERNAL ERROR {type(exc).__name__}")

    def _handle(self, participant: str, text: str) -> None:
        too_big = size_error(text)
        if too_big is not None:
            self._reject(participant, _seme_of(text), "OTHR", _error_text(too_big))
            return
        try:
            message = parse(text)
        except Iso15022Error as exc:
            self._reject(participant, _seme_of(text), "OTHR", _error_text(exc))
            return
        self.out.terminals[participant] = message.basic.logical_terminal
        genl = message.seq("GENL")
        seme_f = genl.get("20", "SEME") if genl is not None else None
        seme = seme_f.data if seme_f is not None and seme_f.data else "NONREF"
        mt = message.mt
        if mt == "549":
            req = read_request(message)
            if isinstance(req, Iso15022Error):
                self._reject(participant, seme, "OTHR", _error_text(req), mt)
                return
            self._statement_request(participant, req, message.source)
            return
        errors = validate_message(message)
        if errors:
            self._reject(participant, seme, "OTHR", "; ".join(_error_text(e) for e in errors[:3]), mt)
            return
        if mt not in ("540", "541", "542", "543", "530"):
            self._reject(participant, seme, "OTHR", f"L12 MT{mt} IS NOT ACCEPTED BY THE HOST", mt)
            return
        key = (participant, seme)
        known = self.accepted.get(key)
        if known is not None:
            if known[0] == message.source:
                self.stats.resent += 1
                self._answered = True
                self.send(participant, known[1])  # the very same acknowledgement, nothing else
            else:
                self._reject(participant, seme, "REFE", f"REFERENCE {seme} ALREADY USED FOR ANOTHER MESSAGE", mt)
            return
        model = decode(message)
        if isinstance(model, SettlementInstruction):
            result = mapping.map_instruction(model, participant, self.refdata)
            if isinstance(result, mapping.Rejection):
                self._reject(participant, seme, result.reason, result.text(), mt)
            elif isinstance(result, mapping.NewLeg):
                self._new_leg(participant, result, message.source)
            else:
                self._cancel(participant, result, message.source)
        elif isinstance(model, ProcessingCommand):
            cmd = mapping.map_command(model, participant, self.refdata)
            if isinstance(cmd, mapping.Rejection):
                self._reject(participant, seme, cmd.reason, cmd.text(), mt)
            else:
                self._commands(participant, cmd, message.source)
        else:  # pragma: no cover - MT filter above
            self._reject(participant, seme, "OTHR", f"MT{mt} IS NOT ACCEPTED BY THE HOST", mt)

    def _reject(self, participant: str, related: str, reason: str, narrative: str, mt: str | None = None) -> None:
        self._answered = True
        self.stats.rejected += 1
        self.stats.by_reason[reason] = self.stats.by_reason.get(reason, 0) + 1
        self.send(participant, self.out.status(participant, related, "IPRC//REJT", reason, narrative, related_mt=mt))

    def _accept(self, participant: str, seme: str, source: str, mt: str) -> None:
        if self._replaying:
            self.accepted[(participant, seme)] = (source, self._replay_ack)
            return
        ack = self.out.status(participant, seme, "IPRC//PACK", related_mt=mt)
        self._answered = True
        self.accepted[(participant, seme)] = (source, ack)
        self.stats.accepted += 1
        if self.journal is not None:
            self.journal.append(participant, seme, self._text, ack)
        self.send(participant, ack)

    # ---- restart ----------------------------------------------------------------------------------

    def replay(self, entries: Iterable[Entry]) -> int:
        """Rebuild the book and the idempotency table from the journal, sending nothing.  Matched
        pairs queue their ledger job as usual: the store finds their instruction (keyed by the two
        references) and what already settled is not confirmed again."""
        send, self.send = self.send, _discard
        self._replaying = True
        n = 0
        try:
            for e in entries:
                self._replay_ack = e.ack
                self._text = e.text
                self._handle(e.participant, e.text)
                n += 1
        finally:
            self._replaying = False
            self.send = send
        return n

    # ---- new instructions and matching ------------------------------------------------------------

    def _new_leg(self, participant: str, new: mapping.NewLeg, source: str) -> None:
        res = self.book.add(new.leg)
        if not res.created:  # a reference taken before (e.g. accepted, then cancelled)
            self._reject(participant, new.leg.reference, "REFE", f"REFERENCE {new.leg.reference} ALREADY USED",
                         str(new.model.mt))
            return
        self.legs[new.leg.key] = Leg(new.model, new.partial)
        self._accept(participant, new.leg.reference, source, str(new.model.mt))
        self._book_events(self.book.match())

    def _book_events(self, events: list[si.SiEvent]) -> None:
        for ev in events:
            if isinstance(ev, si.Matched):
                ob = ev.obligation
                for key in (ob.deliver_key, ob.receive_key):
                    self._status(key, "MTCH//MACH")
                self.obligations[ob.match_id] = Obligation(ob)
                self._jobs.put_nowait(("new", ob.match_id))
            elif isinstance(ev, si.Unmatched):
                self._status(ev.key, "MTCH//NMAT", ev.reason.value, REASON_TEXT.get(ev.reason.value, "").upper())
            elif isinstance(ev, si.Cancelled):
                self._status(ev.key, "IPRC//CAND", "CANI", "CANCELLED AS INSTRUCTED")
            elif isinstance(ev, si.CancelRequested):
                ob = self.obligations[ev.match_id].ob
                other = ob.receive_key if ev.key == ob.deliver_key else ob.deliver_key
                self._status(ev.key, "CPRC//PACK")  # recorded; the counterparty must cancel too
                self._status(other, "SETT//PEND", "OTHR", "COUNTERPARTY REQUESTED CANCELLATION")
            elif isinstance(ev, si.ObligationCancelled):
                self.obligations[ev.match_id].state = "cancelled"
                self._jobs.put_nowait(("cancel", ev.match_id))
            elif isinstance(ev, si.Held):
                self._status(ev.key, "SETT//PEND", "PREA", "YOUR INSTRUCTION IS ON HOLD")
                if ev.match_id is not None:
                    ob = self.obligations[ev.match_id].ob
                    self._status(ob.receive_key, "SETT//PEND", "OTHR", "COUNTERPARTY INSTRUCTION ON HOLD")
            elif isinstance(ev, si.Released):
                if ev.match_id is not None:
                    self.obligations[ev.match_id].reason = None
                    self._jobs.put_nowait(("settle", ev.match_id))

    def _status(self, key: Key, status: str, reason: str | None = None, narrative: str = "") -> None:
        participant, ref = key
        leg = self.legs.get(key)
        mt = str(leg.model.mt) if leg else None
        self.send(participant, self.out.status(participant, ref, status, reason, narrative, related_mt=mt))

    # ---- cancellation and processing commands -----------------------------------------------------

    def _cancel(self, participant: str, c: mapping.CancelLeg, source: str) -> None:
        seme, mt = c.model.sender_reference, str(c.model.mt)
        rec = self.book.get(participant, c.reference)
        if rec is None:
            self._reject(participant, seme, "REFE", f"NO INSTRUCTION {c.reference} TO CANCEL", mt)
            return
        if rec.si.direction.value != c.model.direction or rec.si.payment.value != c.model.payment:
            self._reject(participant, seme, "REFE", f"{c.reference} IS NOT AN MT{mt} INSTRUCTION", mt)
            return
        problem = self._busy(rec, "CANCELLED")
        if problem:
            self._reject(participant, seme, "OTHR", problem, mt)
            return
        events = self.book.cancel(participant, c.reference)
        self._accept(participant, seme, source, mt)
        self._book_events(events)

    def _busy(self, rec: si.SiRecord, what: str) -> str | None:
        if rec.state == si.SiState.SETTLED:
            return f"{rec.si.reference} HAS SETTLED AND CANNOT BE {what}"
        if rec.state == si.SiState.CANCELLED:
            return f"{rec.si.reference} IS CANCELLED"
        if rec.match_id is not None:
            ob = self.obligations.get(rec.match_id)
            if ob is not None and ob.state in ("settling", "settled", "failed"):
                return f"{rec.si.reference} IS {ob.state.upper()} AND CANNOT BE {what}"
        return None

    def _commands(self, participant: str, cmd: mapping.Commands, source: str) -> None:
        seme = cmd.model.sender_reference
        for r in cmd.requests:  # all or nothing: check every request first
            rec = self.book.get(participant, r.reference)
            if rec is None:
                self._reject(participant, seme, "REFE", f"NO INSTRUCTION {r.reference}", "530")
                return
            if r.hold is not None and rec.si.direction != si.Direction.DELIVER:
                self._reject(participant, seme, "OTHR", f"ONLY THE DELIVERING SIDE MAY HOLD OR RELEASE {r.reference}",
                             "530")
                return
            problem = self._busy(rec, "CHANGED")
            if problem:
                self._reject(participant, seme, "OTHR", problem, "530")
                return
        self._accept(participant, seme, source, "530")
        for r in cmd.requests:
            if r.partial is not None:
                self.legs[(participant, r.reference)].partial = r.partial
                rec = self.book.get(participant, r.reference)
                if rec is not None and rec.match_id is not None:
                    self._jobs.put_nowait(("partial", rec.match_id))
            if r.hold is True:
                self._book_events(self.book.hold(participant, r.reference))
            elif r.hold is False:
                self._book_events(self.book.release(participant, r.reference))

    # ---- statements -----------------------------------------------------------------------------

    def _statement_request(self, participant: str, req: StatementRequest, source: str) -> None:
        bad = mapping.check_account(req.account, participant, self.refdata)
        if bad is not None:
            self._reject(participant, req.sender_reference, bad.reason, bad.text(), "549")
            return
        key = (participant, req.sender_reference)
        known = self.accepted.get(key)
        if known is not None:
            if known[0] == source:
                self._answered = True
                self.send(participant, known[1])
            else:
                self._reject(participant, req.sender_reference, "REFE", "REFERENCE ALREADY USED", "549")
            return
        self._accept(participant, req.sender_reference, source, "549")
        if self._replaying:
            return  # answered before the restart
        self._jobs.put_nowait(("statement", participant, req.kind, req.account, req.statement_date or self.business_date))

    async def statements(self, participant: str, kind: int, account: str, day: dt.date) -> None:
        if kind == 535:
            holdings = await self.ledger.call("holdings", participant)
            model: Any = holdings_statement(self.out.reference(), account, day, holdings, self.refdata,
                                            self.out.envelope(participant))
        else:
            closing = dict(await self.ledger.call("holdings", participant))
            legs = [x for x in self.settled_legs.get(participant, []) if account in (x.account, participant)]
            model = transaction_statement(self.out.reference(), account, day, legs, closing, self.refdata,
                                          self.out.envelope(participant))
        self.send(participant, self.out.model(model))

    # ---- operator commands ----------------------------------------------------------------------

    async def run_batch(self, name: str = "batch", final: bool = False) -> dict[str, Any]:
        """Queue a batch run (after every job before it) and wait for its figures."""
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._jobs.put_nowait(("batch", name, final, fut))
        return await fut

    async def day_end(self) -> dict[str, Any]:
        """Final run (what is left fails: SETT//PENF), then 535 and 536 to every participant."""
        figures = await self.run_batch("final run", final=True)
        for pid in sorted(self.refdata.participants):
            for kind in (535, 536):
                self._jobs.put_nowait(("statement", pid, kind, default_account(pid), self.business_date))
        await self.idle()
        return figures

    # ---- the ledger job queue ---------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                await self._job(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ledger job %s failed", job[0])
                if job[0] == "batch" and not job[3].done():
                    job[3].set_exception(RuntimeError("batch run failed; see the log"))
            finally:
                self._jobs.task_done()

    async def _job(self, job: tuple[Any, ...]) -> None:
        kind = job[0]
        if kind == "new":
            o = self.obligations[job[1]]
            if o.state == "cancelled":
                return
            item = o.ob.to_new_instruction(0, min_partial=self._min_partial(o.ob))
            iid, existed = await self.ledger.call("add", item, _pair_key(o.ob))
            o.iid = iid
            o.state = "pending"
            if existed:  # replayed after a restart: take the state the store has, quietly
                out: Outcome = await self.ledger.call("outcome", iid)
                while out.state == "partial" and out.remainder_id is not None:
                    self._record_legs(o, out)
                    o.iid = out.remainder_id
                    out = await self.ledger.call("outcome", o.iid)
                if not self._restore(o, out):
                    return  # settled, failed or cancelled before the restart: nothing more to say
            await self._settle_or_wait(o)
        elif kind == "settle":
            o = self.obligations[job[1]]
            if o.iid is not None and o.state == "pending":
                await self._settle_or_wait(o)
        elif kind == "cancel":
            o = self.obligations[job[1]]
            if o.iid is not None:
                await self.ledger.call("cancel", o.iid)
        elif kind == "partial":
            o = self.obligations[job[1]]
            if o.iid is not None and o.state == "pending":
                await self.ledger.call("set_min_partial", o.iid, self._min_partial(o.ob))
        elif kind == "batch":
            _, name, final, fut = job
            figures = await self._batch(name, final)
            if not fut.done():
                fut.set_result(figures)
        elif kind == "statement":
            _, pid, what, account, day = job
            await self.statements(pid, what, account, day)

    def _held(self, o: Obligation) -> bool:
        rec = self.book.get(*o.ob.deliver_key)
        return rec is not None and rec.held

    def _min_partial(self, ob: si.MatchedObligation) -> int:
        d, r = self.legs.get(ob.deliver_key), self.legs.get(ob.receive_key)
        if d is not None and d.partial is True and (r is None or r.partial is not False):
            sec = self.refdata.securities.get(ob.security_code)
            return sec.board_lot if sec else 1
        return 0

    async def _settle_or_wait(self, o: Obligation) -> None:
        assert o.iid is not None
        if self._held(o):
            return  # Held already told both sides; a release queues a new attempt
        if o.ob.settle_date > self.business_date:
            self._pending(o, "FUTU")
            return
        if not self.realtime:
            self._pending(o, "CYCL")
            return
        o.state = "settling"
        out = await self.ledger.call("settle_now", o.iid)
        self._apply(o, out)

    async def _batch(self, name: str, final: bool) -> dict[str, Any]:
        watch = [o for o in self.obligations.values() if o.iid is not None and o.state == "pending"]
        held = [o.iid for o in watch if o.iid is not None and self._held(o)]
        for o in watch:
            o.state = "settling"
        try:
            result: tuple[dict[str, Any], list[Outcome]] = await self.ledger.call(
                "run_batch", name, final, held, [o.iid for o in watch])
        finally:
            for o in watch:
                if o.state == "settling":
                    o.state = "pending"
        figures, outcomes = result
        for o, out in zip(watch, outcomes, strict=True):
            self._apply(o, out)
        return figures

    def _restore(self, o: Obligation, out: Outcome) -> bool:
        """An obligation found in the store after a restart: take its state without telling anyone
        again.  True if it still needs settling."""
        ob = o.ob
        if out.state == "settled":
            self._record_legs(o, out)
            o.state = "settled"
            if not self._held(o):
                self.book.mark_settled(ob.match_id)
            return False
        if out.state in ("failed", "cancelled"):
            o.state = out.state
            return False
        o.reason = out.reason
        return True

    def _record_legs(self, o: Obligation, out: Outcome) -> None:
        for key in (o.ob.deliver_key, o.ob.receive_key):
            m = self.legs[key].model
            self.settled_legs.setdefault(key[0], []).append(SettledLeg(
                reference=m.sender_reference, account=m.safekeeping_account, security_code=o.ob.security_code,
                quantity=out.quantity, direction=m.direction, payment=m.payment, settled_on=self.business_date,
                amount_cents=out.amount, currency=m.currency or o.ob.currency))
        o.settled_quantity += out.quantity

    def _apply(self, o: Obligation, out: Outcome) -> None:
        ob = o.ob
        if out.state in ("settled", "partial"):
            self._confirm(o, out)
            if out.state == "settled":
                o.state = "settled"
                if not self._held(o):
                    self.book.mark_settled(ob.match_id)
                self.stats.settled += 1
                return
            o.iid = out.remainder_id
            o.state = "pending" if o.iid is not None else "failed"
            o.reason = None
            self._pending(o, out.reason or "LACK", "PARTIALLY SETTLED; REMAINDER PENDING")
            return
        if out.state == "failed":
            o.state = "failed"
            d, r, text = _PEND.get(out.reason or "", ("OTHR", "OTHR", "NOT SETTLED BY THE FINAL RUN"))
            self._status(ob.deliver_key, "SETT//PENF", d, text)
            self._status(ob.receive_key, "SETT//PENF", r, text)
            return
        if out.state == "cancelled":
            o.state = "cancelled"
            return
        o.state = "pending"
        self._pending(o, out.reason or "OTHR")

    def _pending(self, o: Obligation, reason: str, narrative: str = "") -> None:
        if reason == o.reason and not narrative:
            return  # told already
        o.reason = reason
        ob = o.ob
        if reason in ("FUTU", "CYCL"):
            text = narrative or ("AWAITING SETTLEMENT DATE" if reason == "FUTU" else "AWAITING NEXT SETTLEMENT RUN")
            d = r = reason
        else:
            d, r, text = _PEND.get(reason, ("OTHR", "OTHR", f"NOT SETTLED ({reason})"))
            text = narrative or text
        self._status(ob.deliver_key, "SETT//PEND", d, text)
        self._status(ob.receive_key, "SETT//PEND", r, text)

    def _confirm(self, o: Obligation, out: Outcome) -> None:
        ob = o.ob
        for key in (ob.deliver_key, ob.receive_key):
            leg = self.legs[key]
            m = leg.model
            amount = Decimal(out.amount) / 100 if m.payment == "APMT" else None
            conf = confirmation_for(m, self.out.reference(), self.business_date, quantity=Decimal(out.quantity),
                                    amount=amount, envelope=self.out.envelope(key[0]))
            self.send(key[0], self.out.model(conf))
        self._record_legs(o, out)


def _discard(participant: str, text: str) -> None:
    pass


def _pair_key(ob: si.MatchedObligation) -> str:
    """The store's key of a matched pair (at most 60 characters): both senders and references."""
    (d, dref), (r, rref) = ob.deliver_key, ob.receive_key
    return f"si:{d}/{dref}|{r}/{rref}"


def _error_text(e: Iso15022Error) -> str:
    return str(e)


def _seme_of(text: str) -> str:
    """Best effort: the SEME of a message we could not parse (for the rejection's link)."""
    i = text.find(":20C::SEME//")
    if i < 0:
        return "NONREF"
    ref = text[i + 12:i + 12 + 17].split("\n")[0].split("\r")[0]
    return ref if reference_ok(ref) else "NONREF"


__all__ = ["Engine", "Obligation", "Stats"]
