"""Validation: field formats, per-MT structure (schema.py) and the network rules of the spec.

`validate(text)` never raises: it returns every problem as an `Iso15022Error` value, sorted by
line.  An empty list means the message is valid.
"""

from __future__ import annotations

import re

from .codec import parse
from .codes import FUNCTIONS
from .errors import EnvelopeError, FieldFormatError, Iso15022Error, NetworkRuleError, StructureError
from .fields import CHECKERS, isin_warning
from .message import Field, Message, Sequence
from .network import (
    CANCEL_NEEDS_PREVIOUS,
    PAYMENT_AMOUNT,
    REASON_REPEATS_STATUS,
    REQUIRED_AMOUNTS,
    REQUIRED_PARTIES,
    UNIQUE_PARTY_EXEMPT,
)
from .schema import SeqRule, Slot
from .standard import FIELD_HOMES, SCHEMAS, all_rules

MAX_MESSAGE_CHARS = 10_000
_BAD_X = re.compile(r"[^a-zA-Z0-9/\-?:().,'+ \n]")

# Each sequence rule caches the field lines (`98A::SETT//20250108`) it has found well formed and
# allowed, mapped to their slot.  A field's check is a pure function of its line and the rule,
# and a day's traffic repeats most lines (dates, parties, accounts, codes), so most fields cost
# one dict probe.  Bounded: a rule's cache is cleared when it reaches _ACCEPT_LIMIT entries, and
# slots whose values are unique per message (references, amounts, ...) are never cached.
_ACCEPT_LIMIT = 4096


def clear_cache() -> None:
    """Forget the known-good field lines (benchmarks; a long-running gateway never needs to)."""
    for rule in all_rules():
        rule.accept.clear()


def wire_length(text: str) -> int:
    """Length as sent on the wire, every line end counted as CRLF (input may use bare LF)."""
    return len(text) + text.count("\n") - text.count("\r\n")


def size_error(text: str) -> Iso15022Error | None:
    n = wire_length(text)
    if n > MAX_MESSAGE_CHARS:
        return StructureError("L04", f"message is {n} characters, limit {MAX_MESSAGE_CHARS}", "", 1)
    return None


def validate(text: str, warnings: bool = False) -> list[Iso15022Error]:
    """All errors in one message (text as received); [] if it is valid.  With `warnings`, the
    warnings too (`Iso15022Warning`, severity "warning": SWIFT would not reject for them)."""
    errors: list[Iso15022Error] = []
    if isinstance(text, str):
        too_big = size_error(text)
        if too_big is not None:
            errors.append(too_big)
    try:
        message = parse(text)
    except Iso15022Error as exc:
        errors.append(exc)
        return errors
    errors.extend(validate_message(message, warnings))
    return errors


def validate_message(message: Message, warnings: bool = False) -> list[Iso15022Error]:
    """All errors in an already parsed message (and its warnings, if asked), sorted by line."""
    errors: list[Iso15022Error] = []
    schema = SCHEMAS.get(message.mt)
    if schema is None:
        return [StructureError("L12", f"MT{message.mt} is not supported", "{2:", 1)]
    if message.user or message.trailer:
        _check_user_and_trailer(message, errors)
    # One search over the received text block; per-field character checks only if it fails.
    check_chars = not message.source or _BAD_X.search(message.source) is not None
    try:
        watched: Watched = []
        _check(message.text, message.text, schema, FIELD_HOMES[message.mt], check_chars, errors, watched)
        _network_rules(message, watched, errors)
        if warnings:
            _warnings(watched, errors)
    except Exception as exc:  # defensive: validation must never crash on a hostile message
        errors.append(StructureError("L10", f"unvalidatable message ({type(exc).__name__})", "", 0))
    if len(errors) > 1:
        errors.sort(key=lambda e: e.line)
    return errors


_REF16_X = re.compile(r"[a-zA-Z0-9/\-?:().,'+ ]{1,16}\Z")
_CHK = re.compile(r"[0-9A-F]{12}\Z")


def _check_user_and_trailer(message: Message, errors: list[Iso15022Error]) -> None:
    """Block 3 {108:} is 16x; block 5 {CHK:} is 12 hex digits."""
    for tag, value in message.user:
        if tag == "108" and _REF16_X.match(value) is None:
            errors.append(EnvelopeError("L01", "{108:} user reference is 1 to 16 characters of set X", "{3:", 1))
    for tag, value in message.trailer:
        if tag == "CHK" and _CHK.match(value) is None:
            errors.append(EnvelopeError("L01", "{CHK:} checksum is 12 hexadecimal characters", "{5:", _end_line(message.text) + 1))


def _end_line(seq: Sequence) -> int:
    """Last line used by a sequence's content (block 5 follows on the `-}` line after it)."""
    last = seq.end_line or seq.line
    for item in seq.items:
        if isinstance(item, Sequence):
            last = max(last, _end_line(item))
        else:
            last = max(last, item.line + item.value.count("\n"))
    return last


