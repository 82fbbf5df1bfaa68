"""FIN envelope and text-block codec: text <-> `Message` tree, and splitting files of messages.

Parsing is strict about structure (blocks, their order, field tags, 16R/16S nesting) and lenient
about field content: a field with a bad date still lands in the tree so `validate` can report
every problem at once.  Anything wrong raises an `Iso15022Error` subclass, never anything else.
"""

from __future__ import annotations

import re

from .errors import EnvelopeError, Iso15022Error, StructureError
from .message import AppHeader, BasicHeader, Field, Message, Sequence

_BLOCK1 = re.compile(r"([FAL])(01|21)([A-Z0-9]{12})(\d{4})(\d{6})\Z")
_BLOCK2_IN = re.compile(r"I(\d{3})([A-Z0-9]{12})([NUS]?)\Z")
# Output: input time, MIR (date, LT, session, sequence), output date and time, priority.
_BLOCK2_OUT = re.compile(r"O(\d{3})(\d{4}\d{6}[A-Z0-9]{12}\d{4}\d{6}\d{6}\d{4}[NUS]?)\Z")
_SUBBLOCK = re.compile(r"\{([A-Z0-9]{3}):([^{}]*)\}")
_MESSAGE_START = re.compile(r"\{1:")
_DOLLAR_LINE = re.compile(r"(?m)^[ \t]*\$[ \t]*$")
_WS = " \t\n"


def _line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _subblocks(body: str, block: str, line: int) -> list[tuple[str, str]]:
    """Blocks 3 and 5 are a run of `{tag:value}`; anything else is malformed."""
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(body):
        m = _SUBBLOCK.match(body, pos)
        if m is None:
            raise EnvelopeError("L01", f"block {block} must be a run of {{tag:value}}", f"{{{block}:}}", line)
        out.append((m.group(1), m.group(2)))
        pos = m.end()
    return out


def _split_blocks(text: str) -> dict[str, tuple[str, int]]:
    """Find blocks 1-5 in order; returns block number -> (body, line of the block start)."""
    blocks: dict[str, tuple[str, int]] = {}
    n = len(text)
    pos = 0
    last = "0"
    while True:
        while pos < n and text[pos] in _WS:
            pos += 1
        if pos >= n:
            break
        line = _line_at(text, pos)
        if text[pos] != "{" or pos + 2 >= n or text[pos + 2] != ":" or text[pos + 1] not in "12345S":
            raise EnvelopeError("L02", "expected a block {1: to {5: (or a trailing {S:)", "", line)
        num = text[pos + 1]
        if num <= last:
            raise EnvelopeError("L02", f"block {num} out of order (after block {last})", f"{{{num}:}}", line)
        body_start = pos + 3
        if num == "4":
            end = text.find("\n-}", body_start - 1)
            if end < 0:
                raise EnvelopeError("L03", "text block not terminated by CRLF-}", "{4:", line)
            blocks[num] = (text[body_start : end + 1], line)
            pos = end + 3
        else:
            # Blocks 3, 5 and S nest one level of braces; 1 and 2 none.
            depth = 1
            i = body_start
            while i < n and depth:
                c = text[i]
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                elif c == "\n":
                    break
                i += 1
            if depth:
                raise EnvelopeError("L03", f"block {num} not closed", f"{{{num}:}}", line)
            blocks[num] = (text[body_start : i - 1], line)
            pos = i
        last = num
    for required in ("1", "2", "4"):
        if required not in blocks:
            raise EnvelopeError("L02", f"block {required} missing", f"{{{required}:}}", _line_at(text, n))
    return blocks


# Every syntactically valid tag ("20", "20C"): a set probe instead of a regex per field.
_TAGS = frozenset(f"{n:02d}{o}" for n in range(100) for o in ["", *"ABCDEFGHIJKLMNOPQRSTUVWXYZ"])


def _parse_text(body: str, first_line: int) -> Sequence:
    """Text block body as found by the block scanner: LF, the field lines, LF (or just LF)."""
    if body == "\n":
        return Sequence(name="", line=first_line)
    if body[:1] != "\n" or body[-1:] != "\n":
        raise StructureError("L10", "text block must start and end with CRLF", "{4:", first_line)
    root = _parse_fields(body[1:-1], first_line, fast=False)
    assert root is not None  # fast=False raises instead of returning None
    return root


