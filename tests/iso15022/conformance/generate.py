"""Generated conformance messages: one per element the schema knows.

For every MT, every sequence path, field, qualifier and letter option of `standard.SCHEMAS`, and
every code of a qualifier's code list (22F/22H/25D/24B), `cases()` yields a message made from the
MT's golden message with that one element added (or, where it already occurs and may not repeat,
rewritten).  A sequence the golden message lacks is created with its mandatory content, itself
generated from the schema.  Each case must validate without error and round-trip.
"""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass

from api.iso15022 import parse
from api.iso15022.codes import INDICATOR_CODES, INDICATOR_H_CODES, REASON_CODES, STATUS_CODES
from api.iso15022.message import Field, Message, Sequence, make_field, make_generic
from api.iso15022.schema import SeqRule, Slot
from api.iso15022.standard import SCHEMAS

GOLDEN = pathlib.Path(__file__).resolve().parent.parent / "golden"
BASES = {
    "530": "mt530_hold", "535": "mt535_holdings", "536": "mt536_transactions",
    "540": "mt540_newm", "541": "mt541_newm", "542": "mt542_newm", "543": "mt543_newm",
    "544": "mt544_conf", "545": "mt545_conf", "546": "mt546_conf", "547": "mt547_conf",
    "548": "mt548_pend",
}

_LEI = "5493001KJTIIGC8Y1R12"
# tag -> (data source scheme, data) of a well-formed sample value.
SAMPLES: dict[str, tuple[str, str]] = {
    "11A": ("", "HKD"), "12A": ("ISIT", "STF"), "12B": ("", "CALL"), "12C": ("", "ESVUFR"),
    "13A": ("", "541"), "13B": ("", "LOT1"), "17B": ("", "N"), "19A": ("", "HKD1000,"),
    "20C": ("", "REF00042"), "36B": ("", "UNIT/100,"), "69A": ("", "20250101/20250108"),
    "69B": ("", "20250101000000/20250108000000"), "70C": ("", "NARRATIVE"), "70D": ("", "NARRATIVE"),
    "70E": ("", "NARRATIVE"), "90A": ("", "PRCT/101,5"), "90B": ("", "ACTU/HKD76,8"),
    "92A": ("", "1,5"), "92B": ("", "HKD/USD/0,128"), "92C": ("", "HIBOR"), "93B": ("", "UNIT/100,"),
    "93C": ("", "UNIT/AVAI/100,"), "94B": ("", "EXCH/XHKG"), "94C": ("", "HK"),
    "94F": ("", "NCSD/XHKCHKH1"), "94H": ("", "XHKCHKH1"), "94L": ("", _LEI), "95C": ("", "HK"),
    "95L": ("", _LEI), "95P": ("", "XHKCHKH1"), "95Q": ("", "A NAME"), "95R": ("HKEX", "B09999"),
    "95S": ("", "ARNU/HK/ALT123"), "97A": ("", "ACC-001"), "97B": ("", "IORT/ACC-001"),
    "97E": ("", "GB33BUKB20201555555555"), "98A": ("", "20250108"), "98B": ("", "UKWN"),
    "98C": ("", "20250108093000"), "98E": ("", "20250108093000,123/N05"), "99A": ("", "005"),
    "99B": ("", "002"), "22F": ("", "ABCD"), "22H": ("", "ABCD"), "24B": ("", "ABCD"),
    "25D": ("", "ABCD"),
}
NON_GENERIC = {"35B": "ISIN HK0000069689", "23G": "NEWM", "28E": "1/ONLY"}
CODE_LISTS = {"22F": INDICATOR_CODES, "22H": INDICATOR_H_CODES, "25D": STATUS_CODES, "24B": REASON_CODES}


@dataclass(frozen=True)
class Case:
    mt: str
    path: str  # "SETDET/SETPRTY"
    tag: str  # "95R"
    qualifier: str
    code: str  # "" unless the case is about one code
    text: str

    @property
    def name(self) -> str:
        code = f"//{self.code}" if self.code else ""
        return f"MT{self.mt} {self.path or 'text'} :{self.tag}::{self.qualifier}{code}"


def sample(tag: str, qualifier: str, code: str = "") -> Field:
    if tag in NON_GENERIC or not qualifier:
        return make_field(tag, NON_GENERIC.get(tag, "X"))
    issuer, data = SAMPLES[tag]
    if code:
        data = code
    elif tag in CODE_LISTS:
        codes = CODE_LISTS[tag].get(qualifier)
        data = sorted(codes)[0] if codes else "ABCD"
    return make_generic(tag, qualifier, data, issuer)


