"""What-if modes (current, hypothetical-only, uploaded positions with row-level errors) and the scenario P&L
distribution; collateral cover and calls on GET /margin/{pid}; the operator's margin summary with cover-2; a
participant's own view of the day's settlement runs. Figures are checked against the risk engine called
directly, not against the service's own arithmetic."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_world import P1, P2, SEC, World, build, write_risk_inputs

from ledger.store import InstructionRow
from risk.cp_params import load_cp_params
from risk.margin import compute_margin, compute_margins, tail_counts
from risk.marks import marginable_positions, marks_from_rpf
from risk.positions import Portfolio, Position
from risk.rounding import round_half_away_array, round_up_to
from risk.rpf import RiskParameterFile, read_rpf
from risk.stress import StressScenarios, cover2_default_fund, stress_losses

P1_COLLATERAL = 1.0  # far below any requirement: a margin call


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("whatif")
    rpf_path, cp = write_risk_inputs(tmp, seed=11, hvar=60, svar=45)
    # P2 deliberately has no collateral entry: its margin has no cover figures
    (cp / "collateral.csv").write_text(f"CP,Collateral\n{P1},{P1_COLLATERAL}\n")
    w = build(tmp, rpf_path=rpf_path, cp_params_dir=cp)
    c = w.client
    # P1 delivers 700 to P2: an open obligation, so P1 has a (short) position to margin
    a = w.signed(w.fields(P1, P2, "deliver", ref="OPEN1", nonce=1, quantity=2000, amount=80_000_000))
    b = w.signed(w.fields(P2, P1, "receive", ref="OPEN1", nonce=2, quantity=2000, amount=80_000_000))
    assert c.post("/v1/instructions", json=a, headers=w.h("a-stp")).status_code == 201
    assert c.post("/v1/instructions", json=b, headers=w.h("b-stp")).json()["status"] == "pending"
    yield w
    w.client.close()
    w.ctx.engine.dispose()


def _env(w: World) -> tuple[RiskParameterFile, Any]:
    assert w.ctx.settings.rpf_path is not None and w.ctx.settings.cp_params_dir is not None
    return read_rpf(w.ctx.settings.rpf_path), load_cp_params(w.ctx.settings.cp_params_dir / f"{P1}.json")


def _wi(w: World, body: dict[str, Any], who: str = "a-view", pid: str = P1) -> Any:
    return w.client.post(f"/v1/margin/{pid}/what-if", json=body, headers=w.h(who))


TRADES = [{"security_code": SEC, "quantity": 3000, "price": 395.5}, {"security_code": "2800", "quantity": -40000,
                                                                      "price": 21.0}]


def _positions(rpf: RiskParameterFile, rows: list[tuple[str, int, float]]) -> Portfolio:
    marks = marks_from_rpf(rpf)
    return Portfolio.from_positions(Position(code.lstrip("0"), float(q), q * p, q * marks.price(code.lstrip("0")))
                                    for code, q, p in rows)


def test_hypothetical_only_is_the_margin_of_just_the_trades(world: World) -> None:
    rpf, params = _env(world)
    r = _wi(world, {"mode": "hypothetical", "trades": TRADES})
    assert r.status_code == 200, r.text
    out = r.json()
    direct = compute_margin(rpf, _positions(rpf, [(t["security_code"], t["quantity"], t["price"]) for t in TRADES]),
                            params)
    assert out["mode"] == "hypothetical"
    assert out["new"]["total_requirement"] == direct.total_requirement > 0
    assert out["new"]["components"] == {k: float(v) for k, v in direct.components().items()}
    assert out["base"]["total_requirement"] == compute_margin(rpf, Portfolio.empty(), params).total_requirement
    # the current mode starts from P1's open obligation, so the same trades give a different requirement
    cur = _wi(world, {"trades": TRADES}).json()
    assert cur["mode"] == "current" and cur["base"]["total_requirement"] > 0
    assert cur["new"]["total_requirement"] != out["new"]["total_requirement"]


def test_distribution_is_the_engines_pnl_and_es_tail(world: World) -> None:
    rpf, params = _env(world)
    out = _wi(world, {"mode": "hypothetical", "trades": TRADES}).json()
    pf = _positions(rpf, [(t["security_code"], t["quantity"], t["price"]) for t in TRADES])
    # independent P&L: per-term rounded mv * return, summed over positions (the method's exact P&L)
    ret = rpf.scenario_returns
    vi = rpf.var_index
    pnl = sum(round_half_away_array(mv * ret[vi[i]]) for i, mv in zip(pf.instruments, pf.market_value.tolist()))
    detail = compute_margin(rpf, pf, params).detail
    kh, ks = tail_counts(rpf)
    h = rpf.header.hvar_scen_count
    dists = {d["scenario_set"]: d for d in out["distribution"]["new"]}
    for name, vec, k, es, cl in (("historical", pnl[:h], kh, detail.hvar_es[0], rpf.header.hvar_cl),
                                 ("stressed", pnl[h:], ks, detail.svar_es[0], rpf.header.svar_cl)):
        d = dists[name]
        assert d["tail_count"] == k == math.ceil(round((1 - cl) * len(vec), 9))
        assert d["scenarios"] == len(vec) and d["confidence"] == cl
        assert d["pnl_sorted"] == sorted(vec.tolist())
        assert d["var"] == -sorted(vec.tolist())[k - 1]
        assert d["expected_shortfall"] == pytest.approx(-es) == pytest.approx(-np.sort(vec)[:k].mean())
    # the base of a hypothetical what-if is the empty portfolio: all zero
    assert all(x == 0 for d in out["distribution"]["base"] for x in d["pnl_sorted"])
    assert "distribution" in _wi(world, {"trades": TRADES, "distribution": False}).json()
    assert _wi(world, {"trades": TRADES, "distribution": False}).json()["distribution"] is None


def test_uploaded_positions(world: World) -> None:
    rpf, params = _env(world)
    csv_text = "quantity,security_code,price\r\n5000,00700,399.8\n\n-20000,2800,\n"
    r = _wi(world, {"mode": "uploaded", "positions_csv": csv_text, "trades": [TRADES[0]]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert [(p["row"], p["security_code"], p["quantity"], p["price"]) for p in out["positions"]] == [
        (2, "00700", 5000, 399.8), (4, "2800", -20000, 20.0)]  # blank price = the mark
    base = compute_margin(rpf, _positions(rpf, [("700", 5000, 399.8), ("2800", -20000, 20.0)]), params)
    assert out["base"]["total_requirement"] == base.total_requirement > 0
    new = compute_margin(rpf, _positions(rpf, [("700", 8000, (5000 * 399.8 + 3000 * 395.5) / 8000),
                                               ("2800", -20000, 20.0)]), params)
    assert out["new"]["total_requirement"] == new.total_requirement


def test_upload_with_bad_rows_lists_every_row_and_applies_nothing(world: World) -> None:
    bad = ("security_code,quantity,price\n"
           "00700,100,400\n"        # row 2 fine
           "ABC,100,400\n"          # row 3 bad code
           "2800,1.5,20\n"          # row 4 not whole
           "00700,200,400\n"        # row 5 duplicate of row 2
           "2800,10,-3\n"           # row 6 bad price, and a duplicate of row 4
           "2800,0,20,9\n"          # row 7 wrong cell count
           "99999,10,1\n")          # row 8 no mark
    r = _wi(world, {"mode": "uploaded", "positions_csv": bad})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_rows" and err["field"] == "positions_csv" and "nothing was applied" in err["message"]
    got = [(e["row"], e["field"]) for e in err["rows"]]
    assert got == [(3, "security_code"), (4, "quantity"), (5, "security_code"), (6, "security_code"), (6, "price"),
                   (7, None), (8, "security_code")]
    assert "row 2" in err["rows"][2]["message"]
    head = _wi(world, {"mode": "uploaded", "positions_csv": "code,qty\n700,1\n"}).json()["error"]["rows"]
    assert {(e["row"], e["field"]) for e in head} >= {(1, "security_code"), (1, "quantity"), (1, "code")}
    empty = _wi(world, {"mode": "uploaded", "positions_csv": "security_code,quantity\n"}).json()["error"]["rows"]
    assert empty[0]["row"] == 1 and "no positions" in empty[0]["message"]


def test_mode_and_input_mismatches_are_422(world: World) -> None:
    for body, field in (({"mode": "uploaded"}, "positions_csv"),
                        ({"mode": "current", "positions_csv": "security_code,quantity\n700,1\n"}, "positions_csv"),
                        ({"mode": "hypothetical", "positions_csv": "x"}, "positions_csv"),
                        ({"mode": "somewhere", "trades": TRADES}, "mode")):
        r = _wi(world, body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["field"] == field
    assert _wi(world, {"mode": "hypothetical", "trades": TRADES}, pid=P2).status_code == 404


def test_cover_and_margin_call_by_the_daily_cycle_rules(world: World) -> None:
    c = world.client
    m = c.get(f"/v1/margin/{P1}", headers=world.h("a-view")).json()
    cover = m["cover"]
    req = int(m["total_requirement"])
    assert req > 0 and cover["collateral"] == P1_COLLATERAL
    assert cover["shortfall"] == math.ceil(req - P1_COLLATERAL)
    assert cover["margin_call"] == round_up_to(cover["shortfall"], 10000) > 0
    assert cover["coverage_ratio"] == pytest.approx(P1_COLLATERAL / req)
    assert cover["eligible"] is False and "margin call" in cover["reason"]
    assert c.get(f"/v1/margin/{P2}", headers=world.h("b-view")).json()["cover"] is None  # no collateral entry
    # the what-if results carry no cover
    assert _wi(world, {"trades": TRADES}).json()["new"]["cover"] is None


def test_operator_summary_and_cover2(world: World) -> None:
    c = world.client
    assert c.get("/v1/margin/summary", headers=world.h("a-admin")).status_code == 403
    r = c.get("/v1/margin/summary", headers=world.h("opview"))
    assert r.status_code == 200, r.text
    s = r.json()
    rpf, _ = _env(world)
    assert world.ctx.settings.cp_params_dir is not None
    params = {p: load_cp_params(world.ctx.settings.cp_params_dir / f"{p}.json") for p in (P1, P2)}
    pfs = marginable_positions(world.ctx.store.instructions(), marks_from_rpf(rpf), participants=[P1, P2])
    direct = compute_margins(rpf, {p: pfs[p] for p in (P1, P2)}, params)
    rows = {x["participant_id"]: x for x in s["largest_requirements"]}
    assert {p: rows[p]["total_requirement"] for p in (P1, P2)} == {p: direct[p].total_requirement for p in (P1, P2)}
    reqs = [x["total_requirement"] for x in s["largest_requirements"]]
    assert reqs == sorted(reqs, reverse=True)
    p1 = c.get(f"/v1/margin/{P1}", headers=world.h("a-view")).json()
    assert [x["participant_id"] for x in s["largest_calls"]] == [P1]
    assert s["largest_calls"][0]["margin_call"] == p1["cover"]["margin_call"] == s["total_calls"]
    assert rows[P2]["collateral"] is None and rows[P2]["margin_call"] is None
    # cover-2 over the parameter file's scenarios, collateral = requirement, computed here with risk.stress
    h, n = rpf.header.hvar_scen_count, rpf.header.svar_scen_count
    scen = StressScenarios(rpf.var_instruments, tuple(f"s{i}" for i in range(h + n)), rpf.scenario_returns)
    losses = stress_losses(scen, {p: pfs[p] for p in (P1, P2)})
    fund = cover2_default_fund(losses, [float(direct[p].total_requirement) for p in (P1, P2)], [P1, P2], scen.names)
    assert s["cover2"]["fund_size"] == pytest.approx(fund.fund_size)
    assert s["cover2"]["scenarios"] == h + n
    assert sorted(s["cover2"]["cover2_groups"]) == sorted(fund.cover2_groups)
    assert c.get("/v1/margin/summary?limit=0", headers=world.h("opview")).status_code == 422


def test_participant_run_summary_is_own_data_only(world: World) -> None:
    c = world.client
    a = world.signed(world.fields(P1, P2, "deliver", ref="RUN-OK", nonce=10, quantity=100, amount=40_000))
    b = world.signed(world.fields(P2, P1, "receive", ref="RUN-OK", nonce=11, quantity=100, amount=40_000))
    assert c.post("/v1/instructions", json=a, headers=world.h("a-stp")).status_code == 201
    assert c.post("/v1/instructions", json=b, headers=world.h("b-stp")).status_code == 201
    r = c.post("/v1/settlement-runs", json={"name": "am"}, headers=world.h("op1"))
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    # another participant's business in the same run (P2 with a third party): P1 must never see it
    with world.ctx.session() as s:
        s.add(InstructionRow(id=987_654_321, source="CNS", settle_date="2026-11-23", deliverer=P2, receiver="B00009",
                             security_code=SEC, quantity=5, currency="HKD", amount_cents=777, state="settled",
                             settled_quantity=5, settled_amount=777, run_id=run_id))
    mine = c.get(f"/v1/participants/{P1}/settlement-runs", headers=world.h("a-view"))
    assert mine.status_code == 200, mine.text
    run = next(x for x in mine.json()["items"] if x["run_id"] == run_id)
    # RUN-OK settled; OPEN1 (2000 shares, P1 holds 10,000) settles too: both are P1's own
    with world.ctx.session() as s:
        own_rows = [x for x in s.query(InstructionRow).filter(InstructionRow.run_id == run_id)
                    if P1 in (x.deliverer, x.receiver)]
    assert run["settled"] == sum(1 for x in own_rows if x.state == "settled") >= 1
    assert run["settled_value"] == [{"currency": "HKD",
                                     "cents": sum(abs(x.settled_amount) for x in own_rows if x.state == "settled")}]
    theirs = c.get(f"/v1/participants/{P2}/settlement-runs", headers=world.h("b-view")).json()["items"]
    other = next(x for x in theirs if x["run_id"] == run_id)
    assert other["settled"] == run["settled"] + 1
    assert other["settled_value"][0]["cents"] == run["settled_value"][0]["cents"] + 777
    assert "figures" not in run  # no market-wide figures
    # another participant's summary is not found; the operator may read any
    assert c.get(f"/v1/participants/{P2}/settlement-runs", headers=world.h("a-view")).status_code == 404
    assert c.get(f"/v1/participants/{P1}/settlement-runs", headers=world.h("opview")).status_code == 200
    yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    assert c.get(f"/v1/participants/{P1}/settlement-runs?date={yesterday}",
                 headers=world.h("a-view")).json()["items"] == []
    assert c.get(f"/v1/participants/{P1}/settlement-runs?date=2026-13-01", headers=world.h("a-view")).status_code == 422


@settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(text=st.one_of(
    st.text(max_size=300),
    st.lists(st.tuples(st.sampled_from(["00700", "2800", "700", "", "x", "123456789", "0"]),
                       st.sampled_from(["1", "-5", "0", "1e3", "", "9" * 20, "+7", " 3 "]),
                       st.sampled_from(["400", "", "-1", "nan", "inf", "1e10", "0.001"])), max_size=6)
    .map(lambda rows: "security_code,quantity,price\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))))
def test_any_positions_file_is_answered_200_or_422_with_rows(world: World, text: str) -> None:
    r = _wi(world, {"mode": "uploaded", "positions_csv": text, "distribution": False})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422 and r.json()["error"]["field"] == "positions_csv" and text.strip():
        rows = r.json()["error"]["rows"]
        assert rows and all(e["row"] >= 1 and e["message"] for e in rows)
