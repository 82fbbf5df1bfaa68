"""Portal latency in a real browser (Debian chromium, headless, via Playwright) against the real service.

* event-to-screen: an open participant dashboard; per event one matched pair is settled by a settlement run;
  time from the service publishing the `settled` status event (after the run's chain transaction and store
  update) to the row showing `settled` in the page (DOM updated, and the next animation frame = painted).
  Also reported: from the run request being sent to painted (includes the settlement run itself).
* what-if round trip in the page: add a hypothetical trade -> request, risk computation, table and chart
  redrawn (measured in the page with performance.now()).

    .venv/bin/python scripts/bench_portal.py [--events 50] [--whatifs 30] [--json]

With --json the last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "portal"), str(ROOT / "tests" / "service")]

import httpx  # noqa: E402
from portal_world import CHROMIUM, CHROMIUM_ARGS, serve_world  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from service_world import P1, P2, PASSWORD  # noqa: E402

from api.service.security import totp_now  # noqa: E402


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return round(s[min(len(s) - 1, max(0, int(round(q / 100 * len(s) + 0.5)) - 1))], 1)


def summary(xs: list[float]) -> dict[str, float]:
    return {"n": len(xs), "p50_ms": pct(xs, 50), "p99_ms": pct(xs, 99), "max_ms": round(max(xs), 1),
            "mean_ms": round(statistics.fmean(xs), 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description="portal event-to-screen and what-if latency in headless Chromium")
    ap.add_argument("--events", type=int, default=50)
    ap.add_argument("--whatifs", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not CHROMIUM.exists():
        print(f"needs {CHROMIUM} (apt-get install -y chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        served = serve_world(Path(tmp))
        w = served.world
        published: dict[int, float] = {}
        orig = w.ctx.hub.publish

        def timed_publish(pids: list[str], type_: str, data: dict[str, Any], session: Any = None) -> None:
            if type_ == "instruction.status" and data.get("status") == "settled":
                published[int(data["instruction_id"])] = time.time() * 1000
            orig(pids, type_, data, session)

        w.ctx.hub.publish = timed_publish  # type: ignore[method-assign]
        nonce = itertools.count(1)
        c = httpx.Client(base_url=served.url, timeout=60)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
                page = browser.new_page(viewport={"width": 1280, "height": 900}, base_url=served.url)
                page.set_default_timeout(30_000)
                page.goto("/portal/")
                page.get_by_label("Username").fill("a-view")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_label("Second factor (6-digit code)").fill(totp_now(w.totp["a-view"]))
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_function("() => window.__lc && window.__lc.ready")
                to_screen: list[float] = []
                to_paint: list[float] = []
                from_request: list[float] = []
                op = w.h("op1")
                for i in range(args.events):
                    ref = f"BENCH-{i}"
                    f = w.fields(P1, P2, "deliver", ref=ref, nonce=next(nonce), quantity=10, amount=1_000)
                    a = c.post("/v1/instructions", json=w.signed(f), headers={"X-API-Key": w.api_keys["a-stp"]})
                    f = w.fields(P2, P1, "receive", ref=ref, nonce=next(nonce), quantity=10, amount=1_000)
                    b = c.post("/v1/instructions", json=w.signed(f), headers={"X-API-Key": w.api_keys["b-stp"]})
                    assert a.status_code == 201 and b.status_code == 201, (a.text, b.text)
                    sid, iid = a.json()["id"], b.json()["instruction_id"]
                    page.wait_for_function("k => window.__lc.shown[k]", arg=f"{sid}:pending")
                    t_req = time.time() * 1000
                    r = c.post("/v1/settlement-runs", json={"name": f"b{i}"}, headers=op)
                    assert r.status_code == 201 and r.json()["figures"]["settled"] == 1, r.text
                    page.wait_for_function("k => window.__lc.painted[k]", arg=f"{sid}:settled")
                    shown, painted = page.evaluate("k => [window.__lc.shown[k], window.__lc.painted[k]]",
                                                   f"{sid}:settled")
                    to_screen.append(shown - published[iid])
                    to_paint.append(painted - published[iid])
                    from_request.append(painted - t_req)
                # what-if round trips
                page.goto(f"/portal/#/p/{P1}/what-if")
                page.wait_for_function("() => window.__lc.ready")
                page.get_by_label("Quantity", exact=True).fill("1000")
                for k in range(args.whatifs):
                    page.get_by_role("button", name="Add trade").click()
                    page.wait_for_function("n => window.__lc.whatifMs.length >= n", arg=k + 1)
                    if k % 5 == 4:  # keep the scenario small: remove what was added
                        for _ in range(5):
                            page.get_by_role("button", name="Remove trade 1").click()
                            page.wait_for_timeout(20)
                whatif = [float(x) for x in page.evaluate("() => window.__lc.whatifMs")][: args.whatifs]
                browser.close()
        finally:
            c.close()
            served.stop()
    result: dict[str, Any] = {
        "events": args.events, "event_to_dom": summary(to_screen), "event_to_paint": summary(to_paint),
        "run_request_to_paint": summary(from_request), "whatif_round_trip": summary(whatif),
        "targets": {"event_to_screen_p99_ms": 1000, "whatif_ms": 200}}
    if not args.json:
        for name, figures in result.items():
            print(f"{name}: {figures}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
