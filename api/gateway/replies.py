"""Outbound messages: the host's 548s, confirmations, statements; and one-line summaries of them.

The host sends as `XHKCHKH1AXXX` to the logical terminal the participant last used (the `{1:}`
sender of its inbound messages), with its own unique references `LC<14 digits>`.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Sequence

from api.iso15022 import build_model, narrative_lines, parse
from api.iso15022.models import Envelope, Model, Status, StatusAdvice, StatusReason, TransactionDetails
from api.iso15022.codes import REASON_CODES, STATUS_CODES
from api.iso15022.decode import decode

HOST_LT = "XHKCHKH1AXXX"
DEFAULT_PARTICIPANT_LT = "XHKCHKH1XXXX"


_NOT_X = re.compile(r"[^a-zA-Z0-9/\-?:().,'+ ]")
_REF = re.compile(r"^[A-Za-z0-9/\-?:().,'+ ]{1,16}$")


def reference_ok(ref: str) -> bool:
    """A usable 16x reference (T26: no leading/trailing '/', no '//')."""
    return bool(_REF.match(ref)) and not ref.startswith("/") and not ref.endswith("/") and "//" not in ref


class Outbound:
    """Builds the host's messages: references, envelopes, 548s."""

    def __init__(self) -> None:
        # References unique across restarts of the same second: start from the clock.
        self._refs = itertools.count(int(time.time() * 1000) % 10**10 * 1000)
        self._seq = itertools.count(1)
        self.terminals: dict[str, str] = {}  # participant -> logical terminal

    def reference(self) -> str:
        return f"LC{next(self._refs) % 10**14:014d}"

    def envelope(self, participant: str) -> Envelope:
        return Envelope(sender=HOST_LT, receiver=self.terminals.get(participant, DEFAULT_PARTICIPANT_LT),
                        session="0001", sequence=f"{next(self._seq) % 10**6:06d}")

    def status(self, participant: str, related: str, status: str, reason: str | None = None,
               narrative: str | Sequence[str] = (), related_mt: str | None = None,
               transaction: TransactionDetails | None = None) -> str:
        qualifier, _, code = status.partition("//")
        if not reference_ok(related):
            related = "NONREF"  # never echo an invalid reference: our 548 must itself be valid
        lines = narrative_lines(narrative) if isinstance(narrative, str) else tuple(narrative)
        reasons: tuple[StatusReason, ...] = ()
        if reason is not None:
            reasons = (StatusReason(reason, lines),)
        elif lines:
            reasons = (StatusReason("OTHR", lines),)
        advice = StatusAdvice(sender_reference=self.reference(), related_reference=related,
                              statuses=(Status(qualifier, code, reasons),), related_mt=related_mt,
                              transaction=transaction, envelope=self.envelope(participant))
        if transaction is None:
            fast = fast_548(advice)
            if fast is not None:
                return fast
        return build_model(advice)

    def model(self, model: Model) -> str:
        return build_model(model)


def fast_548(m: StatusAdvice) -> str | None:
    """The text `build_model` gives for a 548 without transaction details, built as one string
    (the acknowledgement path's hot spot); None when the model needs the full builder's checks
    (unknown codes, narrative lines that are not clean set X) -- the caller then uses it."""
    env = m.envelope
    out = [f"{{1:F01{env.sender}{env.session}{env.sequence}}}{{2:I548{env.receiver}{env.priority}}}"]
    if env.user_reference:
        out.append(f"{{3:{{108:{env.user_reference}}}}}")
    out.append(f"{{4:\r\n:16R:GENL\r\n:20C::SEME//{m.sender_reference}\r\n:23G:{m.function}\r\n:16R:LINK\r\n")
    if m.related_mt:
        out.append(f":13A::LINK//{m.related_mt}\r\n")
    out.append(f":20C::RELA//{m.related_reference}\r\n:16S:LINK\r\n")
    for st in m.statuses:
        if st.code not in STATUS_CODES.get(st.qualifier, ()):
            return None
        out.append(f":16R:STAT\r\n:25D::{st.qualifier}//{st.code}\r\n")
        for r in st.reasons:
            if r.code not in REASON_CODES.get(st.code, ()):
                return None
            out.append(f":16R:REAS\r\n:24B::{st.code}//{r.code}\r\n")
            if r.narrative:
                if len(r.narrative) > 6 or any(not ln or len(ln) > 35 or _NOT_X.search(ln) for ln in r.narrative):
                    return None
                out.append(":70D::REAS//" + "\r\n".join(r.narrative) + "\r\n")
            out.append(":16S:REAS\r\n")
        out.append(":16S:STAT\r\n")
    out.append(":16S:GENL\r\n-}")
    return "".join(out)


def summarise(text: str) -> str:
    """One line for a message the gateway sent: `548 IPRC//PACK rel=REF` etc. (for `pss send`)."""
    try:
        m = decode(parse(text))
    except Exception as exc:  # a summary never fails: show what we could not read
        return f"??? unreadable reply ({exc})"
    from api.iso15022.models import HoldingsStatement, SettlementConfirmation, TransactionStatement

    if isinstance(m, StatusAdvice):
        parts = [f"548 {s.qualifier}//{s.code}" + "".join(f" {r.code}" for r in s.reasons) for s in m.statuses]
        narr = "".join(ln for s in m.statuses for r in s.reasons for ln in r.narrative)  # wrapped at 35
        return f"{'; '.join(parts)} rel={m.related_reference}" + (f" ({narr})" if narr else "")
    if isinstance(m, SettlementConfirmation):
        sec = m.security.stock_code or m.security.isin
        cash = f" {m.currency} {m.settled_amount}" if m.settled_amount is not None else ""
        return f"{m.mt} settled rel={m.related_reference} {m.direction} {m.quantity} of {sec}{cash} on {m.effective_settlement_date:%Y-%m-%d}"
    if isinstance(m, HoldingsStatement):
        items = ", ".join(f"{h.security.stock_code or h.security.isin}={h.quantity}" for h in m.holdings)
        return f"535 holdings {m.safekeeping_account} {m.statement_date:%Y-%m-%d}: {items or 'none'}"
    if isinstance(m, TransactionStatement):
        n = sum(len(s.transactions) for s in m.securities)
        return f"536 transactions {m.safekeeping_account} {m.period_start:%Y-%m-%d}: {n} settled"
    return f"MT{type(m).__name__}"


__all__ = ["DEFAULT_PARTICIPANT_LT", "HOST_LT", "Outbound", "fast_548", "reference_ok", "summarise"]
