"""The portal's files as served (no browser needed): / redirects to /portal/, the pages carry a same-origin
CSP, the vendored Chart.js is the version package.json pins (its sha256 in vendor/MANIFEST.json, licence
alongside), and nothing in the portal refers to another origin."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from portal_world import Served

from api.portal import STATIC

ROOT = Path(__file__).resolve().parents[2]


def test_served_pages_and_headers(served: Served) -> None:
    c = served.world.client
    r = c.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/portal/"
    r = c.get("/portal/")
    assert r.status_code == 200 and "<title>ledgerclear portal</title>" in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp and "'unsafe-eval'" not in csp
    for asset, kind in (("app.js", "javascript"), ("style.css", "css"), ("vendor/chart.umd.min.js", "javascript")):
        r = c.get(f"/portal/{asset}")
        assert r.status_code == 200 and kind in r.headers["content-type"], asset
    assert c.get("/portal/nope.js").status_code == 404
    # the portal is not part of the API document
    assert not [p for p in c.get("/openapi.json").json()["paths"] if not p.startswith("/v1/")]


def test_vendored_chart_js_is_the_pinned_one() -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["chart.js"]
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", pinned), "pin an exact version"
    manifest = json.loads((STATIC / "vendor" / "MANIFEST.json").read_text())
    for name, m in manifest.items():
        data = (STATIC / "vendor" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == m["sha256"], name
        if m["package"] == "chart.js":
            assert m["version"] == pinned
    assert f"Chart.js v{pinned}" in (STATIC / "vendor" / "chart.umd.min.js").read_text()[:200]
    for lic in ("chart.js-LICENSE.md", "kurkle-color-LICENSE.md"):
        assert "MIT" in (STATIC / "vendor" / lic).read_text() or "Permission is hereby granted" in \
            (STATIC / "vendor" / lic).read_text()


def test_no_external_references() -> None:
    for f in (STATIC / "index.html", STATIC / "app.js", STATIC / "style.css"):
        assert not re.search(r"https?://", f.read_text()), f"{f.name} refers to another origin"
