"""Plain data for a FIN message: the envelope blocks and the text block as a tree of sequences.

These are the codec's boundary types: `codec.parse` produces them, `codec.build` renders them.
They keep every field's raw text so that build(parse(m)) == m byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator, Union


@dataclass(slots=True)
class BasicHeader:
    """Block 1: `F01` + logical terminal (12) + session (4) + sequence (6)."""

    logical_terminal: str
    session: str = "0000"
    sequence: str = "000000"
    app_id: str = "F"
    service_id: str = "01"

    def render(self) -> str:
        return f"{{1:{self.app_id}{self.service_id}{self.logical_terminal}{self.session}{self.sequence}}}"


@dataclass(slots=True)
class AppHeader:
    """Block 2.  Input (`I`): MT + receiver (12) + priority.  Output (`O`): MT + the rest kept raw
    (input time, MIR, output date/time, priority) because we never need to interpret it."""

    direction: str  # "I" or "O"
    mt: str  # "541"
    receiver: str = ""  # input only: 12-char logical terminal address
    priority: str = ""  # input only: "", "N", "U" or "S"
    output_rest: str = ""  # output only: everything after the MT

    def render(self) -> str:
        if self.direction == "I":
            return f"{{2:I{self.mt}{self.receiver}{self.priority}}}"
        return f"{{2:O{self.mt}{self.output_rest}}}"


_GENERIC = re.compile(r":([A-Z0-9]{4})/([A-Z0-9]{0,8})/(.*)", re.S)


class Field:
    """One text-block field.  `value` is everything after `:TAG:`; continuation lines are joined
    with LF (rendered as CRLF).  For generic fields (`:4!c/[8c]/...`) qualifier, issuer and
    data are split out; `line` is the line the field starts on (1 = the `{1:` line).

    A plain class rather than a dataclass for one reason: speed.  The parser creates fields with
    `Field.parsed` and splits qualifier/issuer/data only when first asked for, because the
    validator's hot path needs just `raw` and most fields are never split."""

    __slots__ = ("tag", "value", "line", "raw", "_qualifier", "_issuer", "_data", "_generic")

    def __init__(
        self,
        tag: str,
        value: str,
        line: int = 0,
        qualifier: str = "",
        issuer: str = "",
        data: str = "",
        generic: bool = False,
        raw: str = "",
    ) -> None:
        self.tag = tag  # "20C", "35B"
        self.value = value
        self.line = line
        # The line as received, `TAG:value` (LF inside); "" for fields made in code.  The
        # validator keys its cache on it.  Not part of equality.
        self.raw = raw
        self._qualifier = qualifier
        self._issuer = issuer
        self._data = data
        self._generic: bool | None = generic

    @classmethod
    def parsed(cls, tag: str, value: str, line: int, raw: str) -> "Field":
        """A field straight from the wire; its generic parts are split on first use."""
        f = object.__new__(cls)
        f.tag = tag
        f.value = value
        f.line = line
        f.raw = raw
        f._generic = None
        return f

    def _split(self) -> None:
        m = _GENERIC.match(self.value) if self.value[:1] == ":" else None
        if m is None:
            self._qualifier, self._issuer, self._data, self._generic = "", "", self.value, False
        else:
            self._qualifier, self._issuer, self._data = m.groups()
            self._generic = True

    @property
    def generic(self) -> bool:
        if self._generic is None:
            self._split()
        return bool(self._generic)

    @property
    def qualifier(self) -> str:
        """"SEME" in `:20C::SEME//...`; "" for non-generic fields."""
        if self._generic is None:
            self._split()
        return self._qualifier

    @property
    def issuer(self) -> str:
        """The data source scheme, between the two slashes ("HKEX" in `:95R::DEAG/HKEX/B01234`)."""
        if self._generic is None:
            self._split()
        return self._issuer

    @property
    def data(self) -> str:
        """Generic: what follows `QUAL/issuer/`; otherwise the whole value."""
        if self._generic is None:
            self._split()
        return self._data

    @property
    def label(self) -> str:
        """How the field is named in error messages, e.g. `:20C::SEME//` or `:35B:`."""
        if self.generic:
            return f":{self.tag}::{self.qualifier}/{self.issuer}/"
        return f":{self.tag}:"

    @property
    def number(self) -> str:
        """The tag without its option letter ("98" for 98A and 98C)."""
        return self.tag[:2]

    def _key(self) -> tuple[str, str, int, str, str, str, bool]:
        return (self.tag, self.value, self.line, self.qualifier, self.issuer, self.data, self.generic)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Field):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        return f"Field({self.tag!r}, {self.value!r}, line={self.line})"


