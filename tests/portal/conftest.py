"""The portal tests' fixtures: one served market per test module (portal_world.py builds it), one headless
Chromium per module, and a fresh page per test that fails the test on any external request or page error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from portal_world import CHROMIUM, CHROMIUM_ARGS, Served, serve_world


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s = serve_world(tmp_path_factory.mktemp("portal"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=served.url, accept_downloads=True)
    ctx.set_default_timeout(10_000)
    pg = ctx.new_page()
    external: list[str] = []
    pg.on("request", lambda r: external.append(r.url) if not r.url.startswith((served.url, "data:", "blob:")) else None)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not external, f"external requests: {external}"
    assert not errors, f"page errors: {errors}"
