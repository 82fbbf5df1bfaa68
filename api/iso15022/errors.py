"""The one exception family of the ISO 15022 codec.

Every problem found in a message -- envelope, field format, structure or network rule -- is an
`Iso15022Error` carrying a code, the field it concerns, the line, and a message.  Parsing raises
the first fatal one; validation returns all of them as values (never raises), so a gateway can
answer a 548 rejection that names the offending field.

Codes: SWIFT network-validation codes where the spec names one (T26, T50, C03, T40, T43, T52, T14,
T89, K22-K25, M60, E83, E84, E92).  Where SWIFT's exact code is not public we use our own `L`
codes, listed in `CODES` below so they read the same everywhere.
"""

from __future__ import annotations

# Human-readable meaning of every code we emit (documentation and tests use this table).
CODES: dict[str, str] = {
    "T26": "reference must not start or end with '/' nor contain '//'",
    "T50": "invalid date (YYYYMMDD)",
    "T38": "invalid time (HHMMSS)",
    "T40": "amount/quantity needs an integer digit and the decimal comma",
    "T43": "amount/quantity integer part missing or too long",
    "C03": "more decimals than the currency allows",
    "T52": "currency is not ISO 4217",
    "T14": "zero amount must not carry the N sign",
    "T89": "unknown qualifier for this field in this sequence",
    "K22": "unknown indicator code (22F/22H)",
    "K23": "unknown function code (23G)",
    "K24": "unknown reason code (24B)",
    "K25": "unknown status code (25D)",
    "K36": "unknown quantity type (36B/93B)",
    "K90": "unknown price type (90B)",
    "M60": "character outside SWIFT character set X",
    "E83": "548 with PAYM//APMT needs 19A::SETT",
    "E84": "a party qualifier may appear at most once",
    "E92": "against-payment instruction needs 19A::SETT",
    "L01": "envelope block malformed",
    "L02": "blocks missing or out of order",
    "L03": "message truncated (unterminated block)",
    "L04": "message longer than 10,000 characters",
    "L05": "16R/16S sequences unbalanced",
    "L06": "mandatory sequence missing",
    "L07": "mandatory field missing",
    "L08": "field or sequence not allowed here",
    "L09": "field repeated where it may appear once",
    "L10": "field content does not match its format",
    "L11": "ISIN invalid (12 characters, check digit)",
    "L12": "message type not supported",
    "L13": "548 reason qualifier must repeat the status code",
    "L14": "inconsistent message (function/link rules)",
    "L15": "letter option not allowed for this qualifier",
    "L16": "repeated quantity must be one FAMT and one AMOR",
    "W11": "ISIN check digit fails ISO 6166 (warning: the network checks the format only)",
}

# Codes that are warnings, not errors: SWIFT would not NAK the message for them.
WARNING_CODES = frozenset({"W11"})


class Iso15022Error(Exception):
    """A located problem in an ISO 15022 message.

    `field` is the field as written up to its qualifier (e.g. ``:20C::SEME//``) or a block name
    (``{2:}``); `line` counts from 1 at the line holding ``{1:``.
    """

    __slots__ = ("code", "field", "line", "message")

    severity = "error"

    def __init__(self, code: str, message: str, field: str = "", line: int = 0) -> None:
        super().__init__(code, message, field, line)
        self.code = code
        self.message = message
        self.field = field
        self.line = line

    def __str__(self) -> str:
        parts = [self.code]
        if self.line:
            parts.append(f"line {self.line}")
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, {self.field!r}, {self.line})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Iso15022Error):
            return NotImplemented
        return (self.code, self.message, self.field, self.line) == (
            other.code,
            other.message,
            other.field,
            other.line,
        )

    def __hash__(self) -> int:
        return hash((self.code, self.message, self.field, self.line))

    def shifted(self, lines: int) -> Iso15022Error:
        """The same error with its line moved by `lines` (a message's offset inside a file)."""
        return type(self)(self.code, self.message, self.field, self.line + lines if self.line else 0)

    def as_dict(self) -> dict[str, str | int]:
        return {"code": self.code, "field": self.field, "line": self.line, "message": self.message, "severity": self.severity}


class Iso15022Warning(Iso15022Error):
    """A problem SWIFT would not reject the message for (e.g. an ISIN whose check digit fails
    ISO 6166); `validate --strict` treats it as an error."""

    severity = "warning"


class EnvelopeError(Iso15022Error):
    """Blocks 1, 2, 3, 5, their order, truncation, size."""


class StructureError(Iso15022Error):
    """Text block layout: field lines, 16R/16S nesting, mandatory/allowed sequences and fields."""


class FieldFormatError(Iso15022Error):
    """A field whose content breaks its format (dates, amounts, codes, references, ...)."""


class NetworkRuleError(Iso15022Error):
    """Cross-field network rules (E83, E84, E92, ...)."""


class ModelError(Iso15022Error):
    """A message that is well formed but cannot become (or be built from) a typed model."""
