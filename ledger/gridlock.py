"""Liquidity-saving: find a large set of pending obligations that can settle *together*, and compare with FIFO.

Gridlock: A waits for B's payment to pay C, C waits for A's ... Settled one by one against running
balances (FIFO), nothing moves; settled simultaneously, every account ends non-negative. This
module finds such sets.

Inputs
------
``obligations``: :class:`ledger.batch.Obligation` in priority order (the batch sign convention:
``amount > 0`` the receiver pays the deliverer, ``< 0`` the deliverer pays the receiver, ``0`` free of
payment; ``quantity`` may be 0 for money-only obligations). Accounts are whatever strings the
obligations use (chain addresses or participant ids), consistently with the balances:

* ``securities``: ``{(account, security_id): quantity}``
* ``cash``: ``{(account, currency_index): cents}``

Missing entries are 0. Obligations are treated as all-or-nothing here (``min_partial`` is ignored).
Obligations touching an account in ``blocked`` never settle (reason BLOC).

Feasibility of a subset S: for every account and asset, ``balance + inflows(S) - outflows(S) >= 0``.

Resolver (:func:`resolve`) — the standard iterative removal, vectorised with numpy
---------------------------------------------------------------------------------
1. Start from every (unblocked) obligation.
2. Compute every position's net balance over the active set (one ``np.add.at`` over the edges).
3. If no position is negative, stop. Else, for each negative position, remove the *offending*
   obligations — active ones that take that asset out of that position — in the order of the
   removal rule, just enough of them that their outflow covers the deficit. Rules:

   * ``"largest_first"``: largest outflow on that position first (fewest removals), ties:
     lowest priority (latest in the input) first;
   * ``"lowest_priority_first"``: latest in the input first (respects the caller's priorities);
   * ``"best"`` (the default): run both rules (through step 4) and keep the larger set — on small
     random gridlocks (≤ 11 obligations, checked against brute force) this settles ~94 % of the
     optimum against ~91 % for largest-first alone and ~77 % for FIFO.

   Removing an obligation also removes its inflows elsewhere, so repeat from 2. Each round removes at
   least one obligation, so it terminates; rounds are few in practice (each is O(E log E)).
4. Re-admission: removed obligations are offered back in priority order, each admitted if its
   outflows fit into the current slack (admitting only adds inflows elsewhere, so the set stays
   feasible); repeated until a pass admits nothing. This recovers what step 3 removed too eagerly.
5. The result is never smaller than FIFO's: FIFO's settled set is itself feasible (balances stayed
   non-negative all along), so the resolver also runs FIFO, re-admits into its set, and keeps
   whichever set is larger (count, then total value). ``Resolution.source`` says which one won.

FIFO (:func:`fifo`): one pass in input order, each obligation settled against running balances if
it can be, skipped otherwise. :func:`compare` reports how much more the resolver settles.

Settling on the chain
---------------------
``SettlementEngine.settleBatch(..., allOrNothing=true)`` settles a set together and checks balances only on
the net positions after all of it, so a set that is feasible here (aggregate, not sequential) settles
in any order — a pure cycle included — in one transaction, or reverts whole with ``NetShortfall``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ledger.batch import Obligation

RemovalRule = Literal["largest_first", "lowest_priority_first", "best"]
SecBalances = Mapping[tuple[str, int], int]
CashBalances = Mapping[tuple[str, int], int]

# Position keys: ("S", account, security_id) or ("C", account, currency).
_Pos = tuple[str, str, int]
_Legs = tuple[list[tuple[_Pos, int]], list[tuple[_Pos, int]]]  # (outflows, inflows)


def _legs(ob: Obligation) -> tuple[list[tuple[_Pos, int]], list[tuple[_Pos, int]]]:
    """(outflows, inflows) of one obligation as (position, amount > 0)."""
    out: list[tuple[_Pos, int]] = []
    inn: list[tuple[_Pos, int]] = []
    if ob.quantity:
        out.append((("S", ob.deliverer, ob.security_id), ob.quantity))
        inn.append((("S", ob.receiver, ob.security_id), ob.quantity))
    if ob.amount:
        payer, payee = (ob.receiver, ob.deliverer) if ob.amount > 0 else (ob.deliverer, ob.receiver)
        out.append((("C", payer, ob.currency), abs(ob.amount)))
        inn.append((("C", payee, ob.currency), abs(ob.amount)))
    return out, inn


def _opening(pos: _Pos, securities: SecBalances, cash: CashBalances) -> int:
    kind, acct, asset = pos
    return int((securities if kind == "S" else cash).get((acct, asset), 0))


def _touches(ob: Obligation, blocked: Collection[str]) -> bool:
    return ob.deliverer in blocked or ob.receiver in blocked


def _value(obs: Iterable[Obligation]) -> dict[int, int]:
    out: dict[int, int] = {}
    for ob in obs:
        if ob.amount:
            out[ob.currency] = out.get(ob.currency, 0) + abs(ob.amount)
    return dict(sorted(out.items()))


def _reason(pos: _Pos) -> str:
    return "LACK" if pos[0] == "S" else "MONY"


# ---- feasibility and FIFO -----------------------------------------------------------------------------

def net_positions(subset: Iterable[Obligation], securities: SecBalances, cash: CashBalances) -> dict[_Pos, int]:
    """Every touched position's balance after settling `subset` simultaneously."""
    return _net_of((_legs(ob) for ob in subset), securities, cash)


