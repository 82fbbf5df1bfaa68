"""Exceptions raised by the risk engine.

Every error names the offending item (file, row, column, instrument or key) so
that a participant can fix its input; the engine never substitutes a silent zero.
"""

from __future__ import annotations


class RiskInputError(ValueError):
    """Base class for bad input to the risk engine."""


class RPFFormatError(RiskInputError):
    """A risk parameter file (RPF01) is malformed.

    Parameters
    ----------
    message : str
        What was wrong.
    row : int or None
        1-based line number in the file, if known.
    column : int or None
        1-based column number in the file, if known.
    expected : str
        What the parser expected to find there.
    source : str
        File name (or ``"<string>"``).
    """

    def __init__(
        self,
        message: str,
        *,
        row: int | None = None,
        column: int | None = None,
        expected: str = "",
        source: str = "<string>",
    ) -> None:
        self.row = row
        self.column = column
        self.expected = expected
        self.source = source
        self.reason = message
        where = source
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column}"
        text = f"{where}: {message}"
        if expected:
            text += f" (expected {expected})"
        super().__init__(text)


class PositionFileError(RPFFormatError):
    """A positions CSV is malformed (same location fields as :class:`RPFFormatError`)."""


class PositionError(RiskInputError):
    """A position cannot be margined (unknown instrument, non-finite value, ...).

    Parameters
    ----------
    message : str
        What was wrong, naming the item.
    instrument : str or None
        The offending instrument, so callers can point at its row in their input.
    """

    def __init__(self, message: str, *, instrument: str | None = None) -> None:
        self.instrument = instrument
        super().__init__(message)


class CPParameterError(RiskInputError):
    """Clearing-participant parameters are missing, unknown or invalid."""
