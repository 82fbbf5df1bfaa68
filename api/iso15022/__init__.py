"""ISO 15022 (SWIFT FIN, Category 5) codec and validator for the CCASS-style gateway.

    parse(text) -> Message          envelope + text block as a tree of 16R/16S sequences
    build(message) -> str           FIN text with CRLF; build(parse(m)) == m for CRLF messages
    validate(text) -> [errors]      every problem, each with SWIFT code, field and line; [] = valid
    decode(message) -> model        typed model (SettlementInstruction, StatusAdvice, ...)
    read(text) -> model             parse + validate + decode (raises InvalidMessage)
    build_model(model) -> str       typed model -> FIN text (build_548, build_535, ... aliases)
    split_messages(text)            a file of messages -> [(line offset, message)]

Everything raised is an `Iso15022Error` (code, field, line, message).  Framing of a file with
several messages: each starts at `{1:`; messages may be back to back, on separate lines,
separated by blank lines or by a line holding only `$`.

Our choices where the handbook leaves room (documented here so the gateway and mapper agree):
- MT530: REQD carries `22F::HOLD//YHLD` (hold) or `//NHLD` (release) and/or
  `22F::PRSS//PART|NPAR` (partial settlement), with LINK `20C::RELA` = the instruction's SEME.
- MT540-543: partial settlement allowed/not as `22F::STCO//PART|NPAR`; payment is implied by the
  MT (541/543 APMT, 540/542 FREE); counterparty is DEAG (receive) or REAG (deliver).
- Outbound messages are built with an input application header `{2:I<MT><receiver>N}`.
- Codes beginning with L are ours (see errors.CODES); the rest are SWIFT's.
"""

from __future__ import annotations

from .builders import (
    build_535,
    build_536,
    build_544_547,
    build_548,
    build_model,
    confirmation_for,
    narrative_lines,
    status_advice,
    to_message,
)
from .codec import build, parse, split_messages
from .decode import InvalidMessage, decode, read
from .errors import (
    CODES,
    EnvelopeError,
    FieldFormatError,
    Iso15022Error,
    ModelError,
    NetworkRuleError,
    StructureError,
)
from .message import AppHeader, BasicHeader, Field, Message, Sequence
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
from .validate import MAX_MESSAGE_CHARS, validate, validate_message

__all__ = [
    "AppHeader", "BasicHeader", "CODES", "Envelope", "EnvelopeError", "Field", "FieldFormatError",
    "Holding", "HoldingsStatement", "InvalidMessage", "Iso15022Error", "MAX_MESSAGE_CHARS",
    "Message", "Model", "ModelError", "NetworkRuleError", "Party", "ProcessingCommand",
    "ProcessingRequest", "SecurityId", "Sequence", "SettlementConfirmation",
    "SettlementInstruction", "StatementSecurity", "StatementTransaction", "Status",
    "StatusAdvice", "StatusReason", "StructureError", "TransactionDetails",
    "TransactionStatement", "build", "build_535", "build_536", "build_544_547", "build_548",
    "build_model", "confirmation_for", "decode", "narrative_lines", "parse", "read", "split_messages",
    "status_advice", "to_message", "validate", "validate_message",
]