def minimal(rule: SeqRule) -> Sequence:
    """A new occurrence of a sequence holding just what its rule makes mandatory."""
    items: list[Field | Sequence] = []
    for slot in rule.mandatory_slots:
        items.append(sample(slot.number + slot.options[0], slot.qualifier))
    for group, _ in rule.any_of_groups:
        if not any(s in rule.mandatory_slots for s in group):
            first = min(group, key=lambda s: s.qualifier)
            items.append(sample(first.number + first.options[0], first.qualifier))
    for child in rule.mandatory_children:
        items.append(minimal(child))
    return Sequence(name=rule.name, items=items)


def _rules_at(root: SeqRule, path: str) -> list[SeqRule]:
    chain = [root]
    for name in path.split("/") if path else []:
        chain.append(chain[-1].by_name[name])
    return chain


def _occurrences(seq: Sequence, name: str) -> list[Sequence]:
    return [i for i in seq.items if isinstance(i, Sequence) and i.name == name]


def _holds(seq: Sequence, slot: Slot) -> int | None:
    for i, item in enumerate(seq.items):
        if isinstance(item, Field) and item.tag[:2] == slot.number and item.qualifier == slot.qualifier:
            return i
    return None


def place(message: Message, root: SeqRule, path: str, slot: Slot, new: Field) -> None:
    """Put `new` into the sequence at `path`: rewrite the field where the slot already occurs,
    else add it to a fresh occurrence (repeatable sequence) or to the first one."""
    chain = _rules_at(root, path)
    seq = message.text
    for depth, rule in enumerate(chain[1:], start=1):
        found = _occurrences(seq, rule.name)
        last = depth == len(chain) - 1
        if last:
            for occ in found:
                at = _holds(occ, slot)
                if at is not None:
                    occ.items[at] = new
                    return
            if found and not rule.repeatable:
                found[0].items.append(new)
                return
            fresh = minimal(rule)
            at = _holds(fresh, slot)
            if at is not None:
                fresh.items[at] = new
            else:
                fresh.items.append(new)
            seq.items.append(fresh)
            return
        if not found:
            created = minimal(rule)
            seq.items.append(created)
            found = [created]
        seq = found[0]
    at = _holds(seq, slot)
    if at is not None:
        seq.items[at] = new
    else:
        seq.items.append(new)


def _walk(rule: SeqRule, path: str = "") -> Iterator[tuple[str, SeqRule]]:
    yield path, rule
    for child in rule.children:
        yield from _walk(child, f"{path}/{child.name}" if path else child.name)


def _variant(base: Message, root: SeqRule, path: str, slot: Slot, new: Field) -> Message:
    message = copy.deepcopy(base)
    if new.tag == "24B" and path == "GENL/STAT/REAS":
        # A reason repeats its status (L13): give it a STAT of its own whose status is that code.
        stat = Sequence(name="STAT", items=[make_generic("25D", "IPRC", new.qualifier, "XX")])
        stat.items.append(Sequence(name="REAS", items=[new]))
        genl = message.seq("GENL")
        assert genl is not None
        genl.items.append(stat)
        return message
    if new.tag == "25D" and path == "GENL/STAT":
        # A status of its own: rewriting the golden one would orphan its reasons (L13).
        genl = message.seq("GENL")
        assert genl is not None
        genl.items.append(Sequence(name="STAT", items=[new]))
        return message
    place(message, root, path, slot, new)
    return message


def cases() -> Iterator[Case]:
    from api.iso15022 import build

    for mt, root in SCHEMAS.items():
        base = parse((GOLDEN / f"{BASES[mt]}.fin").read_bytes().decode("ascii"))
        for path, rule in _walk(root):
            for number, group in rule.by_number.items():
                for qualifier, slot in group.items():
                    if number in ("23", "28"):
                        continue  # function and page are message-level: the golden ones stand
                    for option in slot.options:
                        tag = number + option
                        codes = sorted(CODE_LISTS[tag].get(qualifier, ())) if tag in CODE_LISTS else []
                        for code in codes or [""]:
                            message = _variant(base, root, path, slot, sample(tag, qualifier, code))
                            yield Case(mt, path, tag, qualifier, code, build(message))