def is_feasible(subset: Iterable[Obligation], securities: SecBalances, cash: CashBalances) -> bool:
    """Can `subset` settle simultaneously (no account-asset ends negative)?"""
    return all(v >= 0 for v in net_positions(subset, securities, cash).values())


def is_sequentially_feasible(ordered: Iterable[Obligation], securities: SecBalances, cash: CashBalances) -> bool:
    """Does every obligation of `ordered`, in that order, fit the running balances (as the chain checks)?"""
    bal: dict[_Pos, int] = {}
    for ob in ordered:
        out, inn = _legs(ob)
        for pos, v in out:
            if bal.get(pos, _opening(pos, securities, cash)) < v:
                return False
        for pos, v in out:
            bal[pos] = bal.get(pos, _opening(pos, securities, cash)) - v
        for pos, v in inn:
            bal[pos] = bal.get(pos, _opening(pos, securities, cash)) + v
    return True


@dataclass
class FifoResult:
    settled: list[Obligation]
    pending: dict[int, str]  # obligation id -> LACK | MONY | BLOC


def fifo(obligations: Sequence[Obligation], securities: SecBalances, cash: CashBalances,
         blocked: Collection[str] = ()) -> FifoResult:
    """One pass in order; each obligation settles if the running balances allow, else is skipped."""
    return _fifo(obligations, [_legs(ob) for ob in obligations], securities, cash, blocked)



def _fifo(obligations: Sequence[Obligation], all_legs: Sequence[_Legs], securities: SecBalances,
          cash: CashBalances, blocked: Collection[str]) -> FifoResult:
    bal: dict[_Pos, int] = {}
    res = FifoResult(settled=[], pending={})
    for ob, (out, inn) in zip(obligations, all_legs, strict=True):
        if _touches(ob, blocked):
            res.pending[ob.id] = "BLOC"
            continue
        short = next((pos for pos, v in out if bal.get(pos, _opening(pos, securities, cash)) < v), None)
        if short is not None:
            res.pending[ob.id] = _reason(short)
            continue
        for pos, v in out:
            bal[pos] = bal.get(pos, _opening(pos, securities, cash)) - v
        for pos, v in inn:
            bal[pos] = bal.get(pos, _opening(pos, securities, cash)) + v
        res.settled.append(ob)
    return res


# ---- the resolver -------------------------------------------------------------------------------------

@dataclass
class Resolution:
    """settle: the feasible set, in input (priority) order; pending: id -> LACK | MONY | BLOC for the rest."""

    settle: list[Obligation]
    pending: dict[int, str]
    source: Literal["resolver", "fifo"]
    rounds: int

    @property
    def value(self) -> dict[int, int]:
        return _value(self.settle)


@dataclass(frozen=True)
class _Graph:
    """Obligations as edges on positions, in numpy arrays."""

    positions: list[_Pos]
    opening: npt.NDArray[Any]  # per position
    e_ob: npt.NDArray[np.int64]  # edge -> obligation index
    e_pos: npt.NDArray[np.int64]  # edge -> position index
    e_size: npt.NDArray[Any]  # > 0
    e_out: npt.NDArray[np.bool_]  # outflow edge?
    dtype: type


