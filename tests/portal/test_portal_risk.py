"""The portal's risk views in headless Chromium against the real service: collateral cover and the margin-call
alert, today's settlement runs (own instructions only), what-if modes (hypothetical-only, uploaded positions
with row errors) with the scenario P&L chart and its ES tail, and the operator's cover-2 and largest
requirements and calls. Figures are checked against the API and the risk engine, not against the page's own
arithmetic. Screenshots to test-artifacts/portal/."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from typing import Any

import pytest
from portal_world import CHROMIUM, Served
from service_world import P1, P2, SEC
from test_portal_e2e import api, run_settlement, shot, sign_in, submit_pair

from risk.cp_params import load_cp_params
from risk.margin import compute_margin, tail_counts
from risk.marks import marks_from_rpf
from risk.positions import Portfolio, Position
from risk.rpf import read_rpf

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
    pytest.mark.timeout(180),
]
from playwright.sync_api import Page, expect  # noqa: E402

COLLATERAL = 1.0  # far below P1's requirement: a margin call


@pytest.fixture(scope="module")
def market(served: Served) -> Iterator[dict[str, Any]]:
    """P1 with one settled and one LACK-pending instruction after a run, and a collateral figure."""
    cp_dir = served.world.ctx.settings.cp_params_dir
    assert cp_dir is not None
    (cp_dir / "collateral.csv").write_text(f"CP,Collateral\n{P1},{COLLATERAL}\n")
    c = api(served)
    submit_pair(served, c, "RK-OK", quantity=100, amount=40_000)
    submit_pair(served, c, "RK-LACK", quantity=50_000, amount=1_000)  # P1 holds 10,000: stays pending, open
    run = run_settlement(served, c, "risk-am")
    yield {"run": run, "client": c}
    c.close()


def fmt(x: float) -> str:
    """As the page's toLocaleString: whole numbers, halves away from zero (Python's round() goes to even)."""
    return f"{int(math.copysign(math.floor(abs(x) + 0.5), x)):,}"


def _rpf_params(served: Served) -> tuple[Any, Any]:
    s = served.world.ctx.settings
    assert s.rpf_path is not None and s.cp_params_dir is not None
    return read_rpf(s.rpf_path), load_cp_params(s.cp_params_dir / f"{P1}.json")


def test_dashboard_cover_margin_call_alert_and_own_runs(page: Page, served: Served, market: dict[str, Any]) -> None:
    c = market["client"]
    h = served.world.h("a-view")
    m = c.get(f"/v1/margin/{P1}", headers=h).json()
    call = m["cover"]["margin_call"]
    assert call > 0
    runs = c.get(f"/v1/participants/{P1}/settlement-runs", headers=h).json()["items"]
    mine = next(r for r in runs if r["run_id"] == market["run"]["id"])
    assert mine["settled"] == 1 and mine["pending_by_reason"] == {"LACK": 1}
    sign_in(page, served, "a-view")
    expect(page.locator("#cover-collateral")).to_have_text(fmt(COLLATERAL))
    expect(page.locator("#cover-call")).to_contain_text(f"HKD {fmt(call)}")
    expect(page.locator("#margin-total")).to_have_text(fmt(m["total_requirement"]))
    alert = page.locator("#alerts li[data-ref='margin call']")
    expect(alert).to_contain_text(f"Margin call: HKD {fmt(call)}")
    row = page.locator(f"#myruns-body tr[data-run='{mine['run_id']}']")
    cells = row.locator("td")
    expect(cells.nth(1)).to_have_text("risk-am")
    expect(cells.nth(3)).to_have_text(str(mine["settled"]))
    expect(cells.nth(5)).to_have_text(str(mine["pending"]))
    expect(cells.nth(6)).to_have_text("LACK 1")
    expect(cells.nth(8)).to_have_text("400.00 HKD")  # RUN-OK's 40,000 cents
    shot(page, "dashboard-cover-runs")
    alert.get_by_role("button", name="Acknowledge alert for margin call").click()
    expect(alert).to_have_count(0)


def test_what_if_hypothetical_with_pnl_distribution(page: Page, served: Served, market: dict[str, Any]) -> None:
    rpf, params = _rpf_params(served)
    sign_in(page, served, "a-view")
    page.get_by_role("link", name="What-if margin").click()
    page.get_by_role("radio", name="Hypothetical trades only").check()
    page.get_by_label("Quantity", exact=True).fill("-3000")
    page.get_by_label("Price (HKD)").fill("401")
    page.get_by_role("button", name="Add trade").click()
    expect(page.locator("#wi-ms")).to_contain_text("computed in")
    mark = marks_from_rpf(rpf).price("700")
    direct = compute_margin(rpf, Portfolio.from_positions([Position("700", -3000.0, -3000 * 401.0, -3000 * mark)]),
                            params)
    assert direct.total_requirement > 0
    expect(page.locator("#wi-new-total")).to_have_text(fmt(direct.total_requirement))
    body = {"mode": "hypothetical", "trades": [{"security_code": SEC, "quantity": -3000, "price": 401}]}
    ref = market["client"].post(f"/v1/margin/{P1}/what-if", json=body, headers=served.world.h("a-view")).json()
    kh, ks = tail_counts(rpf)
    for name, k in (("historical", kh), ("stressed", ks)):
        page.get_by_label("Scenario set").select_option(name)
        d = next(x for x in ref["distribution"]["new"] if x["scenario_set"] == name)
        assert d["tail_count"] == k
        expect(page.locator("#wi-dist-summary")).to_have_attribute("data-tail", str(k))
        # the highlighted bars are exactly the API's tail: the k worst P&Ls, in order
        tail = page.evaluate("""() => {
            const c = Chart.getChart(document.getElementById('wi-dist-chart'));
            return {tail: c.data.datasets[0].data.filter((v) => v !== null),
                    rest: c.data.datasets[1].data.filter((v) => v !== null), label: c.data.datasets[0].label};
        }""")
        assert tail["tail"] == d["pnl_sorted"][:k] and len(tail["rest"]) == d["scenarios"] - k
        assert f"worst {k} of {d['scenarios']}" in tail["label"]
        expect(page.locator("#wi-dist-summary")).to_contain_text(f"expected shortfall HKD {fmt(d['expected_shortfall'])}")
        expect(page.locator("#wi-tail tr")).to_have_count(k)
    page.get_by_text("Tail scenarios (table)").click()
    shot(page, "what-if-distribution")
    # the starting portfolio of a hypothetical what-if is empty: its P&L is zero everywhere
    page.get_by_label("Portfolio", exact=True).select_option("base")
    expect(page.locator("#wi-dist-summary")).to_contain_text("expected shortfall HKD 0")


GOOD = "security_code,quantity,price\n00700,4000,399.5\n2800,-30000,\n"
BAD = "security_code,quantity,price\n00700,4000,399.5\nABC,5,1\n2800,1.5,20\n"


def test_what_if_uploaded_positions_and_row_errors(page: Page, served: Served, market: dict[str, Any]) -> None:
    rpf, params = _rpf_params(served)
    sign_in(page, served, "a-view")
    page.goto(f"/portal/#/p/{P1}/what-if")
    page.get_by_role("radio", name="Uploaded positions file").check()
    expect(page.locator("#wi-change")).to_contain_text("load a positions file")
    page.get_by_label("Positions file (CSV)").set_input_files(
        {"name": "book.csv", "mimeType": "text/csv", "buffer": GOOD.encode()})
    expect(page.locator("#wi-upload-msg")).to_contain_text("2 positions loaded")
    expect(page.locator("#wi-positions tr")).to_have_count(2)
    marks = marks_from_rpf(rpf)
    direct = compute_margin(rpf, Portfolio.from_positions([
        Position("700", 4000.0, 4000 * 399.5, 4000 * marks.price("700")),
        Position("2800", -30000.0, -30000 * marks.price("2800"), -30000 * marks.price("2800"))]), params)
    expect(page.locator("#wi-new-total")).to_have_text(fmt(direct.total_requirement))
    # a file with bad rows: every row named, nothing applied (positions and requirement as before)
    page.get_by_label("Positions file (CSV)").set_input_files(
        {"name": "bad.csv", "mimeType": "text/csv", "buffer": BAD.encode()})
    errs = page.locator("#wi-row-errors li")
    expect(errs).to_have_count(2)
    expect(errs.nth(0)).to_contain_text("Row 3, security_code")
    expect(errs.nth(1)).to_contain_text("Row 4, quantity")
    expect(page.get_by_role("alert")).to_contain_text("bad.csv was not loaded")
    expect(page.locator("#wi-new-total")).to_have_text(fmt(direct.total_requirement))
    expect(page.locator("#wi-positions tr")).to_have_count(2)
    shot(page, "what-if-upload-errors")
    # a trade on top of the uploaded positions, then the CSV carries mode, positions, trade and distribution
    page.get_by_label("Quantity", exact=True).fill("1000")
    page.get_by_role("button", name="Add trade").click()
    expect(page.locator("#wi-ms")).to_contain_text("computed in")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(dl.value.path()).read())))
    assert [r["section"] for r in rows][:1] == ["trade"]
    assert {(r["component"], r["current"]) for r in rows if r["section"] == "input"} == {
        ("mode", "uploaded"), ("positions_file", "book.csv")}
    assert [(r["security_code"], r["quantity"]) for r in rows if r["section"] == "position"] == [
        ("00700", "4000"), ("2800", "-30000")]
    kh, _ = tail_counts(rpf)
    assert [r["with_trades"] for r in rows if r["component"] == "historical_tail_count"] == [str(kh)]


def test_operator_cover2_and_largest_requirements(page: Page, served: Served, market: dict[str, Any]) -> None:
    s = market["client"].get("/v1/margin/summary", headers=served.world.h("opview")).json()
    assert s["largest_calls"] and s["largest_calls"][0]["participant_id"] == P1
    sign_in(page, served, "opview")
    expect(page.locator("#op-cover2")).to_have_text(fmt(s["cover2"]["fund_size"]))
    expect(page.locator("#op-cover2-detail")).to_contain_text(s["cover2"]["worst_scenario"])
    req_rows = page.locator("#mreq-table tbody tr")
    expect(req_rows).to_have_count(len(s["largest_requirements"]))
    for i, r in enumerate(s["largest_requirements"]):
        expect(req_rows.nth(i).locator("td").nth(1)).to_have_text(r["participant_id"])
        expect(req_rows.nth(i).locator("td").nth(2)).to_have_text(fmt(r["total_requirement"]))
    call = page.locator(f"#mcall-table tr[data-pid='{P1}'] td")
    expect(call.nth(5)).to_have_text(fmt(s["largest_calls"][0]["margin_call"]))
    expect(page.locator(f"#mreq-table tr[data-pid='{P2}'] td").nth(3)).to_have_text("not configured")
    shot(page, "operator-risk")
    # a participant reaching for the operator summary is refused by the API
    r = market["client"].get("/v1/margin/summary", headers=served.world.h("a-view"))
    assert r.status_code == 403