def _parse_fields(lines: str, first_line: int, fast: bool) -> Sequence | None:
    """The field lines of a text block (no leading/trailing LF) as a tree of sequences.

    Splitting on LF-colon finds every field start in C; a piece whose tag is malformed is an
    error, which also catches continuation lines starting with `:` (not allowed in FIN).  With
    `fast`, any problem returns None (the caller then takes the diagnostic path); otherwise it
    raises the precise error.  This is the codec's hot loop."""
    root = Sequence(name="", line=first_line)
    line = first_line + 1
    if lines[:1] != ":":
        if fast:
            return None
        raise StructureError("L10", "line is not a field and continues none", lines[:16], line)
    stack: list[Sequence] = [root]
    items = root.items
    tags = _TAGS
    new = object.__new__
    for piece in lines[1:].split("\n:"):
        tag, sep, value = piece.partition(":")
        if not sep or tag not in tags:
            if fast:
                return None
            raise StructureError("L10", "malformed field tag", ":" + piece[:5], line)
        if tag == "16R":
            if "\n" in value:
                if fast:
                    return None
                raise StructureError("L10", "16R is one line", ":16R:", line)
            seq = new(Sequence)  # Sequence(value, [], line), without the __init__ call
            seq.name = value
            seq.items = []
            seq.line = line
            seq.end_line = 0
            items.append(seq)
            stack.append(seq)
            items = seq.items
            line += 1
            continue
        if tag == "16S":
            if len(stack) == 1 or stack[-1].name != value:
                if fast:
                    return None
                expected = stack[-1].name if len(stack) > 1 else "none open"
                raise StructureError("L05", f"16S:{value} does not close {expected}", ":16S:", line)
            stack[-1].end_line = line
            stack.pop()
            items = stack[-1].items
            line += 1
            continue
        # Field.parsed inlined (this loop runs for every field of every message).
        f = new(Field)
        f.tag = tag
        f.value = value
        f.line = line
        f.raw = piece
        f._generic = None
        items.append(f)
        if "\n" in value:
            line += value.count("\n")
        line += 1
    if len(stack) > 1:
        if fast:
            return None
        raise StructureError("L05", f"sequence {stack[-1].name} not closed", ":16R:", stack[-1].line)
    return root


def parse(text: str) -> Message:
    """Parse one FIN message.  Accepts CRLF or bare LF and blank lines between blocks.

    Raises an `Iso15022Error` subclass on a structural problem; never anything else.
    """
    if not isinstance(text, str):
        raise EnvelopeError("L01", "message must be text", "", 0)
    try:
        return _parse(text.replace("\r\n", "\n"))
    except Iso15022Error:
        raise
    except Exception as exc:  # defensive: a codec bug must still surface as our error type
        raise EnvelopeError("L01", f"unparseable message ({type(exc).__name__})", "", 0) from exc


# Fast path for the common case: an input message, blocks back to back.  Header fields come out
# of one regex; the text block's fields out of one `finditer` whose groups are the field's parts.
# Anything unusual returns None and the general path below parses it (or says what is wrong).
_HEAD = re.compile(
    r"\{1:F01([A-Z0-9]{12})(\d{4})(\d{6})\}\{2:I(\d{3})([A-Z0-9]{12})([NUS]?)\}"
    r"(?:\{3:((?:\{[A-Z0-9]{3}:[^{}\n]*\})*)\})?\{4:\n"
)
_TAIL = re.compile(
    r"(?:\{5:((?:\{[A-Z0-9]{3}:[^{}\n]*\})*)\})?(?:\{S:((?:\{[A-Z0-9]{3}:[^{}\n]*\})*)\})?\n*\Z"
)


def _parse_fast(text: str) -> Message | None:
    head = _HEAD.match(text)
    if head is None:
        return None
    end = text.rfind("\n-}")
    start = head.end()
    if end < start - 1:
        return None
    tail = _TAIL.match(text, end + 3)
    if tail is None:
        return None
    lt, session, seq, mt, receiver, prio, b3 = head.groups()
    body = text[start:end]  # field lines without the surrounding LFs
    if body[:2] == "-}" or "\n-}" in body:
        return None  # an earlier end of text block: let the general path report it
    root = _parse_fields(body, 1, fast=True) if body else Sequence(name="", line=1)
    if root is None:
        return None
    user = _subblocks(b3, "3", 1) if b3 else []
    b5 = tail.group(1)
    trailer = _subblocks(b5, "5", body.count("\n") + 3) if b5 else []
    bs = tail.group(2)
    system = _subblocks(bs, "S", body.count("\n") + 3) if bs else []
    return Message(
        basic=BasicHeader(lt, session, seq),
        app=AppHeader("I", mt, receiver, prio),
        text=root,
        user=user,
        trailer=trailer,
        system=system,
        source=body,
    )


