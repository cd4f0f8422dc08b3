"""The interactive maps in a real browser: Playwright driving Debian's Chromium.

The network is blocked at the browser level too: every request that is not a
file: or data: URL is aborted and recorded, and the tests check none was made.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from stpmap.maps.html import explore, save

pytestmark = pytest.mark.browser



class Page:
    """A page with the network blocked and console errors recorded."""

    def __init__(self, browser, path):
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})
        self.errors, self.requests, self.dialogs = [], [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

        def route(r):
            url = r.request.url
            if url.startswith(("file:", "data:")):
                r.continue_()
            else:
                self.requests.append(url)
                r.abort()

        self.page.route("**/*", route)
        self.page.goto(path.as_uri())
        self.page.wait_for_function("window.stpmap && window.stpmap.map")

    def centre_of(self, layer, code):
        return self.page.evaluate(
            """([layer, code]) => {
                const s = window.stpmap.layers[layer].byCode[code];
                const p = window.stpmap.map.latLngToContainerPoint(s.getCenter());
                const r = document.querySelector('.folium-map').getBoundingClientRect();
                return [p.x + r.left, p.y + r.top];
            }""",
            [layer, code],
        )

    def close(self):
        self.page.close()


@pytest.fixture(scope="module")
def offline_national(atlas_cache, tmp_path_factory):
    return save(explore(offline=True), tmp_path_factory.mktemp("b") / "national.html")


def test_offline_national_map_works_with_no_network(browser, offline_national, tmp_path):
    pg = Page(browser, offline_national)
    try:
        assert pg.page.locator("path.leaflet-interactive").count() == 44
        x, y = pg.centre_of("stp", "E54000013")  # Lincolnshire: big, easy to hit
        pg.page.mouse.move(x, y)
        tip = pg.page.locator(".leaflet-tooltip")
        tip.wait_for(state="visible")
        assert "Lincolnshire" in tip.inner_text() and "E54000013" in tip.inner_text()
        assert "Population" in tip.inner_text()
        assert "Office for National Statistics" in pg.page.locator(".leaflet-control-attribution").inner_text()
        assert "ONS region" in pg.page.locator(".stpmap-legend").inner_text()
        png = pg.page.screenshot()
        from PIL import Image

        im = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        assert len(np.unique(im.reshape(-1, 3)[::5], axis=0)) > 30  # shapes drawn, not a blank page
        assert pg.requests == []  # nothing was even attempted
        assert pg.errors == []
    finally:
        pg.close()


def test_popup_lists_ccgs_and_local_authorities(browser, offline_national):
    pg = Page(browser, offline_national)
    try:
        x, y = pg.centre_of("stp", "E54000005")  # West Yorkshire
        pg.page.mouse.click(x, y)
        popup = pg.page.locator(".leaflet-popup-content")
        popup.wait_for(state="visible")
        text = popup.inner_text()
        assert "West Yorkshire" in text and "11 CCGs" in text and "7 local authorities" in text
        assert "Leeds" in text and "Bradford" in text and "Airedale, Wharfedale and Craven" in text
        assert pg.errors == []
    finally:
        pg.close()


def test_search_by_ccg_name_and_footprint_code(browser, offline_national):
    pg = Page(browser, offline_national)
    try:
        box = pg.page.locator(".stpmap-search input")
        box.fill("airedale wharfedale & craven")
        box.press("Enter")
        popup = pg.page.locator(".leaflet-popup-content")
        popup.wait_for(state="visible")
        assert "West Yorkshire" in popup.inner_text()
        box.fill("E54000036")
        box.press("Enter")
        pg.page.wait_for_function("document.querySelector('.leaflet-popup-content').innerText.includes('Cornwall')")
        box.fill("Atlantis")
        box.press("Enter")
        assert "No footprint or CCG matches" in pg.page.locator(".stpmap-search-msg").inner_text()
        assert pg.errors == []
    finally:
        pg.close()


def test_ccg_overlay_in_a_layer_control(browser, atlas_cache, tmp_path):
    path = save(explore(overlay="ccg", offline=True), tmp_path / "ccg.html")
    pg = Page(browser, path)
    try:
        assert pg.page.locator("path.leaflet-interactive").count() == 44 + 207
        boxes = pg.page.locator(".leaflet-control-layers-overlays input")
        assert boxes.count() == 2
        boxes.nth(1).uncheck()
        assert pg.page.locator("path.leaflet-interactive").count() == 44
        assert pg.requests == [] and pg.errors == []
    finally:
        pg.close()


def test_text_from_data_shows_as_text(browser, atlas_cache, tmp_path):
    import stpmap

    fp = stpmap.footprints(2017)
    df = pd.DataFrame({"code": fp["code"], "Rating": ["<script>alert(1)</script>", "<img src=x onerror=alert(3)>"] * 22})
    path = save(explore(data=df, title="<script>alert(2)</script>", offline=True), tmp_path / "xss.html")
    pg = Page(browser, path)
    try:
        assert pg.page.locator(".stpmap-title h1").inner_text() == "<script>alert(2)</script>"
        legend = pg.page.locator(".stpmap-legend").inner_text()
        assert "<script>alert(1)</script>" in legend and "<img src=x onerror=alert(3)>" in legend
        x, y = pg.centre_of("stp", "E54000013")
        pg.page.mouse.move(x, y)
        pg.page.locator(".leaflet-tooltip").wait_for(state="visible")
        assert "Rating: <" in pg.page.locator(".leaflet-tooltip").inner_text()
        assert pg.dialogs == []  # no script ran
        assert pg.page.locator(".leaflet-container img[src='x']").count() == 0
        assert pg.requests == [] and pg.errors == []
    finally:
        pg.close()


# ---------------------------------------------------------------- search by every name of a footprint

#: Names that exercise every rule of footprint_key: case, punctuation, '&', filler words, the trailing
#: 'health and care', county short forms, non-ASCII letters, words that are also JavaScript property names.
TRICKY_NAMES = [
    "NHS Bedfordshire, Luton & Milton Keynes Integrated Care Board", "West Yorkshire and Harrogate (Health and Care Partnership)",
    "Frimley Health & Care ICS", "  The   North-East and North Cumbria ICS ", "Nottingham & Nottinghamshire Health and Care",
    "Cornwall and the Isles of Scilly Health & Social Care Partnership", "Health and Care", "ICS ICB NHS STP footprint",
    "Sustainability and Transformation Partnership: Herts and West Essex", "Bucks, Oxon & Berks West", "Lancs. & S. Cumbria",
    "integrated care boards of Staffs & Stoke-on-Trent", "nhsx icbs stps", "Coöperative Ünïcode — names’ “quotes”",
    "İstanbul ǅ ß \u212a", "constructor", "__proto__ hasOwnProperty toString", "Tab\tseparated\nlines", "", "   ",
    "123 & 456", "BNSSG", "qhg", "02M", "Health and Social Care Partnership of the North", "Mid and South Essex STP",
]


def test_js_puts_names_in_the_form_python_compares(browser, offline_national):
    """The search box's port of footprint_key agrees with Python on tricky names and every alias and CCG name."""
    from stpmap.data import atlas as _atlas
    from stpmap.data.aliases import aliases, footprint_key

    names = TRICKY_NAMES + [a.alias for a in aliases()] + list(_atlas.table("ccg", 2017, columns=["name"])["name"])
    pg = Page(browser, offline_national)
    try:
        got = pg.page.evaluate("names => names.map(n => window.stpmap.key(n))", names)
        assert got == [footprint_key(n) for n in names]
        assert pg.errors == []
    finally:
        pg.close()


