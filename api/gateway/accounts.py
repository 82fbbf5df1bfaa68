"""Safekeeping accounts (`97A::SAFE`) and whose they are.

Our rule (README, "ISO 15022 gateway"): a participant's safekeeping account is its participant id
(`B01234`), optionally followed by a hyphen and a sub-account suffix of 1-6 letters or digits
(`B01234-01`, `B01234-001`, `B01234-CLIENT`).  Every account of a participant maps to the
participant's one position on the chain; the suffix is carried through to statements and
confirmations as the participant wrote it, so a back office can keep its own sub-ledgers.
"""

from __future__ import annotations

import re

_ACCOUNT = re.compile(r"^([A-Z][0-9]{5})(?:-([A-Z0-9]{1,6}))?$")


def account_owner(account: str) -> str | None:
    """The participant id an account belongs to by its form, or None if it is not of our form."""
    m = _ACCOUNT.match(account)
    return m.group(1) if m else None


def default_account(participant: str) -> str:
    return participant


__all__ = ["account_owner", "default_account"]