def _bad_char(item: Field) -> Iso15022Error | None:
    bad = _BAD_X.search(item.value)
    if bad is None:
        return None
    pos = bad.start()
    return FieldFormatError(
        "M60",
        f"character {item.value[pos]!r} is outside set X",
        item.label,
        item.line + item.value.count("\n", 0, pos),
    )


# (sequence, its parent, field, slot) for every field the network rules need.
Watched = list[tuple[Sequence, Sequence, Field, Slot]]


def _warnings(watched: Watched, errors: list[Iso15022Error]) -> None:
    """Problems SWIFT would not NAK: an ISIN whose check digit fails ISO 6166."""
    for _, _, item, slot in watched:
        if slot.number == "35":
            w = isin_warning(item)
            if w is not None:
                errors.append(w)


_PAIR = frozenset({"FAMT", "AMOR"})


def _check_quantity_pair(seq: Sequence, item: Field, rule: SeqRule, errors: list[Iso15022Error]) -> None:
    """A quantity slot seen again (rare): the occurrences so far must be one FAMT, one AMOR."""
    kinds = []
    for other in seq.items:
        if type(other) is Field and other.tag[:2] == item.tag[:2] and other.qualifier == item.qualifier:
            kinds.append(other.data[:4])
            if other is item:
                break
    if len(kinds) > 2 or frozenset(kinds) != _PAIR:
        errors.append(StructureError("L16", f"{item.tag}::{item.qualifier} may repeat only as one FAMT and one AMOR in {rule.where[0]}", item.label, item.line))


def _check(
    seq: Sequence,
    parent: Sequence,
    rule: SeqRule,
    homes: dict[str, list[str]],
    check_chars: bool,
    errors: list[Iso15022Error],
    watched: Watched,
) -> None:
    """One walk: each field's format, then its place in the sequence; then what is missing."""
    seen: set[Slot] = set()
    counts: dict[str, int] = {}
    accept = rule.accept
    for item in seq.items:
        if type(item) is Field:
            # Hot path: this exact field line was already found well formed and allowed here.
            raw = item.raw or f"{item.tag}:{item.value}"
            slot = accept.get(raw)
            if slot is None:
                slot, ok = _check_field(item, rule, homes, check_chars, errors)
                if slot is None:
                    continue
                if ok and slot.cacheable:
                    if len(accept) >= _ACCEPT_LIMIT:
                        accept.clear()
                    accept[raw] = slot
            if slot in seen:
                if not slot.repeatable:
                    q = item.qualifier
                    errors.append(StructureError("L09", f"{item.tag}{'::' + q if q else ''} repeated in {rule.where[0]}", item.label, item.line))
                elif slot.quantity:
                    _check_quantity_pair(seq, item, rule, errors)
            else:
                seen.add(slot)
            if slot.watch:
                watched.append((seq, parent, item, slot))
        elif isinstance(item, Sequence):
            name = item.name
            child = rule.by_name.get(name)
            if child is None:
                errors.append(StructureError("L08", f"sequence {name} not allowed in {rule.where[0]}", f":16R:{name}", item.line))
                continue
            n = counts.get(name, 0) + 1
            counts[name] = n
            if n == 2 and not child.repeatable:
                errors.append(StructureError("L09", f"sequence {name} repeated in {rule.where[0]}", f":16R:{name}", item.line))
            _check(item, seq, child, homes, check_chars, errors, watched)
    if rule.mandatory_set <= seen and not rule.any_of_groups and not rule.mandatory_children:
        return
    for slot in rule.mandatory_slots:
        if slot not in seen:
            errors.append(StructureError("L07", f"mandatory field missing in {rule.where[0]}", slot.label, seq.line))
    for group_slots, label in rule.any_of_groups:
        if seen.isdisjoint(group_slots):
            errors.append(StructureError("L07", f"mandatory field missing in {rule.where[0]}", label, seq.line))
    for child in rule.mandatory_children:
        if child.name not in counts:
            errors.append(StructureError("L06", f"mandatory sequence {child.name} missing in {rule.where[0]}", f":16R:{child.name}", seq.line))


def _check_field(
    item: Field, rule: SeqRule, homes: dict[str, list[str]], check_chars: bool, errors: list[Iso15022Error]
) -> tuple[Slot | None, bool]:
    """Full check of one field: characters, format, allowed here.  Returns its slot (None if not
    allowed here) and whether it is entirely well formed (only then may it be cached)."""
    ok = True
    if check_chars:
        bad = _bad_char(item)
        if bad is not None:
            errors.append(bad)
            ok = False  # still placed below: no spurious "mandatory field missing"
    if ok:
        checker = CHECKERS.get(item.tag)
        if checker is not None:
            try:
                checker(item)
            except FieldFormatError as exc:
                errors.append(exc)
                ok = False
    group = rule.slots.get(item.tag)
    slot = group.get(item.qualifier) if group is not None else None
    if slot is None:
        return _misplaced(item, rule, homes, errors), False
    # A malformed field still counts as present (no spurious "missing" error), but is not cached.
    return slot, ok


