"""Reconcile the service's view of a participant's balances with the chain itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.onchain import OnChainLedger


@dataclass
class Reconciliation:
    participant_id: str
    checked: int = 0
    differences: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def reconcile(service_balances: dict[str, Any], onchain: OnChainLedger, token_ids: dict[str, int]) -> Reconciliation:
    """Compare every cash and security balance the service reported with the chain at the same address.

    token_ids: security code -> token id, for the codes to check (securities the service did not list are
    checked as zero on the service side).
    """
    addr = str(service_balances["address"])
    rec = Reconciliation(str(service_balances["participant_id"]))
    for c in service_balances["cash"]:
        chain = onchain.cash_balance(addr, c["currency"])
        rec.checked += 1
        if chain != int(c["cents"]):
            rec.differences.append({"asset": f"cash:{c['currency']}", "service": int(c["cents"]), "chain": chain})
    reported = {s["security_code"]: int(s["quantity"]) for s in service_balances["securities"]["items"]}
    codes = sorted(set(token_ids) | set(reported))
    known = [c for c in codes if c in token_ids]
    chain_q = dict(zip(known, onchain.security_balances([(addr, token_ids[c]) for c in known]), strict=True)) \
        if known else {}
    for code in codes:
        rec.checked += 1
        ours, theirs = reported.get(code, 0), chain_q.get(code)
        if theirs is None or ours != theirs:
            rec.differences.append({"asset": f"security:{code}", "service": ours, "chain": theirs})
    return rec
