"""FIN message tree -> typed model.  `read(text)` = parse + validate + decode.

Decoding assumes a structurally valid message; anything missing raises `ModelError`, so a
mapper can trust every non-optional attribute it gets.
"""

from __future__ import annotations

from datetime import date
from typing import TypeVar, cast

from .codec import parse
from .errors import Iso15022Error, ModelError
from .fields import (
    Account,
    Amount,
    Code,
    DateTimeValue,
    DateValue,
    Function,
    Narrative,
    Page,
    PartyValue,
    Period,
    Price,
    Quantity,
    Reference,
    Security,
    parse_value,
)
from .message import Field, Message, Sequence
from .models import (
    Envelope,
    Holding,
    HoldingsStatement,
    Model,
    Party,
    ProcessingCommand,
    ProcessingRequest,
    SecurityId,
    SettlementConfirmation,
    SettlementInstruction,
    StatementSecurity,
    StatementTransaction,
    Status,
    StatusAdvice,
    StatusReason,
    TransactionDetails,
    TransactionStatement,
)
from .validate import validate_message

T = TypeVar("T")
_PARTY_TAGS = ("95P", "95Q", "95R")


class InvalidMessage(Iso15022Error):
    """Raised by `read` when validation fails; `.errors` holds every problem found."""

    def __init__(self, errors: list[Iso15022Error]) -> None:
        first = errors[0]
        super().__init__(first.code, first.message, first.field, first.line)
        self.errors = errors


def _need(seq: Sequence | None, name: str, where: str = "") -> Sequence:
    if seq is None:
        raise ModelError("L06", f"sequence {name} missing", f":16R:{name}")
    return seq


def _val(seq: Sequence, number: str, qualifier: str, kind: type[T]) -> T:
    f = seq.get(number, qualifier)
    if f is None:
        raise ModelError("L07", f"field {number}a::{qualifier} missing in {seq.name}", f":{number}a::{qualifier}//", seq.line)
    v = parse_value(f)
    if not isinstance(v, kind):
        raise ModelError("L10", f"field {f.tag} has an unexpected option", f.label, f.line)
    return v


def _opt(seq: Sequence | None, number: str, qualifier: str, kind: type[T]) -> T | None:
    if seq is None or seq.get(number, qualifier) is None:
        return None
    return _val(seq, number, qualifier, kind)


def _date(seq: Sequence, qualifier: str) -> date:
    f = seq.get("98", qualifier)
    if f is None:
        raise ModelError("L07", f"date 98a::{qualifier} missing in {seq.name}", f":98a::{qualifier}//", seq.line)
    v = parse_value(f)
    if isinstance(v, DateTimeValue):
        return v.value.date()
    return cast(DateValue, v).value


def _moment(seq: Sequence, qualifier: str) -> date:
    """98A as a date, 98C as a datetime (a datetime is a date, so either fits a `date` slot)."""
    f = seq.get("98", qualifier)
    if f is not None:
        v = parse_value(f)
        if isinstance(v, DateTimeValue):
            return v.value
    return _date(seq, qualifier)


def _opt_date(seq: Sequence, qualifier: str) -> date | None:
    return _date(seq, qualifier) if seq.get("98", qualifier) is not None else None


def _security(seq: Sequence) -> SecurityId:
    f = seq.get("35", "")
    if f is None:
        raise ModelError("L07", f"35B missing in {seq.name}", ":35B:", seq.line)
    sec = cast(Security, parse_value(f))
    local = sec.local_code
    if local is not None:
        return SecurityId(sec.isin, local[1], local[0], sec.description[1:])
    # No local code: no market either (an ISIN's country is its issuer's, not a trading venue).
    return SecurityId(sec.isin, None, "", sec.description)


def _party(setprty: Sequence) -> Party | None:
    for item in setprty.items:
        if isinstance(item, Field) and item.tag in _PARTY_TAGS:
            pv = cast(PartyValue, parse_value(item))
            acct = _opt(setprty, "97", "SAFE", Account)
            return Party(
                role=item.qualifier,
                bic=pv.bic,
                participant_id=pv.proprietary_id,
                scheme=pv.issuer,
                name=pv.name,
                account=acct.value if acct else None,
            )
    return None


def _parties(seq: Sequence) -> list[Party]:
    return [p for s in seq.seqs("SETPRTY") if (p := _party(s)) is not None]


