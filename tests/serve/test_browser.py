"""`stpmap serve` in a browser: the map page and its postcode search box.

A real server (`stpmap serve` through uvicorn, in a subprocess on a free
loopback port: serve_process.py) and Debian's Chromium
driven by Playwright. Every request the page makes must stay on the server:
nothing from a CDN or a tile server. Both pages run under their
Content-Security-Policy: any violation is recorded (the console's messages and
the `securitypolicyviolation` events) and fails the test.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlparse

import httpx
import pytest
from serve_process import cors_server

pytestmark = pytest.mark.browser

ERROR_FILL = "#ffb81c"  # the highlight colour in app.js


server = pytest.fixture(scope="module", name="server")(cors_server)


#: Run in every page before its own scripts: report each CSP violation on the console.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.log("securitypolicyviolation: " + e.violatedDirective + " blocked " + e.blockedURI
              + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


def _csp_message(text: str) -> bool:
    return text.startswith("securitypolicyviolation:") or "Content Security Policy" in text


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.offsite = []
    page.errors = []
    page.dialogs = []
    page.csp = []  # Content-Security-Policy violations: the console's messages and the events

    def route(r):
        if urlparse(r.request.url).hostname not in ("127.0.0.1", "localhost") and not r.request.url.startswith("data:"):
            page.offsite.append(r.request.url)
            return r.abort()
        return r.continue_()

    page.route("**/*", route)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("console", lambda m: page.csp.append(m.text) if _csp_message(m.text) else None)
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.add_init_script(REPORT_VIOLATIONS)
    yield page
    page.close()
    assert page.csp == [], "Content-Security-Policy violations: " + "; ".join(page.csp)


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


@pytest.mark.parametrize("text, code, matched_by", [("bnssg", "E54000039", "short_name"),
                                                    ("frimley icb", "E54000034", "ons_name"),
                                                    ("QHG", "E54000024", "ods_code"),
                                                    ("02M", "E54000048", "ccg_ods_code")])
def test_search_box_finds_a_footprint_by_name_abbreviation_or_code(page, server, text, code, matched_by):
    expected = httpx.get(f"{server}/footprints/{code}").json()
    page.goto(server + "/")
    page.wait_for_selector("body[data-footprints='44']", timeout=20_000)
    assert _search(page, text) == "footprint"
    assert page.get_attribute("body", "data-footprint") == code
    assert page.get_attribute("body", "data-matched-by") == matched_by
    assert expected["name"] in page.inner_text("#status") and page.inner_text("#footprint-title") == expected["name"]
    assert page.locator("#footprint-ccgs li").count() == expected["ccg_count"]
    assert _highlighted(page) == 1 and page.locator("#result").is_hidden()
    assert page.offsite == [] and page.errors == []


def test_search_box_says_a_fuzzy_match_and_the_closest_names(page, server):
    page.goto(server + "/")
    page.wait_for_selector("body[data-footprints='44']", timeout=20_000)
    assert _search(page, "NHS Frimly ICB") == "footprint"
    status = page.locator("#status")
    assert page.get_attribute("body", "data-matched-by") == "fuzzy" and "close match" in status.inner_text()
    assert page.get_attribute("body", "data-footprint") == "E54000034" and _highlighted(page) == 1
    assert _search(page, "Kent Surrey") == "invalid"  # neither a footprint nor a postcode
    assert "did you mean" in status.inner_text() and "Kent and Medway" in status.inner_text()
    assert _highlighted(page) == 0
    assert _search(page, "Cumbria and North East") == "other_vintage"
    assert "2018" in status.inner_text() and status.get_attribute("class") == "error"
    # the only console errors are the browser noting the 404 and 400 answers
    assert all("404" in e or "400" in e for e in page.errors), page.errors


def test_api_docs_render_offline(page, server):
    page.goto(server + "/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.title() == "stpmap API"
    assert page.locator(".opblock").count() >= 8
    assert "/postcodes/{postcode}" in page.inner_text("body")
    assert page.offsite == [] and page.errors == []


# ---------------------------------------------------------------- security headers and CSP


def _policy(headers) -> dict[str, list[str]]:
    """The Content-Security-Policy of an answer: directive -> sources."""
    parts = [d.split() for d in headers["content-security-policy"].split(";") if d.strip()]
    return {d[0]: d[1:] for d in parts}


def _assert_protected(headers):
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer"
    policy = _policy(headers)
    assert policy["default-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    for directive in ("script-src", "style-src"):
        assert "'unsafe-eval'" not in policy[directive] and "'unsafe-inline'" not in policy[directive]
    return policy


def test_map_page_works_under_its_security_policy(page, server):
    policy = _assert_protected(page.goto(server + "/").headers)
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    page.wait_for_selector("body[data-footprints='44']", timeout=20_000)
    assert page.locator("path.leaflet-interactive").count() == 44
    assert _search(page, "NG1 5DT") == "ok" and _highlighted(page) == 1
    assert page.csp == [] and page.errors == [] and page.offsite == []


def test_docs_work_under_their_security_policy(page, server):
    policy = _assert_protected(page.goto(server + "/docs").headers)
    # the one inline script (FastAPI's start of Swagger UI) is allowed by its hash, and nothing else inline
    inline = re.findall(r"<script>(.*?)</script>", httpx.get(server + "/docs").text, re.S)
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert len(inline) == 1 and policy["script-src"] == ["'self'", f"'sha256-{digest}'"]
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() >= 8
    health = page.locator(".opblock").filter(has_text="/health")
    health.locator(".opblock-summary").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()  # a request from the docs, under connect-src
    status = health.locator(".live-responses-table tr.response .response-col_status")
    status.wait_for(timeout=10_000)
    assert status.inner_text().strip() == "200"
    assert page.csp == [] and page.errors == [] and page.offsite == []


def test_a_violation_would_be_seen(page, server):
    """The listeners work: an inline style attribute, which the map page's policy forbids, is reported."""
    page.goto(server + "/")
    page.wait_for_selector("body[data-footprints='44']", timeout=20_000)
    page.evaluate("document.body.setAttribute('style', 'outline: 1px solid red')")
    page.wait_for_timeout(500)
    assert any("style-src" in m for m in page.csp), page.csp
    page.csp.clear()


def test_pages_cannot_be_framed(page, server):
    page.set_content(f'<iframe src="{server}/"></iframe><iframe src="{server}/docs"></iframe>')
    page.wait_for_timeout(1500)
    framed = [f for f in page.frames if f != page.main_frame]
    assert len(framed) == 2
    for frame in framed:  # refused: the frame holds Chromium's error page, not ours
        assert frame.evaluate("document.getElementById('map') === null && document.querySelector('.swagger-ui') === null")
    assert sum("frame-ancestors" in m for m in page.csp) >= 2, page.csp
    page.csp.clear()
