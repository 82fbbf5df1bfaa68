"""The client portal end to end in headless Chromium (Debian's, driven by Playwright; no browser download)
against the real service under uvicorn: sign-in with TOTP and its refusals, balances, an instruction submitted
through the API settling live in the open dashboard, alerts with acknowledge, what-if changing the requirement
(and its CSV), the operator view with maker-checker, cross-participant denial and an expired session.
Screenshots of each main page go to test-artifacts/portal/."""

from __future__ import annotations

import csv
import io
import itertools
from typing import Any

import httpx
import pytest
from portal_world import ARTIFACTS, CHROMIUM, Served
from service_world import P1, P2, PASSWORD
from sqlalchemy import update

from api.service.db import UserRow
from api.service.security import totp_now

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                     "(apt-get install -y chromium); CI installs it"),
    pytest.mark.timeout(120),
]
pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra (pip install -e .[test])")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

_n = itertools.count(5000)


def shot(pg: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def fill_sign_in(pg: Page, served: Served, username: str, password: str = PASSWORD, code: str | None = None) -> None:
    with served.world.ctx.session() as s:  # a TOTP code works once; let the tests sign in repeatedly
        s.execute(update(UserRow).where(UserRow.username == username).values(totp_last_step=0))
    pg.goto("/portal/")
    pg.get_by_label("Username").fill(username)
    pg.get_by_label("Password").fill(password)
    pg.get_by_label("Second factor (6-digit code)").fill(code if code is not None else
                                                         totp_now(served.world.totp[username]))
    pg.get_by_role("button", name="Sign in").click()


def sign_in(pg: Page, served: Served, username: str) -> None:
    fill_sign_in(pg, served, username)
    expect(pg.locator("#who")).to_contain_text(username)


def api(served: Served) -> httpx.Client:
    return httpx.Client(base_url=served.url, timeout=30)


def submit_pair(served: Served, c: httpx.Client, ref: str, quantity: int, amount: int = 50_000,
                deliver_only: bool = False) -> None:
    w = served.world
    f = w.fields(P1, P2, "deliver", ref=ref, nonce=next(_n), quantity=quantity, amount=amount)
    r = c.post("/v1/instructions", json=w.signed(f), headers={"X-API-Key": w.api_keys["a-stp"]})
    assert r.status_code == 201, r.text
    if deliver_only:
        return
    f = w.fields(P2, P1, "receive", ref=ref, nonce=next(_n), quantity=quantity, amount=amount)
    r = c.post("/v1/instructions", json=w.signed(f), headers={"X-API-Key": w.api_keys["b-stp"]})
    assert r.status_code == 201 and r.json()["status"] == "pending", r.text


def run_settlement(served: Served, c: httpx.Client, name: str) -> dict[str, Any]:
    r = c.post("/v1/settlement-runs", json={"name": name}, headers=served.world.h("op1"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_sign_in_refusals_and_expired_session(page: Page, served: Served) -> None:
    page.goto("/")  # the service root sends people to the portal
    expect(page.get_by_role("heading", name="Sign in to ledgerclear")).to_be_visible()
    shot(page, "signin")
    fill_sign_in(page, served, "a-view", password="not the password")
    expect(page.get_by_role("alert")).to_contain_text("Sign-in refused")
    fill_sign_in(page, served, "a-view", code="12")
    expect(page.get_by_role("alert")).to_contain_text("6 digits")
    good = totp_now(served.world.totp["a-view"])
    fill_sign_in(page, served, "a-view", code=f"{(int(good) + 1) % 1_000_000:06d}")  # wrong second factor
    expect(page.get_by_role("alert")).to_contain_text("second-factor code is wrong")
    shot(page, "signin-refused")
    # keyboard only: the username field has focus; Tab through the form, Enter submits
    with served.world.ctx.session() as s:
        s.execute(update(UserRow).where(UserRow.username == "a-view").values(totp_last_step=0))
    page.get_by_label("Username").fill("")
    page.get_by_label("Username").focus()
    page.keyboard.type("a-view")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.type(totp_now(served.world.totp["a-view"]))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Dashboard — {P1}")).to_be_visible()
    # the session ends on the server (signed out elsewhere / expired): the page says so, no blank screen
    token = page.evaluate("JSON.parse(sessionStorage.getItem('lc.session')).token")
    assert api(served).delete("/v1/sessions/current", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    # Navigate by URL, not by clicking: the live stream may notice the ended session first and redraw
    # the page under the click. Either way the next request is refused and the page must say why.
    page.evaluate(f"location.hash = '#/p/{P1}/what-if'")
    expect(page.get_by_role("status")).to_contain_text("session expired")
    expect(page.get_by_label("Username")).to_be_visible()


def test_dashboard_balances_live_settlement_and_alerts(page: Page, served: Served) -> None:
    sign_in(page, served, "a-view")
    expect(page.locator("#cash")).to_contain_text("HKD")
    expect(page.locator("#holdings")).to_contain_text("00700")
    expect(page.locator("#holdings")).to_contain_text("10,000")
    expect(page.locator("#conn")).to_have_text("● live")
    page.evaluate("window.__noReload = 1")
    c = api(served)
    submit_pair(served, c, "LIVE-1", quantity=300, amount=1_200_000)
    row = page.locator("#si-body tr[data-ref='LIVE-1']")
    expect(row).to_have_attribute("data-status", "pending")
    run_settlement(served, c, "live")
    expect(row).to_have_attribute("data-status", "settled")  # pushed by the event stream
    expect(page.locator("#holdings")).to_contain_text("9,700")  # balances refreshed from chain
    assert page.evaluate("window.__noReload") == 1, "the page was reloaded"
    # a delivery P1 cannot cover: pending LACK after the run, an alert that can be acknowledged
    submit_pair(served, c, "SHORT-1", quantity=50_000, amount=1_000)
    run_settlement(served, c, "short")
    short = page.locator("#si-body tr[data-ref='SHORT-1']")
    expect(short).to_have_attribute("data-status", "pending")
    expect(short).to_contain_text("LACK")
    alert = page.locator("#alerts li[data-ref='SHORT-1']")
    expect(alert).to_contain_text("short of securities")
    shot(page, "dashboard")
    alert.get_by_role("button", name="Acknowledge alert for SHORT-1").click()
    expect(alert).to_have_count(0)
    # filter, search, sort, page
    for i in range(11):
        submit_pair(served, c, f"PG-{i:02d}", quantity=10 + i, deliver_only=True)
    expect(page.locator("#si-page")).to_contain_text("of 2")
    page.get_by_label("Status").select_option("settled")
    expect(page.locator("#si-body tr")).to_have_count(1)
    page.get_by_label("Status").select_option("")
    page.get_by_label("Search").fill("short")
    expect(page.locator("#si-body tr")).to_have_count(1)
    page.get_by_label("Search").fill("")
    page.get_by_role("button", name="Quantity").click()  # ascending
    expect(page.locator("#si-body tr").first).to_have_attribute("data-ref", "PG-00")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#si-page")).to_contain_text("Page 2 of 2")
    # narrow (tablet) width still usable
    page.set_viewport_size({"width": 800, "height": 1000})
    expect(page.locator("#si-table")).to_be_visible()
    shot(page, "dashboard-800")


def test_what_if_changes_requirement_and_downloads_csv(page: Page, served: Served) -> None:
    sign_in(page, served, "a-view")
    page.get_by_role("link", name="What-if margin").click()
    expect(page.get_by_role("heading", name=f"What-if margin — {P1}")).to_be_visible()
    before = page.locator("#wi-new-total").inner_text()
    page.get_by_label("Quantity", exact=True).fill("20000")
    page.get_by_label("Price (HKD)").fill("400")
    page.get_by_role("button", name="Add trade").click()
    expect(page.locator("#wi-ms")).to_contain_text("computed in")
    after = page.locator("#wi-new-total").inner_text()
    assert after != before, (before, after)
    expect(page.locator("#wi-table tr[data-component='total_requirement'] td").nth(2)).not_to_have_text("0")
    shot(page, "what-if")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(dl.value.path()).read())))
    assert rows[0]["section"] == "trade" and rows[0]["quantity"] == "20000"
    assert any(r["component"] == "total_requirement" for r in rows)
    # bad input: a zero quantity is refused in the page, nothing applied
    page.get_by_label("Quantity", exact=True).fill("0")
    page.get_by_role("button", name="Add trade").click()
    expect(page.get_by_role("alert")).to_contain_text("Quantity must be")
    page.get_by_role("button", name="Remove trade 1").click()
    expect(page.locator("#wi-new-total")).to_have_text(before)


def test_participant_cannot_open_another_participants_pages(page: Page, served: Served) -> None:
    sign_in(page, served, "a-view")
    page.goto(f"/portal/#/p/{P2}")
    expect(page.get_by_role("alert")).to_contain_text("not found, or not yours")
    expect(page.get_by_role("alert")).to_contain_text("404")
    shot(page, "denied")
    page.goto(f"/portal/#/p/{P2}/what-if")
    expect(page.get_by_role("alert")).to_contain_text("404")
    page.goto("/portal/#/operator")
    expect(page.get_by_role("alert")).to_contain_text("market operator only")


def test_operator_view_runs_and_maker_checker(page: Page, served: Served, browser: Browser) -> None:
    c = api(served)
    run_settlement(served, c, "op-view")
    sign_in(page, served, "op1")
    expect(page.get_by_role("heading", name="Operator — settlement and participants")).to_be_visible()
    expect(page.locator("#runs-body tr").first).to_contain_text("op-view")
    expect(page.locator("#runs-table")).to_contain_text("LACK")
    n_runs = page.locator("#runs-body tr").count()
    page.get_by_label("Run name").fill("from-portal")
    page.get_by_role("button", name="Start settlement run").click()
    expect(page.locator("#runs-body tr")).to_have_count(n_runs + 1)
    # maker: op1 requests a suspension; op1 cannot also approve it
    row = page.locator(f"#parts-body tr[data-pid='{P2}']")
    page.get_by_label(f"New status for {P2}").select_option("suspended")
    page.get_by_label(f"Reason for {P2}").fill("late margin")
    page.get_by_role("button", name=f"Request status change for {P2}").click()
    expect(page.locator("#op-msg")).to_contain_text("Another operator-admin must approve")
    pending = page.locator("#appr-body tr").first
    expect(pending).to_contain_text("pending")
    aid = pending.get_attribute("data-approval")
    page.get_by_role("button", name=f"Approve request {aid}").click()
    expect(page.locator("#op-msg")).to_contain_text("maker-checker")
    shot(page, "operator")
    # checker: op2, in another browser session, approves
    ctx2 = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=served.url)
    p2 = ctx2.new_page()
    sign_in(p2, served, "op2")
    p2.get_by_role("button", name=f"Approve request {aid}").click()
    expect(p2.locator(f"#parts-body tr[data-pid='{P2}']")).to_contain_text("suspended")
    ctx2.close()
    expect(row).to_contain_text("suspended")  # op1's page follows the event stream