def _envelope(m: Message) -> Envelope:
    return Envelope(
        sender=m.basic.logical_terminal,
        receiver=m.app.receiver,
        session=m.basic.session,
        sequence=m.basic.sequence,
        user_reference=m.user_reference,
        priority=m.app.priority,
    )


def _link_ref(genl: Sequence, qualifier: str) -> tuple[str | None, str | None]:
    """(reference, linked MT) of the first LINK carrying 20C::<qualifier>."""
    for link in genl.seqs("LINK"):
        ref = _opt(link, "20", qualifier, Reference)
        if ref is not None:
            mt = _opt(link, "13", "LINK", Code)
            return ref.value, mt.code if mt else None
    return None, None


def _function(genl: Sequence) -> str:
    f = genl.get("23", "")
    if f is None:
        raise ModelError("L07", "23G missing", ":23G:", genl.line)
    return cast(Function, parse_value(f)).function


def _amount(seq: Sequence | None, qualifier: str) -> Amount | None:
    """First 19A::<qualifier> in this sequence or any of its AMT subsequences."""
    if seq is None:
        return None
    direct = _opt(seq, "19", qualifier, Amount)
    if direct is not None:
        return direct
    for amt in seq.seqs("AMT"):
        v = _opt(amt, "19", qualifier, Amount)
        if v is not None:
            return v
    return None


def _split_parties(parties: list[Party], counter_role: str) -> tuple[Party, Party, tuple[Party, ...]]:
    by_role = {p.role: p for p in parties}
    if counter_role not in by_role or "PSET" not in by_role:
        raise ModelError("L07", f"parties PSET and {counter_role} are mandatory", f":95a::{counter_role}//")
    others = tuple(p for p in parties if p.role not in ("PSET", counter_role))
    return by_role[counter_role], by_role["PSET"], others


def _instruction(m: Message) -> SettlementInstruction:
    mt = int(m.mt)
    genl = _need(m.seq("GENL"), "GENL")
    traddet = _need(m.seq("TRADDET"), "TRADDET")
    fiac = _need(m.seq("FIAC"), "FIAC")
    setdet = _need(m.seq("SETDET"), "SETDET")
    function = _function(genl)
    if function not in ("NEWM", "CANC"):
        raise ModelError("K23", f"function {function} is not NEWM or CANC", ":23G:", genl.line)
    qty = _val(fiac, "36", "SETT", Quantity)
    amount = _amount(setdet, "SETT")
    counter, pset, others = _split_parties(_parties(setdet), "DEAG" if mt in (540, 541) else "REAG")
    stco = _opt(setdet, "22", "STCO", Code)
    deal = _opt(traddet, "90", "DEAL", Price)
    prep = genl.get("98", "PREP")
    prep_v = parse_value(prep) if prep is not None else None
    return SettlementInstruction(
        mt=mt,
        sender_reference=_val(genl, "20", "SEME", Reference).value,
        function="CANC" if function == "CANC" else "NEWM",
        settlement_date=_date(traddet, "SETT"),
        security=_security(traddet),
        quantity=qty.amount,
        safekeeping_account=_val(fiac, "97", "SAFE", Account).value,
        counterparty=counter,
        place_of_settlement=pset,
        trade_date=_opt_date(traddet, "TRAD"),
        quantity_type=qty.kind,
        settlement_amount=amount.amount if amount else None,
        currency=amount.currency if amount else None,
        settlement_type=_val(setdet, "22", "SETR", Code).code,
        partial_settlement=stco.code if stco else None,
        previous_reference=_link_ref(genl, "PREV")[0],
        deal_price=deal.amount if deal else None,
        other_parties=others,
        preparation=prep_v.value if isinstance(prep_v, DateTimeValue) else None,
        envelope=_envelope(m),
    )