@pytest.mark.parametrize("text, code", [("bnssg", "E54000039"), ("frimley icb", "E54000034"), ("QHG", "E54000024"),
                                        ("BLMK", "E54000024"), ("snee", "E54000023"),
                                        ("NHS Bristol, North Somerset & South Gloucestershire ICB", "E54000039"),
                                        ("Cambridge & Peterborough", "E54000021"), ("02M", "E54000048")])
def test_search_finds_a_footprint_by_any_name_abbreviation_or_code(browser, offline_national, text, code):
    import stpmap

    name = stpmap.footprints(2017).set_index("code").loc[code, "name"]
    pg = Page(browser, offline_national)
    try:
        box = pg.page.locator(".stpmap-search input")
        box.fill(text)
        box.press("Enter")
        popup = pg.page.locator(".leaflet-popup-content h4")
        popup.wait_for(state="visible")
        assert popup.inner_text() == name
        # the footprint found is the one highlighted
        assert pg.page.evaluate("c => window.stpmap.layers.stp.byCode[c].options.color", code) == "#003087"
        assert pg.page.locator(".stpmap-search-msg").inner_text() == ""
        assert pg.errors == []
    finally:
        pg.close()


def test_search_agrees_with_the_resolver_on_every_alias(browser, offline_national):
    """Every exact alias the resolver reads as a footprint of 2017 finds that footprint in the 2017 map."""
    from stpmap.data.aliases import aliases, codes, resolve_footprint

    expected = {}
    for a in aliases():
        if a.code not in codes(2017):
            continue
        res = resolve_footprint(a.alias, 2017)
        if res.in_vintage and res.matched_by != "fuzzy":
            expected[a.alias] = res.code
    assert len(expected) > 150
    pg = Page(browser, offline_national)
    try:
        got = pg.page.evaluate("names => names.map(n => { const h = window.stpmap.find(n); "
                               "return h ? h.shape.feature.properties.code : null; })", list(expected))
        assert dict(zip(expected, got)) == expected
    finally:
        pg.close()