def _parse(text: str) -> Message:
    fast = _parse_fast(text)
    if fast is not None:
        return fast
    blocks = _split_blocks(text)
    b1, l1 = blocks["1"]
    m1 = _BLOCK1.match(b1)
    if m1 is None:
        raise EnvelopeError("L01", "basic header must be F01 + 12-char LT + 4-digit session + 6-digit sequence", "{1:", l1)
    basic = BasicHeader(m1.group(3), m1.group(4), m1.group(5), m1.group(1), m1.group(2))
    b2, l2 = blocks["2"]
    m2 = _BLOCK2_IN.match(b2)
    if m2 is not None:
        app = AppHeader("I", m2.group(1), m2.group(2), m2.group(3))
    else:
        m2 = _BLOCK2_OUT.match(b2)
        if m2 is None:
            raise EnvelopeError("L01", "application header must be I<MT><12-char receiver>[N|U|S] or O<MT>...", "{2:", l2)
        app = AppHeader("O", m2.group(1), output_rest=m2.group(2))
    user: list[tuple[str, str]] = []
    if "3" in blocks:
        b3, l3 = blocks["3"]
        user = _subblocks(b3, "3", l3)
    trailer: list[tuple[str, str]] = []
    if "5" in blocks:
        b5, l5 = blocks["5"]
        trailer = _subblocks(b5, "5", l5)
    system: list[tuple[str, str]] = []
    if "S" in blocks:
        bs, ls = blocks["S"]
        system = _subblocks(bs, "S", ls)
    b4, l4 = blocks["4"]
    root = _parse_text(b4, l4)
    return Message(basic=basic, app=app, text=root, user=user, trailer=trailer, system=system, source=b4)


def _render_items(items: list[Field | Sequence], out: list[str]) -> None:
    for item in items:
        if isinstance(item, Field):
            value = item.value
            if "\n" in value:
                value = value.replace("\n", "\r\n")
            out.append(f":{item.tag}:{value}\r\n")
        else:
            out.append(f":16R:{item.name}\r\n")
            _render_items(item.items, out)
            out.append(f":16S:{item.name}\r\n")


def build(message: Message) -> str:
    """Render a Message as FIN text with CRLF line ends (blocks back to back)."""
    out = [message.basic.render(), message.app.render()]
    if message.user:
        out.append("{3:" + "".join(f"{{{t}:{v}}}" for t, v in message.user) + "}")
    out.append("{4:\r\n")
    _render_items(message.text.items, out)
    out.append("-}")
    if message.trailer:
        out.append("{5:" + "".join(f"{{{t}:{v}}}" for t, v in message.trailer) + "}")
    if message.system:
        out.append("{S:" + "".join(f"{{{t}:{v}}}" for t, v in message.system) + "}")
    return "".join(out)


def split_messages(text: str) -> list[tuple[int, str]]:
    """Split a file into messages: each is `{1:...}` up to the next `{1:`.  Messages may sit back
    to back, on their own lines, separated by blank lines or by a line holding only `$`.
    Returns (number of lines before the message in the file, message text) pairs; stray text
    before the first `{1:` comes back as its own (invalid) message so it is reported, not lost."""
    text = text.replace("\r\n", "\n")
    text = _DOLLAR_LINE.sub("", text)
    starts = [m.start() for m in _MESSAGE_START.finditer(text)]
    out: list[tuple[int, str]] = []
    if not starts or text[: starts[0]].strip():
        first = starts[0] if starts else len(text)
        chunk = text[:first]
        lead = len(chunk) - len(chunk.lstrip())
        if chunk.strip():
            out.append((text.count("\n", 0, lead), chunk[lead:].rstrip()))
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        out.append((text.count("\n", 0, start), text[start:end].rstrip(" \t\n") ))
    return out
