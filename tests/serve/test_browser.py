"""`stpmap serve` in a browser: the map page and its postcode search box.

A real server (`stpmap serve` through uvicorn, in a subprocess on a free
loopback port) and Debian's Chromium driven by Playwright. Every request the
page makes must stay on the server: nothing from a CDN or a tile server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlparse

import httpx
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ERROR_FILL = "#ffb81c"  # the highlight colour in app.js


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(atlas_cache):
    from stpmap.postcodes import lookup as _lookup

    for v in (2017, 2021):  # build the postcode index in the test cache before the server needs it
        _lookup.index(v)
    port = _free_port()
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "stpmap.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"stpmap serve exited with {proc.returncode}:\n{proc.stdout.read()}")
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("stpmap serve did not answer /health within 120 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Debian's Chromium is needed at {CHROMIUM} (apt-get install chromium); .ci/run installs it.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.offsite = []
    page.errors = []
    page.dialogs = []

    def route(r):
        if urlparse(r.request.url).hostname not in ("127.0.0.1", "localhost") and not r.request.url.startswith("data:"):
            page.offsite.append(r.request.url)
            return r.abort()
        return r.continue_()

    page.route("**/*", route)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    page.close()


def _search(page, text):
    page.evaluate("document.body.removeAttribute('data-result')")
    page.fill("#postcode", text)
    page.press("#postcode", "Enter")
    page.wait_for_selector("body[data-result]", timeout=15_000)
    return page.get_attribute("body", "data-result")


def _highlighted(page) -> int:
    return page.locator(f"path.leaflet-interactive[fill='{ERROR_FILL}']").count()


def test_the_map_loads_offline_with_44_footprints(page, server):
    page.goto(server + "/")
    page.wait_for_selector("body[data-footprints='44']", timeout=20_000)
    assert page.locator("path.leaflet-interactive").count() == 44
    assert "Office for National Statistics" in page.inner_text("footer")
    assert "Royal Mail" in page.inner_text("footer")
    assert page.offsite == []
    assert page.errors == []


def test_search_highlights_the_footprint_and_shows_details(page, server):
    expected = httpx.get(server + "/postcodes/NG1%205DT").json()
    page.goto(server + "/")
    page.wait_for_selector("body[data-footprints='44']", timeout=20_000)
    assert _search(page, "ng1 5dt") == "ok"
    assert expected["footprint_name"] in page.inner_text("#status")
    details = page.inner_text("#result")
    assert "NG1 5DT" in details and expected["footprint_code"] in details and expected["ccg_name"] in details
    assert _highlighted(page) == 1
    assert page.locator("path.leaflet-interactive[fill='#d5281b']").count() == 1  # the postcode's marker
    # a second postcode moves the highlight
    other = httpx.get(server + "/postcodes/TD15%201AA").json()
    assert other["status"] == "ok" and other["footprint_code"] != expected["footprint_code"]
    assert _search(page, "TD15 1AA") == "ok"
    assert other["footprint_name"] in page.inner_text("#result") and _highlighted(page) == 1
    assert page.offsite == [] and page.errors == []


def test_unknown_and_invalid_postcodes_say_so(page, server):
    page.goto(server + "/")
    page.wait_for_selector("body[data-footprints='44']", timeout=20_000)
    assert _search(page, "NG1 9ZZ") == "not_found"
    status = page.locator("#status")
    assert "NG1 9ZZ" in status.inner_text() and status.get_attribute("class") == "error"
    assert page.locator("#result").is_hidden() and _highlighted(page) == 0
    assert _search(page, "hello") == "invalid"
    assert httpx.get(server + "/postcodes/hello").json()["message"] in status.inner_text()
    assert _search(page, "EH1 1YZ") == "outside_england"
    assert "Scotland" in status.inner_text()
    # the only console errors are the browser noting the 404 and 400 answers
    assert all("404" in e or "400" in e for e in page.errors), page.errors


def test_text_from_the_server_is_never_html(page, server):
    page.goto(server + "/")
    page.wait_for_selector("body[data-footprints='44']", timeout=20_000)
    evil = "<img src=x onerror=alert(1)>"
    assert _search(page, evil) == "invalid"
    assert evil in page.inner_text("#status")
    assert page.locator("#panel img").count() == 0 and page.dialogs == []


def test_vintage_switch_and_clicking_a_footprint(page, server):
    page.goto(server + "/?vintage=2021")
    page.wait_for_selector("body[data-footprints='42']", timeout=20_000)
    assert page.locator("path.leaflet-interactive").count() == 42
    page.select_option("#vintage", "2017")
    page.wait_for_selector("body[data-footprints='44']", timeout=20_000)
    page.locator("path.leaflet-interactive").nth(10).dispatch_event("click")
    page.wait_for_selector("#footprint:not([hidden])", timeout=10_000)
    assert page.inner_text("#footprint-title").strip()
    assert page.locator("#footprint-ccgs li").count() >= 1
    assert page.offsite == [] and page.errors == []


def test_postcode_in_the_address_is_searched(page, server, tmp_path):
    page.goto(server + "/?postcode=NG15DT")
    page.wait_for_selector("body[data-result='ok']", timeout=20_000)
    assert page.input_value("#postcode") == "NG15DT" and _highlighted(page) == 1
    shot = tmp_path / "serve.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000


def test_api_docs_render_offline(page, server):
    page.goto(server + "/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.title() == "stpmap API"
    assert page.locator(".opblock").count() >= 8
    assert "/postcodes/{postcode}" in page.inner_text("body")
    assert page.offsite == [] and page.errors == []