def _confirmation(m: Message) -> SettlementConfirmation:
    mt = int(m.mt)
    genl = _need(m.seq("GENL"), "GENL")
    traddet = _need(m.seq("TRADDET"), "TRADDET")
    fiac = _need(m.seq("FIAC"), "FIAC")
    setdet = _need(m.seq("SETDET"), "SETDET")
    rela, _ = _link_ref(genl, "RELA")
    if rela is None:
        raise ModelError("L07", "LINK with 20C::RELA is mandatory", ":20C::RELA//", genl.line)
    qty = _val(fiac, "36", "ESTT", Quantity)
    amount = _amount(setdet, "ESTT")
    counter, pset, _ = _split_parties(_parties(setdet), "DEAG" if mt in (544, 545) else "REAG")
    return SettlementConfirmation(
        mt=mt,
        sender_reference=_val(genl, "20", "SEME", Reference).value,
        related_reference=rela,
        effective_settlement_date=_moment(traddet, "ESET"),
        security=_security(traddet),
        quantity=qty.amount,
        safekeeping_account=_val(fiac, "97", "SAFE", Account).value,
        counterparty=counter,
        place_of_settlement=pset,
        settled_amount=amount.amount if amount else None,
        currency=amount.currency if amount else None,
        trade_date=_opt_date(traddet, "TRAD"),
        quantity_type=qty.kind,
        settlement_type=_val(setdet, "22", "SETR", Code).code,
        function=_function(genl),
        envelope=_envelope(m),
    )


def _status_advice(m: Message) -> StatusAdvice:
    genl = _need(m.seq("GENL"), "GENL")
    rela, rela_mt = _link_ref(genl, "RELA")
    if rela is None:
        raise ModelError("L07", "LINK with 20C::RELA is mandatory", ":20C::RELA//", genl.line)
    statuses: list[Status] = []
    for stat in genl.seqs("STAT"):
        sf = stat.all("25")
        if not sf:
            raise ModelError("L07", "STAT needs 25D", ":25D:", stat.line)
        code = cast(Code, parse_value(sf[0])).code
        reasons: list[StatusReason] = []
        for reas in stat.seqs("REAS"):
            rf = reas.all("24")
            if not rf:
                continue
            narrative = _opt(reas, "70", "REAS", Narrative)
            reasons.append(StatusReason(cast(Code, parse_value(rf[0])).code, narrative.lines if narrative else ()))
        statuses.append(Status(sf[0].qualifier, code, tuple(reasons)))
    function = _function(genl)
    settran = m.seq("SETTRAN")
    details: TransactionDetails | None = None
    if settran is not None:
        qty = _val(settran, "36", "SETT", Quantity)
        amount = _amount(settran, "SETT")
        rede = _val(settran, "22", "REDE", Code).code
        paym = _val(settran, "22", "PAYM", Code).code
        setr = _opt(settran, "22", "SETR", Code)
        details = TransactionDetails(
            security=_security(settran),
            quantity=qty.amount,
            safekeeping_account=_val(settran, "97", "SAFE", Account).value,
            settlement_date=_date(settran, "SETT"),
            direction="DELI" if rede == "DELI" else "RECE",
            payment="FREE" if paym == "FREE" else "APMT",
            settlement_amount=amount.amount if amount else None,
            currency=amount.currency if amount else None,
            quantity_type=qty.kind,
            settlement_type=setr.code if setr else "TRAD",
            parties=tuple(_parties(settran)),
        )
    return StatusAdvice(
        sender_reference=_val(genl, "20", "SEME", Reference).value,
        related_reference=rela,
        statuses=tuple(statuses),
        function="CAST" if function == "CAST" else "INST",
        related_mt=rela_mt,
        transaction=details,
        envelope=_envelope(m),
    )


def _processing_command(m: Message) -> ProcessingCommand:
    genl = _need(m.seq("GENL"), "GENL")
    requests: list[ProcessingRequest] = []
    for reqd in m.seqs("REQD"):
        link = _need(reqd.seq("LINK"), "LINK")
        hold = _opt(reqd, "22", "HOLD", Code)
        prss = _opt(reqd, "22", "PRSS", Code)
        requests.append(
            ProcessingRequest(
                related_reference=_val(link, "20", "RELA", Reference).value,
                hold=None if hold is None else hold.code == "YHLD",
                partial_settlement=prss.code if prss else None,
            )
        )
    acct = _opt(genl, "97", "SAFE", Account)
    return ProcessingCommand(
        sender_reference=_val(genl, "20", "SEME", Reference).value,
        requests=tuple(requests),
        safekeeping_account=acct.value if acct else None,
        envelope=_envelope(m),
    )


def _page(genl: Sequence) -> Page:
    f = genl.get("28", "")
    if f is None:
        raise ModelError("L07", "28E missing", ":28E:", genl.line)
    return cast(Page, parse_value(f))