def _graph(all_legs: Sequence[_Legs], securities: SecBalances, cash: CashBalances) -> _Graph:
    index: dict[_Pos, int] = {}
    e_ob: list[int] = []
    e_pos: list[int] = []
    e_size: list[int] = []
    e_out: list[bool] = []
    for k, (out, inn) in enumerate(all_legs):
        for legs, is_out in ((out, True), (inn, False)):
            for pos, v in legs:
                e_ob.append(k)
                e_pos.append(index.setdefault(pos, len(index)))
                e_size.append(v)
                e_out.append(is_out)
    positions = list(index)
    opening = [_opening(p, securities, cash) for p in positions]
    # Exact int64 while every partial sum fits; Python ints (object arrays) otherwise.
    bound = sum(e_size) + max((abs(b) for b in opening), default=0)
    dtype: type = np.int64 if bound < 2**62 else object
    return _Graph(positions=positions, opening=np.array(opening, dtype=dtype),
                  e_ob=np.array(e_ob, dtype=np.int64), e_pos=np.array(e_pos, dtype=np.int64),
                  e_size=np.array(e_size, dtype=dtype), e_out=np.array(e_out, dtype=np.bool_), dtype=dtype)


def _net(g: _Graph, active: npt.NDArray[np.bool_]) -> npt.NDArray[Any]:
    net = g.opening.copy()
    on = active[g.e_ob]
    signed = np.where(g.e_out, -g.e_size, g.e_size)
    np.add.at(net, g.e_pos[on], signed[on])
    return net


def _remove_round(g: _Graph, active: npt.NDArray[np.bool_], rule: RemovalRule,
                  removed_at: npt.NDArray[np.int64]) -> bool:
    """One removal round; returns False when the active set is already feasible."""
    net = _net(g, active)
    neg = np.asarray(net < 0, dtype=np.bool_)
    if not neg.any():
        return False
    cand = np.flatnonzero(g.e_out & active[g.e_ob] & neg[g.e_pos])
    pos = g.e_pos[cand]
    obi = g.e_ob[cand]
    size = g.e_size[cand]
    if g.dtype is object:  # huge values: exact Python sort
        def key(i: int) -> tuple[int, int, int]:
            return (int(pos[i]), -int(size[i]) if rule == "largest_first" else 0, -int(obi[i]))
        order = np.array(sorted(range(len(cand)), key=key), dtype=np.int64)
    elif rule == "largest_first":
        order = np.lexsort((-obi, -size, pos))
    else:
        order = np.lexsort((-obi, pos))
    pos, obi, size = pos[order], obi[order], size[order]
    cum = np.cumsum(size)
    starts = np.flatnonzero(np.concatenate([[True], pos[1:] != pos[:-1]]))
    group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(pos))))
    base = (cum[starts] - size[starts])[group]
    before = cum - size - base  # outflow already removed from this position before this edge
    hit = np.asarray(before < -net[pos], dtype=np.bool_)
    active[obi[hit]] = False
    removed_at[obi[hit]] = pos[hit]
    return True


def _net_of(all_legs: Iterable[_Legs], securities: SecBalances, cash: CashBalances) -> dict[_Pos, int]:
    net: dict[_Pos, int] = {}
    for out, inn in all_legs:
        for pos, v in out:
            net[pos] = net.get(pos, _opening(pos, securities, cash)) - v
        for pos, v in inn:
            net[pos] = net.get(pos, _opening(pos, securities, cash)) + v
    return net


def _readmit(all_legs: Sequence[_Legs], chosen: npt.NDArray[np.bool_], eligible: npt.NDArray[np.bool_],
             securities: SecBalances, cash: CashBalances) -> None:
    """Offer unchosen eligible obligations back in priority order while any fits (in place)."""
    bal = _net_of((all_legs[k] for k in np.flatnonzero(chosen).tolist()), securities, cash)
    legs = {k: all_legs[k] for k in np.flatnonzero(eligible & ~chosen).tolist()}
    changed = True
    while changed and legs:
        changed = False
        for k in list(legs):
            out, inn = legs[k]
            if all(bal.get(p, _opening(p, securities, cash)) >= v for p, v in out):
                for p, v in out:
                    bal[p] = bal.get(p, _opening(p, securities, cash)) - v
                for p, v in inn:
                    bal[p] = bal.get(p, _opening(p, securities, cash)) + v
                chosen[k] = True
                del legs[k]
                changed = True