def _misplaced(item: Field, rule: SeqRule, homes: dict[str, list[str]], errors: list[Iso15022Error]) -> Slot | None:
    """Say why a field has no slot here: wrong letter option, unknown qualifier, or a field
    that belongs elsewhere.  A wrong option still returns the slot (it is present, just badly
    written), so no spurious "missing" follows."""
    number = item.tag[:2]
    by_q = rule.by_number.get(number)
    if by_q is None:
        home = homes.get(f"{item.tag}::{item.qualifier}") if item.qualifier else None
        home = home or homes.get(item.tag)
        hint = f" (belongs in {' or '.join(home)})" if home else ""
        errors.append(StructureError("L08", f"field {item.tag} not allowed in {rule.where[0]}{hint}", item.label, item.line))
        return None
    slot = by_q.get(item.qualifier)
    if slot is not None:
        options = "/".join(slot.options)
        what = f"{number}a::{slot.qualifier}" if slot.qualifier else f"field {number}a"
        errors.append(FieldFormatError("L15", f"option {item.tag[2:] or '(none)'} not allowed for {what} in {rule.where[0]} (expected {options})", item.label, item.line))
        return slot
    if item.qualifier:
        allowed = " ".join(sorted(q for q in by_q if q))
        errors.append(FieldFormatError("T89", f"unknown qualifier {item.qualifier} for {number}a in {rule.where[0]} (expected one of {allowed})", item.label, item.line))
    else:
        errors.append(FieldFormatError("L10", f"field {item.tag} needs a qualifier", item.label, item.line))
    return None


# --------------------------------------------------------------------------------------------
# Network rules




def _network_rules(message: Message, watched: Watched, errors: list[Iso15022Error]) -> None:
    """Cross-field rules, over the fields the walk handed over (see Slot.watch)."""
    mt = message.mt
    # Party qualifiers seen per (sequence holding them, subsequence name): E84 forbids a party
    # twice among the SETPRTY (or CSHPRTY, OTHRPRTY) occurrences of one sequence.
    parties: dict[tuple[int, str], dict[str, Field]] = {}
    amounts: set[tuple[str, str]] = set()  # (sequence name, 19A qualifier)
    status_of: dict[int, str] = {}  # STAT occurrence -> its 25D status code
    reasons: list[tuple[Sequence, Field]] = []  # (STAT occurrence, 24B field)
    function = ""
    has_prev = False
    paym: Field | None = None
    for seq, parent, item, slot in watched:
        number = slot.number
        if number == "95":
            found = parties.setdefault((id(parent), seq.name), {})
            q = slot.qualifier
            if q in UNIQUE_PARTY_EXEMPT:
                pass  # alternate identifications of the party, not a party: may repeat
            elif q in found:
                errors.append(NetworkRuleError("E84", f"party {q} appears more than once", item.label, item.line))
            else:
                found[q] = item
        elif number == "19":
            amounts.add((seq.name, slot.qualifier))
        elif number == "23":
            function = item.value[:4]
            allowed = FUNCTIONS.get(mt)
            if allowed is not None and function not in allowed and len(item.value) >= 4:
                errors.append(FieldFormatError("K23", f"function {function} not allowed in MT{mt}", item.label, item.line))
        elif number == "25":
            status_of.setdefault(id(seq), item.data)
        elif number == "24":
            reasons.append((parent, item))
        elif number == "20":
            has_prev = True
        elif number == "22" and seq.name == "SETTRAN":
            paym = item
    setdet = message.seq("SETDET")
    if setdet is not None:
        found = parties.get((id(setdet), "SETPRTY"), {})
        for q in REQUIRED_PARTIES.get(mt, ()):
            if q not in found:
                errors.append(StructureError("L07", f"SETPRTY with party {q} is mandatory in MT{mt}", f":95a::{q}//", setdet.line))
        for need in REQUIRED_AMOUNTS.get(mt, ()):
            if (need.seq, need.qualifier) not in amounts:
                errors.append(NetworkRuleError(need.code, f"{need.why} needs 19A::{need.qualifier} in SETDET/{need.seq}", f":19A::{need.qualifier}//", setdet.line))
    if function == "CANC" and mt in CANCEL_NEEDS_PREVIOUS and not has_prev:
        genl = message.seq("GENL")
        errors.append(NetworkRuleError("L14", "a CANC instruction needs LINK with 20C::PREV (the SEME it cancels)", ":20C::PREV//", genl.line if genl else 0))
    if mt in REASON_REPEATS_STATUS:
        for stat, r in reasons:
            code = status_of.get(id(stat), "")
            if code and r.qualifier != code:
                errors.append(NetworkRuleError("L13", f"reason qualifier {r.qualifier} must repeat status {code}", r.label, r.line))
    pay = PAYMENT_AMOUNT.get(mt)
    if pay is not None and paym is not None and paym.data == "APMT" and (pay.seq, pay.qualifier) not in amounts:
        where = message.seq(pay.seq)
        errors.append(NetworkRuleError(pay.code, f"{pay.why} needs 19A::{pay.qualifier} in {pay.seq}", f":19A::{pay.qualifier}//", where.line if where else 0))