def _holdings(m: Message) -> HoldingsStatement:
    genl = _need(m.seq("GENL"), "GENL")
    holdings: list[Holding] = []
    for sub in m.seqs("SUBSAFE"):
        for fin in sub.seqs("FIN"):
            aggr = _val(fin, "93", "AGGR", Quantity)
            avai = _opt(fin, "93", "AVAI", Quantity)
            price = _opt(fin, "90", "MRKT", Price)
            value = _opt(fin, "19", "HOLD", Amount)
            holdings.append(
                Holding(
                    security=_security(fin),
                    quantity=aggr.amount,
                    available=avai.amount if avai else None,
                    quantity_type=aggr.kind,
                    price=price.amount if price else None,
                    price_currency=price.currency if price else None,
                    value=value.amount if value else None,
                    value_currency=value.currency if value else None,
                )
            )
    page = _page(genl)
    return HoldingsStatement(
        sender_reference=_val(genl, "20", "SEME", Reference).value,
        statement_date=_date(genl, "STAT"),
        safekeeping_account=_val(genl, "97", "SAFE", Account).value,
        holdings=tuple(holdings),
        page=page.number,
        page_indicator=page.indicator,
        frequency=_val(genl, "22", "SFRE", Code).code,
        envelope=_envelope(m),
    )


def _transactions(m: Message) -> TransactionStatement:
    genl = _need(m.seq("GENL"), "GENL")
    period = _val(genl, "69", "STAT", Period)
    securities: list[StatementSecurity] = []
    for sub in m.seqs("SUBSAFE"):
        for fin in sub.seqs("FIN"):
            trans: list[StatementTransaction] = []
            for tran in fin.seqs("TRAN"):
                link = _need(tran.seq("LINK"), "LINK")
                det = _need(tran.seq("TRANSDET"), "TRANSDET")
                qty = _val(det, "36", "PSTA", Quantity)
                amount = _opt(det, "19", "PSTA", Amount)
                trans.append(
                    StatementTransaction(
                        related_reference=_val(link, "20", "RELA", Reference).value,
                        quantity=qty.amount,
                        direction="DELI" if _val(det, "22", "REDE", Code).code == "DELI" else "RECE",
                        payment="FREE" if _val(det, "22", "PAYM", Code).code == "FREE" else "APMT",
                        settlement_date=_date(det, "ESET"),
                        amount=amount.amount if amount else None,
                        currency=amount.currency if amount else None,
                        quantity_type=qty.kind,
                    )
                )
            fiop = _opt(fin, "93", "FIOP", Quantity)
            ficl = _opt(fin, "93", "FICL", Quantity)
            securities.append(
                StatementSecurity(
                    security=_security(fin),
                    transactions=tuple(trans),
                    opening=fiop.amount if fiop else None,
                    closing=ficl.amount if ficl else None,
                )
            )
    page = _page(genl)
    return TransactionStatement(
        sender_reference=_val(genl, "20", "SEME", Reference).value,
        period_start=period.start,
        period_end=period.end,
        safekeeping_account=_val(genl, "97", "SAFE", Account).value,
        securities=tuple(securities),
        page=page.number,
        page_indicator=page.indicator,
        frequency=_val(genl, "22", "SFRE", Code).code,
        envelope=_envelope(m),
    )


def decode(message: Message) -> Model:
    """Typed model of a parsed (and preferably validated) message."""
    mt = message.mt
    try:
        if mt in ("540", "541", "542", "543"):
            return _instruction(message)
        if mt in ("544", "545", "546", "547"):
            return _confirmation(message)
        if mt == "548":
            return _status_advice(message)
        if mt == "530":
            return _processing_command(message)
        if mt == "535":
            return _holdings(message)
        if mt == "536":
            return _transactions(message)
    except Iso15022Error:
        raise
    except Exception as exc:  # defensive: never leak a non-codec exception
        raise ModelError("L10", f"cannot decode MT{mt} ({type(exc).__name__})", "", 0) from exc
    raise ModelError("L12", f"MT{mt} is not supported", "{2:", 1)


def read(text: str) -> Model:
    """Parse, validate and decode one message; raises InvalidMessage listing every problem."""
    message = parse(text)
    errors = validate_message(message)
    if errors:
        raise InvalidMessage(errors)
    return decode(message)