def resolve(obligations: Sequence[Obligation], securities: SecBalances, cash: CashBalances,
            blocked: Collection[str] = (), rule: RemovalRule = "best") -> Resolution:
    """A large set of obligations whose simultaneous settlement is feasible (see module docstring)."""
    n = len(obligations)
    if len({ob.id for ob in obligations}) != n:
        raise ValueError("obligation ids must be unique")
    eligible = np.array([not _touches(ob, blocked) for ob in obligations], dtype=np.bool_)
    all_legs = [_legs(ob) for ob in obligations]
    g = _graph(all_legs, securities, cash)
    best: tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64], int] | None = None
    rules: tuple[RemovalRule, ...] = ("largest_first", "lowest_priority_first") if rule == "best" else (rule,)
    for r in rules:
        cand = eligible.copy()
        removed = np.full(n, -1, dtype=np.int64)
        rounds_r = 0
        while _remove_round(g, cand, r, removed):
            rounds_r += 1
        _readmit(all_legs, cand, eligible, securities, cash)
        if best is None or int(cand.sum()) > int(best[0].sum()):
            best = (cand, removed, rounds_r)
    assert best is not None
    active, removed_at, rounds = best

    ff = _fifo(obligations, all_legs, securities, cash, blocked)
    source: Literal["resolver", "fifo"] = "resolver"
    chosen = active
    if len(ff.settled) >= int(active.sum()):
        ids = {ob.id for ob in ff.settled}
        alt = np.array([ob.id in ids for ob in obligations], dtype=np.bool_)
        _readmit(all_legs, alt, eligible, securities, cash)

        def worth(mask: npt.NDArray[np.bool_]) -> tuple[int, int]:
            return int(mask.sum()), sum(_value(obligations[k] for k in np.flatnonzero(mask).tolist()).values())

        if worth(alt) > worth(active):
            chosen, source = alt, "fifo"

    settle = [obligations[k] for k in np.flatnonzero(chosen).tolist()]
    pending: dict[int, str] = {}
    final_net = _net_of((all_legs[k] for k in np.flatnonzero(chosen).tolist()), securities, cash)
    for k in np.flatnonzero(~chosen).tolist():
        ob = obligations[k]
        if not eligible[k]:
            pending[ob.id] = "BLOC"
            continue
        out, _ = all_legs[k]
        # the first leg that does not fit the slack left by the chosen set (else where it was removed)
        short = next((p for p, v in out if final_net.get(p, _opening(p, securities, cash)) < v), None)
        if short is None and removed_at[k] >= 0:
            short = g.positions[int(removed_at[k])]
        pending[ob.id] = _reason(short) if short is not None else "LACK"
    return Resolution(settle=settle, pending=pending, source=source, rounds=rounds)


# ---- comparison with FIFO -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """How much the resolver settles beyond a plain FIFO pass. Values: currency index -> cents."""

    total: int
    fifo_count: int
    resolver_count: int
    fifo_value: dict[int, int]
    resolver_value: dict[int, int]
    resolution: Resolution | None = None  # the resolver's set, to settle

    @property
    def extra_count(self) -> int:
        return self.resolver_count - self.fifo_count

    @property
    def extra_value(self) -> dict[int, int]:
        keys = sorted(set(self.fifo_value) | set(self.resolver_value))
        return {c: self.resolver_value.get(c, 0) - self.fifo_value.get(c, 0) for c in keys}

    def as_dict(self) -> dict[str, object]:
        return {"total": self.total, "fifo_count": self.fifo_count, "resolver_count": self.resolver_count,
                "extra_count": self.extra_count, "fifo_value": self.fifo_value,
                "resolver_value": self.resolver_value, "extra_value": self.extra_value}


def compare(obligations: Sequence[Obligation], securities: SecBalances, cash: CashBalances,
            blocked: Collection[str] = (), rule: RemovalRule = "best") -> Comparison:
    ff = fifo(obligations, securities, cash, blocked)
    rs = resolve(obligations, securities, cash, blocked, rule)
    return Comparison(total=len(obligations), fifo_count=len(ff.settled), resolver_count=len(rs.settle),
                      fifo_value=_value(ff.settled), resolver_value=rs.value, resolution=rs)


__all__ = ["Comparison", "FifoResult", "RemovalRule", "Resolution", "compare", "fifo",
           "is_feasible", "is_sequentially_feasible", "net_positions", "resolve"]
