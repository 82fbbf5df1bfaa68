"""Schema machinery: field and sequence rules, and the lookups the validator walks with.

The data -- which sequences each MT holds, which fields, qualifiers and letter options, what is
mandatory or repeatable -- lives in `standard.py`; this module only gives it a shape and
precomputes the per-sequence tables (tag -> qualifier -> slot) so validation is dict probes.

Spelling of the data (see `F` and `S`):

    F("98", "!SETT:ABC TRAD:ABCE")   field 98a: SETT mandatory with options A/B/C, TRAD optional
    F("22F", "!SETR *STCO")          one option for every qualifier; `*` = the qualifier may repeat
    F("95", "PSET:CPQ DEAG:PQR", one=True)   at least one of the qualifiers must appear
    F("35B", m=True)                 a field without qualifier (mandatory here)
    S("SETPRTY", ..., m=True, r=True) a sequence, mandatory / repeatable
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class QualRule:
    qualifier: str  # "" for a field without qualifier
    options: str  # letter options, e.g. "ACE" ("" for a field like 16R written without a letter)
    mandatory: bool = False
    repeatable: bool = False


@dataclass(frozen=True)
class FieldRule:
    number: str  # "98"
    quals: tuple[QualRule, ...]
    one: bool = False  # at least one of the qualifiers must appear

    @property
    def tags(self) -> frozenset[str]:
        return frozenset(self.number + o for q in self.quals for o in q.options)


class Slot:
    """One (tag number, qualifier) a sequence may hold.  98A::SETT and 98C::SETT share a slot,
    so a repeat across options is still a repeat.  Hashed by identity: the validator keeps a set
    of slots seen per sequence occurrence, with no tuple building on the hot path."""

    __slots__ = ("number", "qualifier", "repeatable", "label", "watch", "cacheable", "options", "quantity")

    def __init__(self, number: str, qualifier: str, repeatable: bool, label: str, options: str = "") -> None:
        self.number = number
        self.qualifier = qualifier
        self.repeatable = repeatable
        self.label = label
        self.options = options
        # Fields the network rules look at (parties, amounts, function, status, reason, PREV,
        # PAYM, identification of the security): the validator hands them over during its walk.
        self.watch = number in _WATCHED_NUMBERS or (number, qualifier) in _WATCHED_SLOTS
        # A repeated quantity (36B/93B) is allowed only as one FAMT and one AMOR.
        self.quantity = repeatable and number in ("36", "93")
        # Values unique to each message (references, amounts, quantities, narratives,
        # preparation times) would only churn the validator's cache of known-good lines.
        self.cacheable = number not in _UNIQUE_NUMBERS and qualifier != "PREP"


_WATCHED_NUMBERS = frozenset({"95", "19", "23", "25", "24", "35"})
_UNIQUE_NUMBERS = frozenset({"20", "19", "36", "93", "70", "90"})
_WATCHED_SLOTS = frozenset({("20", "PREV"), ("22", "PAYM")})


@dataclass(frozen=True)
class SeqRule:
    name: str
    mandatory: bool = False
    repeatable: bool = False
    fields: tuple[FieldRule, ...] = ()
    children: tuple["SeqRule", ...] = ()
    by_tag: dict[str, FieldRule] = field(default_factory=dict, compare=False, hash=False)
    by_name: dict[str, "SeqRule"] = field(default_factory=dict, compare=False, hash=False)
    # tag -> qualifier -> slot (precomputed lookups for the validator)
    slots: dict[str, dict[str, Slot]] = field(default_factory=dict, compare=False, hash=False)
    # tag number -> qualifier -> slot, any option: tells "wrong option" from "unknown qualifier"
    by_number: dict[str, dict[str, Slot]] = field(default_factory=dict, compare=False, hash=False)
    mandatory_slots: list[Slot] = field(default_factory=list, compare=False, hash=False)
    mandatory_set: frozenset[Slot] = field(default=frozenset(), compare=False, hash=False)
    any_of_groups: list[tuple[frozenset[Slot], str]] = field(default_factory=list, compare=False, hash=False)
    # Where this rule sits ("SETDET/SETPRTY"), for error messages; set once by _homes below.
    where: list[str] = field(default_factory=lambda: ["the text block"], compare=False, hash=False)
    mandatory_children: tuple["SeqRule", ...] = field(default=(), compare=False, hash=False)
    # Validator's cache: field line (tag:value) -> slot, for lines found valid in this sequence.
    accept: dict[str, Slot] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        for rule in self.fields:
            number = rule.number
            group = self.by_number.setdefault(number, {})
            for q in rule.quals:
                label = f":{number}a::{q.qualifier}//" if q.qualifier else f":{number}{q.options}:"
                slot = Slot(number, q.qualifier, q.repeatable, label, q.options)
                group[q.qualifier] = slot
                for option in q.options:
                    self.slots.setdefault(number + option, {})[q.qualifier] = slot
                    self.by_tag[number + option] = rule
                if q.mandatory:
                    self.mandatory_slots.append(slot)
            if rule.one:
                label = f":{number}a:" if rule.quals[0].qualifier else f":{number}:"
                self.any_of_groups.append((frozenset(group[q.qualifier] for q in rule.quals), label))
        for child in self.children:
            self.by_name[child.name] = child
        object.__setattr__(self, "mandatory_set", frozenset(self.mandatory_slots))
        object.__setattr__(self, "mandatory_children", tuple(c for c in self.children if c.mandatory))


def F(tag: str, quals: str = "", m: bool = False, r: bool = False, one: bool = False) -> FieldRule:
    """A field rule.  `tag` is a number ("98") when the qualifiers carry their options, or a
    number with its one option ("22F", "35B") that every qualifier shares.  For a field without
    qualifier, `m` / `r` say mandatory / repeatable."""
    number, shared = tag[:2], tag[2:]
    if not quals:
        return FieldRule(number, (QualRule("", shared, m, r),))
    out: list[QualRule] = []
    for word in quals.split():
        mandatory = repeatable = False
        while word[0] in "!*":
            mandatory |= word[0] == "!"
            repeatable |= word[0] == "*"
            word = word[1:]
        qualifier, _, options = word.partition(":")
        opts = options or shared
        if not opts:
            raise ValueError(f"{tag} {qualifier}: no letter option")
        out.append(QualRule(qualifier, opts, mandatory, repeatable))
    return FieldRule(number, tuple(out), one)


def S(name: str, *parts: FieldRule | SeqRule, m: bool = False, r: bool = False) -> SeqRule:
    fields = tuple(p for p in parts if isinstance(p, FieldRule))
    children = tuple(p for p in parts if isinstance(p, SeqRule))
    return SeqRule(name, m, r, fields, children)


def set_homes(rule: SeqRule, path: str, out: dict[str, list[str]]) -> None:
    """Record where each rule sits (for messages) and where each tag may live (for hints)."""
    if path:
        rule.where[0] = path
    for tag, group in rule.slots.items():
        out.setdefault(tag, []).append(path or "text")
        for qualifier in group:
            if qualifier:
                out.setdefault(f"{tag}::{qualifier}", []).append(path or "text")
    for child in rule.children:
        set_homes(child, f"{path}/{child.name}" if path else child.name, out)


def walk_rules(root: SeqRule, path: str = "") -> list[tuple[str, SeqRule]]:
    """(path, rule) for a rule and all its descendants, depth first."""
    out = [(path, root)]
    for child in root.children:
        out.extend(walk_rules(child, f"{path}/{child.name}" if path else child.name))
    return out
