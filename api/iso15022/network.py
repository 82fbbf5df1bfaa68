"""Network-validated rules per message type, as data.  `validate._network_rules` applies them.

Each table says which MTs a cross-field rule binds and what it requires; the rule's code is
SWIFT's where the handbook names one (E83, E84, E92) and ours otherwise (L07, L13, L14).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NeedsAmount:
    """E92/E83-style: in `mts`, an amount `qualifier` must appear in sequence `seq`."""

    code: str
    qualifier: str
    seq: str  # where the 19A must be ("AMT" = SETDET/AMT)
    why: str  # the condition, for the message


# SETDET must hold SETPRTY occurrences with these parties (place of settlement and the
# counterparty's agent: the deliverer for a receipt, the receiver for a delivery).
REQUIRED_PARTIES: dict[str, tuple[str, ...]] = {
    **{mt: ("PSET", "DEAG") for mt in ("540", "541", "544", "545")},
    **{mt: ("PSET", "REAG") for mt in ("542", "543", "546", "547")},
}

# Against-payment messages must carry the (effective) settlement amount.
REQUIRED_AMOUNTS: dict[str, tuple[NeedsAmount, ...]] = {
    **{mt: (NeedsAmount("E92", "SETT", "AMT", f"MT{mt} against payment"),) for mt in ("541", "543")},
    **{mt: (NeedsAmount("E92", "ESTT", "AMT", f"MT{mt} against payment"),) for mt in ("545", "547")},
}

# MT548: with 22H::PAYM//APMT the settlement amount must be given in SETTRAN.
PAYMENT_AMOUNT: dict[str, NeedsAmount] = {"548": NeedsAmount("E83", "SETT", "SETTRAN", "PAYM//APMT")}

# A cancellation (23G:CANC) must name the message it cancels in a LINK 20C::PREV.
CANCEL_NEEDS_PREVIOUS = frozenset({"540", "541", "542", "543"})

# MT548: a 24B reason's qualifier repeats the status code of its STAT (REAS under STAT).
REASON_REPEATS_STATUS = frozenset({"548"})

# Party qualifiers that may appear once only among one sequence's party subsequences (E84).
UNIQUE_PARTY_EXEMPT = frozenset({"ALTE"})
