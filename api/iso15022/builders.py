"""Typed model -> FIN message.  `to_message(model)` gives the tree, `build_model(model)` the text.

Builders check what a model alone cannot express (codes, line lengths) and raise `ModelError`;
anything they build passes `validate` (tested).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Sequence as Seq

from .codec import build
from .codes import CURRENCY_DECIMALS, REASON_CODES, STATUS_CODES
from .errors import ModelError
from .fields import format_amount, format_date, format_datetime, format_decimal, format_quantity
from .message import AppHeader, BasicHeader, Field, Message, Sequence, make_field, make_generic
from .models import (
    Envelope,
    HoldingsStatement,
    Model,
    Party,
    ProcessingCommand,
    SecurityId,
    SettlementConfirmation,
    SettlementInstruction,
    Status,
    StatusAdvice,
    StatusReason,
    TransactionStatement,
)

_NOT_X = re.compile(r"[^a-zA-Z0-9/\-?:().,'+ ]")

Item = Field | Sequence


def _seq(name: str, *items: Item | None) -> Sequence:
    return Sequence(name=name, items=[i for i in items if i is not None])


def _g(tag: str, qualifier: str, data: str, issuer: str = "") -> Field:
    return make_generic(tag, qualifier, data, issuer)


def _date_field(qualifier: str, value: date | datetime) -> Field:
    if isinstance(value, datetime):
        return _g("98C", qualifier, format_datetime(value))
    return _g("98A", qualifier, format_date(value))


def _amount(qualifier: str, currency: str | None, amount: Decimal) -> Field:
    if currency is None:
        raise ModelError("T52", "an amount needs its currency", f":19A::{qualifier}//")
    decimals = CURRENCY_DECIMALS.get(currency)
    if decimals is None:
        raise ModelError("T52", f"currency {currency!r} is not ISO 4217", f":19A::{qualifier}//")
    if amount != amount.quantize(Decimal(1).scaleb(-decimals)):
        raise ModelError("C03", f"{currency} allows {decimals} decimals: {amount}", f":19A::{qualifier}//")
    return _g("19A", qualifier, format_amount(currency, amount))


def narrative_lines(text: str, max_lines: int = 6) -> tuple[str, ...]:
    """Free text -> 70D lines: characters outside set X become '.', wrapped at 35, at most
    `max_lines` lines (the rest is cut: a narrative must never make the message invalid).
    Blank text gives no lines."""
    clean = _NOT_X.sub(".", " ".join(text.split()))
    lines: list[str] = []
    i = 0
    while i < len(clean) and len(lines) < max_lines:
        end = min(i + 35, len(clean))
        # A continuation line starting with ':' or '-' would read as a new field or the end of the text
        # block, so such a break moves earlier.
        while end < len(clean) and end > i + 1 and clean[end] in ":-":
            end -= 1
        lines.append(clean[i:end])
        i = end
    return tuple(ln if ln.strip() else "." for ln in lines)


def _security(sec: SecurityId) -> Field:
    lines: list[str] = []
    if sec.isin:
        lines.append(f"ISIN {sec.isin}")
    if sec.stock_code:
        lines.append(f"/{sec.market}/{sec.stock_code}")
    lines.extend(sec.description)
    return make_field("35B", "\n".join(lines))


def _party(p: Party) -> Sequence:
    if p.participant_id:
        f = _g("95R", p.role, p.participant_id, p.scheme or "HKEX")
    elif p.bic:
        f = _g("95P", p.role, p.bic)
    elif p.name:
        f = _g("95Q", p.role, "\n".join(p.name))
    else:
        raise ModelError("L07", f"party {p.role} needs a participant id, BIC or name", f":95a::{p.role}//")
    return _seq("SETPRTY", f, _g("97A", "SAFE", p.account) if p.account else None)


def _headers(env: Envelope, mt: str) -> tuple[BasicHeader, AppHeader, list[tuple[str, str]]]:
    basic = BasicHeader(env.sender, env.session, env.sequence)
    app = AppHeader("I", mt, env.receiver, env.priority)
    user = [("108", env.user_reference)] if env.user_reference else []
    return basic, app, user


def _link(qualifier: str, reference: str, mt: str | None = None) -> Sequence:
    return _seq("LINK", _g("13A", "LINK", mt) if mt else None, _g("20C", qualifier, reference))


def _instruction(m: SettlementInstruction) -> list[Item]:
    if m.mt not in (540, 541, 542, 543):
        raise ModelError("L12", f"MT{m.mt} is not an instruction", "{2:")
    genl = _seq(
        "GENL",
        _g("20C", "SEME", m.sender_reference),
        make_field("23G", m.function),
        _date_field("PREP", m.preparation) if m.preparation else None,
        _link("PREV", m.previous_reference) if m.previous_reference else None,
    )
    traddet = _seq(
        "TRADDET",
        _date_field("SETT", m.settlement_date),
        _date_field("TRAD", m.trade_date) if m.trade_date else None,
        _g("90B", "DEAL", f"ACTU/{m.currency}{format_decimal(m.deal_price)}") if m.deal_price is not None and m.currency else None,
        _security(m.security),
    )
    fiac = _seq("FIAC", _g("36B", "SETT", format_quantity(m.quantity_type, m.quantity)), _g("97A", "SAFE", m.safekeeping_account))
    parties = [_party(m.place_of_settlement), _party(m.counterparty), *(_party(p) for p in m.other_parties)]
    amt = (
        _seq("AMT", _amount("SETT", m.currency, m.settlement_amount)) if m.settlement_amount is not None else None
    )
    setdet = _seq(
        "SETDET",
        _g("22F", "SETR", m.settlement_type),
        _g("22F", "STCO", m.partial_settlement) if m.partial_settlement else None,
        *parties,
        amt,
    )
    return [genl, traddet, fiac, setdet]


def _confirmation(m: SettlementConfirmation) -> list[Item]:
    if m.mt not in (544, 545, 546, 547):
        raise ModelError("L12", f"MT{m.mt} is not a confirmation", "{2:")
    genl = _seq(
        "GENL",
        _g("20C", "SEME", m.sender_reference),
        make_field("23G", m.function),
        _link("RELA", m.related_reference, str(m.mt - 4)),
    )
    traddet = _seq(
        "TRADDET",
        _date_field("ESET", m.effective_settlement_date),
        _date_field("TRAD", m.trade_date) if m.trade_date else None,
        _security(m.security),
    )
    fiac = _seq("FIAC", _g("36B", "ESTT", format_quantity(m.quantity_type, m.quantity)), _g("97A", "SAFE", m.safekeeping_account))
    amt = _seq("AMT", _amount("ESTT", m.currency, m.settled_amount)) if m.settled_amount is not None else None
    if m.mt in (545, 547) and amt is None:
        raise ModelError("E92", f"MT{m.mt} needs the settled amount (19A::ESTT)", ":19A::ESTT//")
    setdet = _seq("SETDET", _g("22F", "SETR", m.settlement_type), _party(m.place_of_settlement), _party(m.counterparty), amt)
    return [genl, traddet, fiac, setdet]


def _status(s: Status) -> Sequence:
    codes = STATUS_CODES.get(s.qualifier)
    if codes is None or s.code not in codes:
        raise ModelError("K25", f"unknown status {s.qualifier}//{s.code}", f":25D::{s.qualifier}//")
    reasons: list[Item] = []
    for r in s.reasons:
        allowed = REASON_CODES.get(s.code)
        if allowed is None or r.code not in allowed:
            raise ModelError("K24", f"reason {r.code} not valid for status {s.code}", f":24B::{s.code}//")
        lines = tuple(r.narrative)
        if len(lines) > 6 or any(not ln or len(ln) > 35 or _NOT_X.search(ln) for ln in lines):
            raise ModelError("L10", "narrative is up to 6 lines of 1-35 set X characters (use narrative_lines)", ":70D::REAS//")
        reasons.append(
            _seq("REAS", _g("24B", s.code, r.code), _g("70D", "REAS", "\n".join(lines)) if lines else None)
        )
    return _seq("STAT", _g("25D", s.qualifier, s.code), *reasons)


def _status_advice(m: StatusAdvice) -> list[Item]:
    if not m.statuses:
        raise ModelError("L07", "a 548 needs at least one status", ":25D:")
    genl = _seq(
        "GENL",
        _g("20C", "SEME", m.sender_reference),
        make_field("23G", m.function),
        _link("RELA", m.related_reference, m.related_mt),
        *(_status(s) for s in m.statuses),
    )
    items: list[Item] = [genl]
    t = m.transaction
    if t is not None:
        items.append(
            _seq(
                "SETTRAN",
                _security(t.security),
                _g("36B", "SETT", format_quantity(t.quantity_type, t.quantity)),
                _amount("SETT", t.currency, t.settlement_amount) if t.settlement_amount is not None else None,
                _g("97A", "SAFE", t.safekeeping_account),
                _g("22F", "SETR", t.settlement_type),
                _g("22H", "REDE", t.direction),
                _g("22H", "PAYM", t.payment),
                _date_field("SETT", t.settlement_date),
                *(_party(p) for p in t.parties),
            )
        )
        if t.payment == "APMT" and t.settlement_amount is None:
            raise ModelError("E83", "PAYM//APMT needs the settlement amount (19A::SETT)", ":19A::SETT//")
    return items


def _processing_command(m: ProcessingCommand) -> list[Item]:
    if not m.requests:
        raise ModelError("L07", "an MT530 needs at least one request", ":16R:REQD")
    genl = _seq(
        "GENL",
        _g("20C", "SEME", m.sender_reference),
        make_field("23G", "NEWM"),
        _g("97A", "SAFE", m.safekeeping_account) if m.safekeeping_account else None,
    )
    reqs: list[Item] = []
    for r in m.requests:
        if r.hold is None and r.partial_settlement is None:
            raise ModelError("L07", "a request must hold/release or set partial settlement", ":22F:")
        reqs.append(
            _seq(
                "REQD",
                _g("22F", "HOLD", "YHLD" if r.hold else "NHLD") if r.hold is not None else None,
                _g("22F", "PRSS", r.partial_settlement) if r.partial_settlement else None,
                _link("RELA", r.related_reference),
            )
        )
    return [genl, *reqs]


def _statement_genl(m: HoldingsStatement | TransactionStatement, active: bool) -> Sequence:
    holdings = isinstance(m, HoldingsStatement)
    if isinstance(m, HoldingsStatement):
        when: Field = _g("98A", "STAT", format_date(m.statement_date))
    else:
        when = _g("69A", "STAT", f"{format_date(m.period_start)}/{format_date(m.period_end)}")
    return _seq(
        "GENL",
        make_field("28E", f"{m.page}/{m.page_indicator}"),
        _g("20C", "SEME", m.sender_reference),
        make_field("23G", "NEWM"),
        when,
        _g("22F", "SFRE", m.frequency),
        _g("22F", "CODE", "COMP"),
        # MT535 GENL: statement type (custody) and basis (settled positions) are mandatory.
        _g("22F", "STTY", "CUST") if holdings else None,
        _g("22F", "STBA", "SETT") if holdings else None,
        _g("22H", "STST", "TRAN") if isinstance(m, TransactionStatement) else None,
        _g("97A", "SAFE", m.safekeeping_account),
        _g("17B", "ACTI", "Y" if active else "N"),
        _g("17B", "AUDT", "N") if holdings else None,
        _g("17B", "CONS", "N"),
    )


def _holdings(m: HoldingsStatement) -> list[Item]:
    items: list[Item] = [_statement_genl(m, bool(m.holdings))]
    if m.holdings:
        fins: list[Item] = []
        for h in m.holdings:
            fins.append(
                _seq(
                    "FIN",
                    _security(h.security),
                    _g("90B", "MRKT", f"ACTU/{h.price_currency}{format_decimal(h.price)}") if h.price is not None and h.price_currency else None,
                    _g("93B", "AGGR", format_quantity(h.quantity_type, h.quantity)),
                    _g("93B", "AVAI", format_quantity(h.quantity_type, h.available)) if h.available is not None else None,
                    _amount("HOLD", h.value_currency, h.value) if h.value is not None else None,
                )
            )
        # 17B::ACTI is mandatory in SUBSAFE: this sub-safekeeping statement has holdings/activity.
        items.append(_seq("SUBSAFE", _g("17B", "ACTI", "Y"), *fins))
    return items


def _transactions(m: TransactionStatement) -> list[Item]:
    items: list[Item] = [_statement_genl(m, bool(m.securities))]
    if m.securities:
        fins: list[Item] = []
        for s in m.securities:
            if not s.transactions:
                raise ModelError("L06", "each security in an MT536 needs a transaction", ":16R:TRAN")
            trans: list[Item] = []
            for t in s.transactions:
                trans.append(
                    _seq(
                        "TRAN",
                        _link("RELA", t.related_reference),
                        _seq(
                            "TRANSDET",
                            _g("36B", "PSTA", format_quantity(t.quantity_type, t.quantity)),
                            _amount("PSTA", t.currency, t.amount) if t.amount is not None else None,
                            _g("22F", "TRAN", "SETT"),
                            _g("22H", "REDE", t.direction),
                            _g("22H", "PAYM", t.payment),
                            _date_field("ESET", t.settlement_date),
                        ),
                    )
                )
            fins.append(
                _seq(
                    "FIN",
                    _security(s.security),
                    _g("93B", "FIOP", format_quantity("UNIT", s.opening)) if s.opening is not None else None,
                    _g("93B", "FICL", format_quantity("UNIT", s.closing)) if s.closing is not None else None,
                    *trans,
                )
            )
        # 17B::ACTI is mandatory in SUBSAFE: this sub-safekeeping statement has holdings/activity.
        items.append(_seq("SUBSAFE", _g("17B", "ACTI", "Y"), *fins))
    return items


def to_message(model: Model) -> Message:
    """The message tree for a model."""
    if isinstance(model, SettlementInstruction):
        mt, items = str(model.mt), _instruction(model)
    elif isinstance(model, SettlementConfirmation):
        mt, items = str(model.mt), _confirmation(model)
    elif isinstance(model, StatusAdvice):
        mt, items = "548", _status_advice(model)
    elif isinstance(model, ProcessingCommand):
        mt, items = "530", _processing_command(model)
    elif isinstance(model, HoldingsStatement):
        mt, items = "535", _holdings(model)
    elif isinstance(model, TransactionStatement):
        mt, items = "536", _transactions(model)
    else:  # pragma: no cover - the Model union is closed
        raise ModelError("L12", f"no builder for {type(model).__name__}")
    basic, app, user = _headers(model.envelope, mt)
    return Message(basic=basic, app=app, text=_seq("", *items), user=user)


def build_model(model: Model) -> str:
    """FIN text (CRLF) for a model."""
    return build(to_message(model))


def confirmation_for(
    instruction: SettlementInstruction,
    sender_reference: str,
    settled_on: date,
    *,
    quantity: Decimal | None = None,
    amount: Decimal | None = None,
    envelope: Envelope | None = None,
) -> SettlementConfirmation:
    """The 544-547 confirming `instruction` (all of it, or a partial `quantity`/`amount`); the
    envelope defaults to the host sending back to the instructing terminal."""
    env = envelope or Envelope(sender=instruction.envelope.receiver, receiver=instruction.envelope.sender)
    return SettlementConfirmation(
        mt=instruction.mt + 4,
        sender_reference=sender_reference,
        related_reference=instruction.sender_reference,
        effective_settlement_date=settled_on,
        security=instruction.security,
        quantity=instruction.quantity if quantity is None else quantity,
        safekeeping_account=instruction.safekeeping_account,
        counterparty=instruction.counterparty,
        place_of_settlement=instruction.place_of_settlement,
        settled_amount=instruction.settlement_amount if amount is None else amount,
        currency=instruction.currency,
        trade_date=instruction.trade_date,
        quantity_type=instruction.quantity_type,
        settlement_type=instruction.settlement_type,
        envelope=env,
    )


# Named entry points for the outbound messages the gateway sends.
build_544_547 = build_model  # SettlementConfirmation -> MT544/545/546/547
build_548 = build_model  # StatusAdvice -> MT548
build_535 = build_model  # HoldingsStatement -> MT535
build_536 = build_model  # TransactionStatement -> MT536


def status_advice(
    sender_reference: str,
    related_reference: str,
    status: str,
    reason: str | None = None,
    narrative: str | Seq[str] = (),
    *,
    related_mt: str | None = None,
    envelope: Envelope | None = None,
) -> StatusAdvice:
    """A one-status 548 from `status` like "IPRC//REJT" and an optional reason and narrative:
    status_advice("HOST0001", "B01234REF1", "IPRC//REJT", "DSEC", "UNKNOWN SECURITY /HK/9999")."""
    qualifier, _, code = status.partition("//")
    lines = narrative_lines(narrative) if isinstance(narrative, str) else tuple(narrative)
    reasons: tuple[StatusReason, ...] = ()
    if reason is not None:
        reasons = (StatusReason(reason, lines),)
    elif lines:
        reasons = (StatusReason("OTHR", lines),)
    return StatusAdvice(
        sender_reference=sender_reference,
        related_reference=related_reference,
        statuses=(Status(qualifier, code, reasons),),
        related_mt=related_mt,
        envelope=envelope or Envelope(),
    )