@dataclass(slots=True)
class Sequence:
    """A `16R:NAME ... 16S:NAME` block.  `items` keeps fields and subsequences in wire order."""

    name: str
    items: list[Union[Field, "Sequence"]] = field(default_factory=list)
    line: int = 0
    end_line: int = 0

    @property
    def fields(self) -> list[Field]:
        return [i for i in self.items if isinstance(i, Field)]

    @property
    def sequences(self) -> list["Sequence"]:
        return [i for i in self.items if isinstance(i, Sequence)]

    def seqs(self, name: str) -> list["Sequence"]:
        return [i for i in self.items if isinstance(i, Sequence) and i.name == name]

    def seq(self, name: str) -> "Sequence | None":
        for i in self.items:
            if isinstance(i, Sequence) and i.name == name:
                return i
        return None

    def get(self, tag_number: str, qualifier: str = "") -> Field | None:
        """First field with this tag number (any option letter) and qualifier, in this sequence
        only.  `get("98", "SETT")` finds 98A or 98C."""
        for i in self.items:
            if isinstance(i, Field) and i.tag[:2] == tag_number and i.qualifier == qualifier:
                return i
        return None

    def all(self, tag_number: str, qualifier: str | None = None) -> list[Field]:
        return [
            i
            for i in self.items
            if isinstance(i, Field)
            and i.tag[:2] == tag_number
            and (qualifier is None or i.qualifier == qualifier)
        ]

    def walk(self) -> Iterator[tuple["Sequence", Field]]:
        """Every field below this sequence with its enclosing sequence, depth first."""
        for i in self.items:
            if isinstance(i, Field):
                yield self, i
            else:
                yield from i.walk()


@dataclass(slots=True)
class Message:
    """A whole FIN message.  `text` is the root: an unnamed Sequence holding the top level."""

    basic: BasicHeader
    app: AppHeader
    text: Sequence
    user: list[tuple[str, str]] = field(default_factory=list)  # block 3 {tag:value} pairs
    trailer: list[tuple[str, str]] = field(default_factory=list)  # block 5 {tag:value} pairs
    # Block S ({S:{SAC:}{COP:P}}): the system trailer interface exports (Alliance Access) append.
    system: list[tuple[str, str]] = field(default_factory=list)
    # The text block as received (LF line ends), so validation can check the character set in
    # one pass; "" for messages built in code.  Not part of equality.
    source: str = field(default="", compare=False, repr=False)

    @property
    def mt(self) -> str:
        return self.app.mt

    @property
    def user_reference(self) -> str | None:
        for tag, value in self.user:
            if tag == "108":
                return value
        return None

    def seq(self, name: str) -> Sequence | None:
        return self.text.seq(name)

    def seqs(self, name: str) -> list[Sequence]:
        return self.text.seqs(name)


def make_field(tag: str, value: str) -> Field:
    """A non-generic field, e.g. make_field("35B", "ISIN HK0000069689")."""
    return Field(tag=tag, value=value, data=value)


def make_generic(tag: str, qualifier: str, data: str, issuer: str = "") -> Field:
    """A generic field `:QUAL/issuer/data`, e.g. make_generic("20C", "SEME", "REF1")."""
    return Field(
        tag=tag,
        value=f":{qualifier}/{issuer}/{data}",
        qualifier=qualifier,
        issuer=issuer,
        data=data,
        generic=True,
    )
