"""Gridlock resolution: feasibility, the classic cycle, the FIFO comparison, and settling on the chain."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.batch import Obligation
from ledger.gridlock import (
    compare, fifo, is_feasible, is_sequentially_feasible, net_positions, resolve,
)

HKD, USD = 0, 2


def ob(i: int, d: str, r: str, sec: int, qty: int, amount: int, cur: int = HKD) -> Obligation:
    return Obligation(id=i, deliverer=d, receiver=r, security_id=sec, quantity=qty, currency=cur, amount=amount)


def cycle() -> tuple[list[Obligation], dict[tuple[str, int], int], dict[tuple[str, int], int]]:
    """A delivers S1 to B, B delivers S2 to C, C delivers S3 to A, each against 100.00; nobody has cash.

    B can pay A only with C's payment, C can pay B only with A's, A can pay C only with B's.
    """
    obs = [ob(1, "A", "B", 1, 100, 10_000), ob(2, "B", "C", 2, 100, 10_000), ob(3, "C", "A", 3, 100, 10_000)]
    sec = {("A", 1): 100, ("B", 2): 100, ("C", 3): 100}
    return obs, sec, {}


# ---- the classic case ----------------------------------------------------------------------------------

def test_cycle_fifo_settles_nothing_resolver_everything() -> None:
    obs, sec, cash = cycle()
    ff = fifo(obs, sec, cash)
    assert ff.settled == [] and ff.pending == {1: "MONY", 2: "MONY", 3: "MONY"}
    res = resolve(obs, sec, cash)
    assert res.settle == obs and res.pending == {} and res.source == "resolver"
    assert is_feasible(res.settle, sec, cash)
    cmp = compare(obs, sec, cash)
    assert (cmp.fifo_count, cmp.resolver_count, cmp.extra_count) == (0, 3, 3)
    assert cmp.extra_value == {HKD: 30_000}


def test_chain_order_for_a_chain_in_reverse_order() -> None:
    # o3 needs o2's delivery, which needs o1's: FIFO in this order settles only o1; the resolver all.
    obs = [ob(3, "C", "D", 1, 100, 0), ob(2, "B", "C", 1, 100, 0), ob(1, "A", "B", 1, 100, 0)]
    sec = {("A", 1): 100}
    assert [o.id for o in fifo(obs, sec, {}).settled] == [1]
    res = resolve(obs, sec, {})
    assert len(res.settle) == 3
    assert is_feasible(res.settle, sec, {}) and not is_sequentially_feasible(res.settle, sec, {})


# ---- removal rules and reasons ------------------------------------------------------------------------

def test_largest_first_removes_the_big_outflow() -> None:
    # A holds 100 cash and owes 3 payments: 90, 30, 20. Largest first drops the 90 and keeps two.
    obs = [ob(1, "X", "A", 1, 1, 9_000), ob(2, "Y", "A", 2, 1, 3_000), ob(3, "Z", "A", 3, 1, 2_000)]
    sec = {("X", 1): 1, ("Y", 2): 1, ("Z", 3): 1}
    cash = {("A", HKD): 10_000}
    res = resolve(obs, sec, cash, rule="largest_first")
    assert [o.id for o in res.settle] == [2, 3] and res.pending == {1: "MONY"}
    low = resolve(obs, sec, cash, rule="lowest_priority_first")
    # lowest priority first drops 3 (then 2) until the deficit of 40 is covered; 1 stays
    assert [o.id for o in low.settle] == [1] and low.pending == {2: "MONY", 3: "MONY"}


def test_blocked_accounts_never_settle() -> None:
    obs, sec, cash = cycle()
    res = resolve(obs, sec, cash, blocked={"C"})
    assert res.pending[2] == "BLOC" and res.pending[3] == "BLOC"
    assert res.settle == []  # without C the cycle is broken: B cannot pay A
    assert res.pending[1] == "MONY"


def test_negative_amount_and_money_only_obligations() -> None:
    # deliverer pays receiver (amount < 0) and a money-only leg: cash flows follow the sign convention
    obs = [ob(1, "A", "B", 1, 10, -500), ob(2, "B", "A", 1, 0, 700)]
    sec = {("A", 1): 10}
    res = resolve(obs, sec, {("A", HKD): 0})
    # ob1: A delivers 10 and pays 5.00; ob2: A (receiver) pays B 7.00 — A has no cash at all
    assert res.settle == []
    res = resolve(obs, sec, {("A", HKD): 1_200})
    assert res.settle == obs
    assert net_positions(obs, sec, {("A", HKD): 1_200})[("C", "A", HKD)] == 0


def test_duplicate_ids_rejected() -> None:
    with pytest.raises(ValueError):
        resolve([ob(1, "A", "B", 1, 1, 0), ob(1, "B", "A", 1, 1, 0)], {}, {})


def test_huge_values_use_exact_integers() -> None:
    big = 2**100
    obs = [ob(1, "A", "B", 1, big, big), ob(2, "B", "A", 2, big, big)]
    sec = {("A", 1): big, ("B", 2): big}
    res = resolve(obs, sec, {})
    assert res.settle == obs  # each pays with the other's payment
    assert resolve(obs, sec, {}, rule="lowest_priority_first").settle == obs


# ---- property: always feasible, never worse than FIFO ----------------------------------------------------

ACCOUNTS = ["A", "B", "C", "D", "E"]


@st.composite
def markets(draw: st.DrawFn) -> tuple[list[Obligation], dict[tuple[str, int], int], dict[tuple[str, int], int]]:
    n = draw(st.integers(0, 25))
    obs: list[Obligation] = []
    for i in range(n):
        d, r = draw(st.lists(st.sampled_from(ACCOUNTS), min_size=2, max_size=2, unique=True))
        sec = draw(st.integers(1, 3))
        qty = draw(st.integers(0, 50))
        amount = draw(st.integers(-3_000, 3_000))
        if qty == 0 and amount == 0:
            qty = 1
        obs.append(ob(i + 1, d, r, sec, qty, amount, draw(st.sampled_from([HKD, USD]))))
    sec_bal = {(a, s): draw(st.integers(0, 60)) for a in ACCOUNTS for s in (1, 2, 3)}
    cash_bal = {(a, c): draw(st.integers(0, 4_000)) for a in ACCOUNTS for c in (HKD, USD)}
    return obs, sec_bal, cash_bal


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets(), st.sampled_from(["largest_first", "lowest_priority_first", "best"]))
def test_resolver_is_feasible_and_never_smaller_than_fifo(
        m: tuple[list[Obligation], dict[tuple[str, int], int], dict[tuple[str, int], int]], rule: str) -> None:
    obs, sec, cash = m
    res = resolve(obs, sec, cash, rule=rule)  # type: ignore[arg-type]
    assert is_feasible(res.settle, sec, cash)
    assert len(res.settle) >= len(fifo(obs, sec, cash).settled)
    assert {o.id for o in res.settle} | set(res.pending) == {o.id for o in obs}
    assert not {o.id for o in res.settle} & set(res.pending)



def test_resolver_beats_fifo_on_random_gridlocked_days() -> None:
    rng = random.Random(3)
    extra = 0
    for _ in range(20):
        accts = [f"P{i}" for i in range(30)]
        obs = []
        for i in range(300):
            d, r = rng.sample(accts, 2)
            obs.append(ob(i + 1, d, r, rng.randint(1, 10), rng.randint(1, 10) * 100, rng.randint(1, 500) * 100))
        sec = {(a, s): rng.randint(0, 3) * 100 for a in accts for s in range(1, 11)}
        cash = {(a, HKD): rng.randint(0, 300) * 100 for a in accts}
        c = compare(obs, sec, cash)
        assert c.resolver_count >= c.fifo_count
        extra += c.extra_count
    assert extra > 0


@pytest.mark.slow
def test_resolver_scales_to_a_hundred_thousand_obligations() -> None:
    import time
    rng = random.Random(5)
    accts = [f"P{i}" for i in range(400)]
    obs = []
    for i in range(100_000):
        d, r = rng.sample(accts, 2)
        obs.append(ob(i + 1, d, r, rng.randint(1, 2_000), rng.randint(1, 10) * 100, rng.randint(1, 10_000) * 100))
    sec = {(o.deliverer, o.security_id): o.quantity * rng.randint(0, 1) for o in obs}
    cash = {(a, HKD): rng.randint(0, 50_000_000) for a in accts}
    t0 = time.perf_counter()
    res = resolve(obs, sec, cash)
    assert time.perf_counter() - t0 < 60
    assert is_feasible(res.settle, sec, cash)


# ---- on the embedded chain -------------------------------------------------------------------------------

def test_cycle_on_the_embedded_chain() -> None:
    """FIFO batch settles nothing; the resolver's set (bridged by the bank) settles all in one atomic batch."""
    from ledger.chain import Chain
    from ledger.market_setup import participant_address
    from ledger.deployment import deploy
    from ledger.errors import ChainError
    from ledger.onchain import Kind, OnChainLedger

    chain = Chain.connect()
    dep = deploy(chain)
    led = OnChainLedger(dep)
    addr = {p: participant_address("test/1", p) for p in ("B00001", "B00002", "B00003")}
    a, b, c = addr["B00001"], addr["B00002"], addr["B00003"]
    bank = dep.operators.bank
    led.register_participants([(p, x, Kind.BROKER) for p, x in addr.items()]
                              + [("S00001", bank, Kind.SETTLEMENT_BANK)])
    led.list_securities([(1, "HK0000000011"), (2, "HK0000000029"), (3, "HK0000000037")])
    led.deposit_many([(a, 1, 100), (b, 2, 100), (c, 3, 100)])
    led.issue_cash(bank, "HKD", 10_000, reference="intraday")
    hkd = dep.currency_index("HKD")
    obs = [Obligation(1, a, b, 1, 100, hkd, 10_000), Obligation(2, b, c, 2, 100, hkd, 10_000),
           Obligation(3, c, a, 3, 100, hkd, 10_000)]
    sec = {(a, 1): 100, (b, 2): 100, (c, 3): 100}
    cash = {(x, hkd): led.cash_balance(x, "HKD") for x in (a, b, c, bank)}

    fifo_out = led.settle_batch(obs, all_or_nothing=False)
    assert fifo_out.settled == {} and set(fifo_out.pending) == {1, 2, 3}
    assert fifo(obs, sec, cash).settled == []

    res = resolve(obs, sec, cash)
    assert res.settle == obs
    out = led.settle_batch(res.settle, all_or_nothing=True)  # checked on net positions: the cycle settles
    assert set(out.settled) == {1, 2, 3} and out.pending == {}
    assert led.security_balance(b, 1) == 100 and led.security_balance(c, 2) == 100
    assert led.security_balance(a, 3) == 100
    assert [led.cash_balance(x, "HKD") for x in (a, b, c, bank)] == [0, 0, 0, 10_000]  # nobody lent
    assert all(led.conservation([a, b, c, bank, dep.operators.csd], [1, 2, 3]).values())
