"""Per-MT structure: which sequences nest where, which fields and qualifiers each may hold, and
which are mandatory or repeatable.  Data only; `validate` walks a message against it.

We model the subset of the Category 5 handbook that CCASS-style settlement uses (see the module
README in __init__); optional handbook sequences we do not use (REPO, CSHPRTY, OTHRPRTY, ...)
are simply not allowed, so a sender learns early that we ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldRule:
    tags: frozenset[str]  # tag + option, e.g. {"98A", "98C"}
    qualifiers: frozenset[str]  # allowed qualifiers ("" for non-generic fields)
    mandatory: frozenset[str] = frozenset()  # qualifiers that must appear
    repeatable: frozenset[str] = frozenset()  # qualifiers that may appear more than once
    any_of: bool = False  # at least one field of this rule must appear

    @property
    def number(self) -> str:
        return next(iter(self.tags))[:2]


class Slot:
    """One (tag number, qualifier) a sequence may hold.  98A::SETT and 98C::SETT share a slot,
    so a repeat across options is still a repeat.  Hashed by identity: the validator keeps a set
    of slots seen per sequence occurrence, with no tuple building on the hot path."""

    __slots__ = ("number", "qualifier", "repeatable", "label", "watch", "cacheable")

    def __init__(self, number: str, qualifier: str, repeatable: bool, label: str) -> None:
        self.number = number
        self.qualifier = qualifier
        self.repeatable = repeatable
        self.label = label
        # Fields the network rules look at (parties, amounts, function, status, reason, PREV,
        # PAYM): the validator hands them over during its walk, so the rules never search.
        self.watch = number in _WATCHED_NUMBERS or (number, qualifier) in _WATCHED_SLOTS
        # Values unique to each message (references, amounts, quantities, narratives,
        # preparation times) would only churn the validator's cache of known-good lines.
        self.cacheable = number not in _UNIQUE_NUMBERS and qualifier != "PREP"


_WATCHED_NUMBERS = frozenset({"95", "19", "23", "25", "24"})
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
    mandatory_slots: list[Slot] = field(default_factory=list, compare=False, hash=False)
    any_of_groups: list[tuple[frozenset[Slot], str]] = field(default_factory=list, compare=False, hash=False)
    # Where this rule sits ("SETDET/SETPRTY"), for error messages; set once by _homes below.
    where: list[str] = field(default_factory=lambda: ["the text block"], compare=False, hash=False)
    mandatory_children: tuple["SeqRule", ...] = field(default=(), compare=False, hash=False)
    # Validator's cache: field line (tag:value) -> slot, for lines found valid in this sequence.
    accept: dict[str, Slot] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        for rule in self.fields:
            number = rule.number
            label_tags = "/".join(sorted(rule.tags))
            group: dict[str, Slot] = {
                q: Slot(number, q, q in rule.repeatable, f":{number}a::{q}//" if q else f":{label_tags}:")
                for q in rule.qualifiers
            }
            for tag in rule.tags:
                self.by_tag[tag] = rule
                self.slots[tag] = group
            self.mandatory_slots.extend(group[q] for q in sorted(rule.mandatory))
            if rule.any_of:
                self.any_of_groups.append((frozenset(group.values()), f":{label_tags}:"))
        for child in self.children:
            self.by_name[child.name] = child
        object.__setattr__(self, "mandatory_children", tuple(c for c in self.children if c.mandatory))


def F(tags: str, quals: str = "", mandatory: str = "", repeat: str = "", any_of: bool = False) -> FieldRule:
    """Compact rule: F("98A 98C", "SETT TRAD", mandatory="SETT")."""
    qs = frozenset(quals.split()) if quals else frozenset({""})
    if mandatory == "*":
        mset = frozenset({""})
    else:
        mset = frozenset(mandatory.split())
    return FieldRule(frozenset(tags.split()), qs, mset, frozenset(repeat.split()), any_of)


def S(name: str, *parts: FieldRule | SeqRule, m: bool = False, r: bool = False) -> SeqRule:
    fields = tuple(p for p in parts if isinstance(p, FieldRule))
    children = tuple(p for p in parts if isinstance(p, SeqRule))
    return SeqRule(name, m, r, fields, children)


_LINK_QUALS = "RELA PREV POOL COMM TRRF PCTI MITI"
_PARTY_QUALS = "PSET DEAG REAG SELL BUYR DECU RECU DEI1 REI1"


def _link(mandatory: str = "", m: bool = False) -> SeqRule:
    return S("LINK", F("13A", "LINK"), F("20C", _LINK_QUALS, mandatory), m=m, r=True)


def _setprty(m: bool) -> SeqRule:
    return S(
        "SETPRTY",
        F("95P 95Q 95R", _PARTY_QUALS, any_of=True),
        F("97A", "SAFE"),
        F("20C", "PROC"),
        F("70D", "PACO"),
        m=m,
        r=True,
    )


def _instruction(confirmation: bool) -> SeqRule:
    """MT540-543 (instructions) and MT544-547 (confirmations): same skeleton, the confirmation
    adds a mandatory LINK/RELA and the effective (ESET/ESTT) fields."""
    date_quals = "SETT TRAD ESET" if confirmation else "SETT TRAD"
    return S(
        "",
        S(
            "GENL",
            F("20C", "SEME", "SEME"),
            F("23G", mandatory="*"),
            F("98A 98C", "PREP"),
            _link("", m=confirmation),
            m=True,
        ),
        S(
            "TRADDET",
            F("98A 98C", date_quals, "ESET" if confirmation else "SETT"),
            F("90B", "DEAL"),
            F("35B", mandatory="*"),
            F("70E", "SPRO"),
            m=True,
        ),
        S(
            "FIAC",
            F("36B", "ESTT" if confirmation else "SETT", "ESTT" if confirmation else "SETT"),
            F("97A", "SAFE", "SAFE"),
            m=True,
        ),
        S(
            "SETDET",
            F("22F", "SETR STCO RTGS BENE", "SETR", repeat="STCO"),
            _setprty(m=True),
            S("AMT", F("19A", "SETT ESTT DEAL CHAR"), F("98A", "VALU"), r=True),
            m=True,
        ),
    )


_REAS = S("REAS", F("24B", "PEND PENF NMAT REJT CAND DEND", any_of=True), F("70D", "REAS"), r=True)

MT548 = S(
    "",
    S(
        "GENL",
        F("20C", "SEME", "SEME"),
        F("23G", mandatory="*"),
        F("98A 98C", "PREP"),
        _link("RELA", m=True),
        S("STAT", F("25D", "IPRC CPRC MTCH SETT", any_of=True), _REAS, m=True, r=True),
        m=True,
    ),
    S(
        "SETTRAN",
        F("35B", mandatory="*"),
        F("36B", "SETT ESTT", "SETT"),
        F("19A", "SETT ESTT"),
        F("97A", "SAFE", "SAFE"),
        F("22F", "SETR STCO", repeat="STCO"),
        F("22H", "REDE PAYM", "REDE PAYM"),
        F("98A 98C", "SETT TRAD ESET", "SETT"),
        _setprty(m=False),
    ),
)

MT530 = S(
    "",
    S("GENL", F("20C", "SEME", "SEME"), F("23G", mandatory="*"), F("98A 98C", "PREP"), F("97A", "SAFE"), m=True),
    S(
        "REQD",
        F("22F", "PRSS HOLD", any_of=True),
        S("LINK", F("13A", "LINK"), F("20C", "RELA", "RELA"), m=True),
        m=True,
        r=True,
    ),
)

_STATEMENT_GENL = (
    F("28E", mandatory="*"),
    F("20C", "SEME", "SEME"),
    F("23G", mandatory="*"),
    F("98A 98C", "STAT PREP"),
    F("69A", "STAT"),
    F("22F", "SFRE CODE STTY STBA", "SFRE CODE"),
    F("22H", "STST"),
    F("97A", "SAFE", "SAFE"),
    F("95P 95R", "ACOW"),
    F("17B", "ACTI CONS", "ACTI CONS"),
    _link(),
)

MT535 = S(
    "",
    S("GENL", *_STATEMENT_GENL, m=True),
    S(
        "SUBSAFE",
        F("97A", "SAFE"),
        F("17B", "ACTI"),
        S(
            "FIN",
            F("35B", mandatory="*"),
            F("90B", "MRKT"),
            F("93B", "AGGR AVAI NAVL", "AGGR"),
            F("19A", "HOLD"),
            r=True,
        ),
        r=True,
    ),
)

MT536 = S(
    "",
    S("GENL", *_STATEMENT_GENL, m=True),
    S(
        "SUBSAFE",
        F("97A", "SAFE"),
        F("17B", "ACTI"),
        S(
            "FIN",
            F("35B", mandatory="*"),
            F("93B", "FIOP FICL"),
            S(
                "TRAN",
                _link("RELA", m=True),
                S(
                    "TRANSDET",
                    F("36B", "PSTA", "PSTA"),
                    F("19A", "PSTA"),
                    F("22F", "TRAN", "TRAN"),
                    F("22H", "REDE PAYM", "REDE PAYM"),
                    F("98A 98C", "ESET SETT", "ESET"),
                    _setprty(m=False),
                    m=True,
                ),
                m=True,
                r=True,
            ),
            r=True,
        ),
        r=True,
    ),
)

_INSTRUCTION = _instruction(confirmation=False)
_CONFIRMATION = _instruction(confirmation=True)

SCHEMAS: dict[str, SeqRule] = {
    "530": MT530,
    "535": MT535,
    "536": MT536,
    "540": _INSTRUCTION,
    "541": _INSTRUCTION,
    "542": _INSTRUCTION,
    "543": _INSTRUCTION,
    "544": _CONFIRMATION,
    "545": _CONFIRMATION,
    "546": _CONFIRMATION,
    "547": _CONFIRMATION,
    "548": MT548,
}


def _homes(rule: SeqRule, path: str, out: dict[str, list[str]]) -> None:
    if path:
        rule.where[0] = path
    for tag in rule.by_tag:
        out.setdefault(tag, []).append(path or "text")
    for child in rule.children:
        _homes(child, f"{path}/{child.name}" if path else child.name, out)


# Where each tag may live, per MT: used to say "belongs in FIAC" for a misplaced field.
FIELD_HOMES: dict[str, dict[str, list[str]]] = {}
for _mt, _rule in SCHEMAS.items():
    FIELD_HOMES[_mt] = {}
    _homes(_rule, "", FIELD_HOMES[_mt])


def all_rules() -> list[SeqRule]:
    """Every distinct sequence rule of every MT."""
    out: dict[int, SeqRule] = {}

    def walk(rule: SeqRule) -> None:
        if id(rule) not in out:
            out[id(rule)] = rule
            for child in rule.children:
                walk(child)

    for rule in SCHEMAS.values():
        walk(rule)
    return list(out.values())
