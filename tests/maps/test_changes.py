"""The lineage picture (``stpmap map --changes FROM TO``): what became of the
footprints between each two consecutive vintages, checked against the known
changes; the territory that moved; the static and interactive maps; the
command. The browser tests drive Debian's Chromium through Playwright with
the network blocked, as tests/maps/test_html_browser.py does."""

from __future__ import annotations

import re

import pytest

import stpmap
from stpmap.data import atlas as _atlas
from stpmap.errors import ChoiceError, InputError
from stpmap.maps import changes as _changes

PAIRS = [(2017, 2018), (2018, 2019), (2019, 2020), (2020, 2021), (2021, 2022)]
VALID = "2017, 2018, 2019, 2020, 2021, 2022"


@pytest.fixture(scope="module")
def facts():
    """(changes, moved) of each consecutive pair, and of 2017 to 2022."""
    return {pair: _changes._facts(*pair) for pair in [*PAIRS, (2017, 2022)]}


def row(ch, code):
    found = ch[ch["code"] == code]
    assert len(found) == 1, code
    return found.iloc[0]


def moved_pairs(pieces):
    return {(f, t): int(p) for f, t, p in zip(pieces["from_code"], pieces["to_code"], pieces["population"])}


# ------------------------------------------------------------------ facts


def test_2018_three_northern_footprints_merged(facts):
    ch, pieces = facts[2017, 2018]
    merged = row(ch, "E54000049")
    assert merged["category"] == "merged"
    assert merged["merged_from"] == "E54000045; E54000046; E54000047"
    assert merged["story"] == "E54000049 Cumbria and North East (2018) = E54000045 + E54000046 + E54000047 of 2017."
    assert len(ch) == 42 and set(ch.loc[ch["code"] != "E54000049", "category"]) == {"unchanged"}
    assert pieces.empty  # whole footprints merged: no territory moved between footprints


def test_2019_renames_only_no_geometry_change(facts):
    ch, pieces = facts[2018, 2019]
    assert set(ch["category"]) == {"renamed", "unchanged"}
    assert (ch["code"] == ch["from_codes"]).all()
    assert (ch["population_gained"] == 0).all() and (ch["population_lost"] == 0).all() and pieces.empty
    assert "renamed from “West Yorkshire”" in row(ch, "E54000005")["story"]
    assert (ch["category"] == "renamed").sum() == 15


def test_2020_north_yorkshire_and_east_surrey_moved(facts):
    ch, pieces = facts[2019, 2020]
    assert moved_pairs(pieces) == {("E54000005", "E54000051"): 160_044, ("E54000049", "E54000051"): 153_164,
                                   ("E54000033", "E54000052"): 191_650}
    labels = dict(zip(pieces["from_code"], pieces["label"]))
    assert labels["E54000005"] == "Harrogate and Rural District CCG"
    assert labels["E54000049"] == "Hambleton, Richmondshire and Whitby CCG"
    assert labels["E54000033"].startswith("East Surrey CCG")
    for code, category in {"E54000051": "gained area", "E54000052": "gained area", "E54000050": "lost area",
                           "E54000053": "lost area", "E54000054": "lost area"}.items():
        assert row(ch, code)["category"] == category and "new code" in row(ch, code)["change"], code
    assert ch["population_gained"].sum() == ch["population_lost"].sum() == pieces["population"].sum()
    assert "+ Harrogate and Rural District CCG (160,044 people, from E54000005)" in row(ch, "E54000051")["story"]


def test_2021_nothing_moved(facts):
    ch, pieces = facts[2020, 2021]
    assert pieces.empty and (ch["code"] == ch["from_codes"]).all()
    assert ch.loc[ch["category"] != "unchanged", "code"].tolist() == ["E54000053"]  # Sussex's new name
    assert row(ch, "E54000053")["category"] == "renamed"


def test_2022_moved_and_new_codes_from_e54000055(facts):
    ch, pieces = facts[2021, 2022]
    assert moved_pairs(pieces) == {("E54000007", "E54000058"): 33_334, ("E54000009", "E54000060"): 116_304,
                                   ("E54000016", "E54000055"): 175_800, ("E54000021", "E54000059"): 16_822}
    new = ch[ch["change"].str.contains("new code")]
    assert new["code"].tolist() == [f"E540000{n}" for n in range(55, 63)]
    assert set(new["category"]) == {"gained area", "lost area"}
    assert set(ch.loc[~ch["code"].isin(new["code"]), "category"]) == {"renamed"}  # every ICB has an NHS name
    assert "unchanged" not in set(ch["category"])


def test_moved_territory_is_drawn_from_the_2017_ccgs(facts):
    """Glossop's piece is the part of Tameside and Glossop CCG that the atlas
    build cut off: the same area as its manifest records."""
    _, pieces = facts[2021, 2022]
    glossop = pieces[pieces["to_code"] == "E54000058"].iloc[0]
    assert glossop["label"] == "High Peak part of Tameside and Glossop CCG" and glossop["letter"] == "A"
    split = [a for a in _atlas.manifest(2022)["approximations"] if a["name_2017"] == "NHS Tameside and Glossop CCG"]
    assert glossop["area_km2"] == pytest.approx(split[0]["moved"]["area_km2"], rel=0.005)
    assert glossop["lsoa_count"] == split[0]["moved"]["lsoas"]


def test_2017_to_2022_over_several_steps(facts):
    ch, pieces = facts[2017, 2022]
    assert len(pieces) == 7
    north = row(ch, "E54000050")
    assert north["category"] == "merged" and north["merged_from"] == "E54000045; E54000046; E54000047"
    assert north["population_lost"] == 153_164  # Hambleton, Richmondshire and Whitby went to Humber and North Yorkshire
    assert row(ch, "E54000051")["population_gained"] == 160_044 + 153_164


def test_backwards_the_merged_footprint_splits_and_territory_moves_back(facts):
    back = stpmap.changes(2018, 2017)
    for code in ("E54000045", "E54000046", "E54000047"):
        assert row(back, code)["category"] == "split" and row(back, code)["split_from"] == "E54000049"
    _, forward = facts[2017, 2022]
    assert moved_pairs(_changes.moved(2022, 2017)) == {(t, f): p for (f, t), p in moved_pairs(forward).items()}


def test_unknown_vintage_lists_the_valid_ones():
    with pytest.raises(ChoiceError, match=re.escape(VALID)):
        stpmap.changes(2017, 2016)
    with pytest.raises(ChoiceError, match="Unknown vintage 'twenty'"):
        _changes.moved("twenty", 2022)


def test_same_vintage_twice_is_a_clear_error():
    with pytest.raises(InputError, match="Both vintages are 2019.*two different"):
        stpmap.changes(2019, 2019)


def test_docstring_examples_hold():
    import doctest

    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(_changes, globs={"stpmap": stpmap}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 3 and result.failed == 0


# ----------------------------------------------------------------- pictures


def test_static_map_letters_and_rings_the_moved_territory():
    from matplotlib.patches import Circle

    fig = _changes.plot(2021, 2022)
    ax = fig.axes[0]
    assert {"A", "B", "C", "D"} <= {t.get_text() for t in ax.texts}
    rings = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(rings) >= 2  # Glossop and West Birmingham are too small to see without one
    assert fig.map_title == "How the footprints changed, April 2021 to July 2022"
    assert "4 pieces of territory moved footprint" in fig.alt_text
    assert "Bassetlaw CCG (116,304 people) from South Yorkshire and Bassetlaw to Nottingham and Nottinghamshire" \
        in fig.alt_text
    panel = " ".join(t.get_text() for a in fig.axes for t in a.texts)
    assert "Territory that moved" in panel and "Office for National Statistics" in " ".join(t.get_text() for t in fig.texts)


def test_changes_frame_plots_with_the_map_machinery():
    from stpmap.maps.prepare import from_frame
    from stpmap.maps.static import render

    md = from_frame(stpmap.changes(2019, 2020), colour_by="category", national=True, vintage=2020)
    assert dict((str(label), n) for label, n in md.gdf["category"].value_counts().items()) == \
        {"unchanged": 35, "lost area": 3, "gained area": 2, "renamed": 2}
    assert "gained area (2), lost area (3), renamed (2), unchanged (35)" in render(md).alt_text


def test_cli_writes_png_svg_and_html(cli, tmp_path):
    from PIL import Image

    png = tmp_path / "c.png"
    out = cli("map", "--changes", "2017", "2018", "-o", str(png), "--alt-text").output
    description = Image.open(png).info["Description"]
    assert "1 merged" in description and "E54000045 + E54000046 + E54000047" in description
    assert f"Alt text: {description}" in out
    svg = tmp_path / "c.svg"
    cli("map", "--changes", "2017", "2018", "--format", "svg", "-o", str(svg))
    text = svg.read_text(encoding="utf-8")
    assert "<title id=\"stpmap-title\">How the footprints changed, April 2017 to April 2018</title>" in text
    assert "E54000049 Cumbria and North East (2018) = E54000045 + E54000046 + E54000047 of 2017." in text
    html = tmp_path / "c.html"
    cli("map", "--changes", "2017", "2018", "-o", str(html), "--offline")
    page = html.read_text(encoding="utf-8")
    assert re.search(r'<p id="stpmap-description"[^>]*>Map of how the 44 STP footprints of April 2017', page)
    assert "Merged. E54000049 Cumbria and North East (2018) = E54000045 + E54000046 + E54000047 of 2017." in page


def test_cli_default_file_name(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "Wrote maps/changes-2021-2022.html" in cli("map", "--changes", "2021", "2022", "--format", "html").output
    assert (tmp_path / "maps" / "changes-2021-2022.html").stat().st_size > 10_000


@pytest.mark.parametrize("args, said", [
    (("2017", "2016"), f"Unknown vintage '2016'. Valid choices: {VALID}."),
    (("2019", "2019"), "Both vintages are 2019"),
    (("2019", "2020", "--group", "London"), "leave out --group"),
])
def test_cli_bad_changes(cli, args, said):
    result = cli("map", "--changes", *args, code=2)
    assert said in result.output + result.stderr


# ------------------------------------------------------------------ browser


def _open(browser, path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests, errors = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            requests.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    page.wait_for_function("window.stpmap && window.stpmap.map")
    return page, requests, errors


def _point(page, lat, lng):
    return page.evaluate("""([lat, lng]) => {
        const p = window.stpmap.map.latLngToContainerPoint([lat, lng]);
        const r = document.querySelector('.folium-map').getBoundingClientRect();
        return [p.x + r.left, p.y + r.top];
    }""", [lat, lng])


@pytest.mark.browser
def test_hover_and_click_tell_a_merged_footprints_story(browser, tmp_path):
    from stpmap.maps.html import save

    path = save(_changes.explore(2017, 2018, offline=True), tmp_path / "changes.html")
    page, requests, errors = _open(browser, path)
    try:
        inside = _atlas.layer("stp", 2018).set_index("code").to_crs(4326).geometry["E54000049"].representative_point()
        x, y = _point(page, inside.y, inside.x)
        page.mouse.move(x, y)
        tip = page.locator(".leaflet-tooltip")
        tip.wait_for(state="visible")
        assert "Merged. E54000049 Cumbria and North East (2018) = E54000045 + E54000046 + E54000047 of 2017." \
            in tip.inner_text()
        page.mouse.click(x, y)
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(state="visible")
        assert "What changed" in popup.inner_text() and "E54000045 + E54000046 + E54000047" in popup.inner_text()
        assert "Merged (1)" in page.locator(".stpmap-legend").inner_text()
        assert requests == [] and errors == []
    finally:
        page.close()


@pytest.mark.browser
def test_hover_on_moved_territory_says_where_it_went(browser, tmp_path):
    from stpmap.maps.html import save

    path = save(_changes.explore(2021, 2022, offline=True), tmp_path / "changes.html")
    pieces = _changes.moved(2021, 2022).to_crs(4326)
    bassetlaw = pieces[pieces["label"] == "Bassetlaw CCG"].geometry.iloc[0].representative_point()
    page, requests, errors = _open(browser, path)
    try:
        assert page.locator(".leaflet-stpmap-moved-pane path.leaflet-interactive").count() == 4
        page.mouse.move(*_point(page, bassetlaw.y, bassetlaw.x))
        tip = page.locator(".leaflet-tooltip").last
        tip.wait_for(state="visible")
        assert tip.inner_text().startswith("B. Bassetlaw CCG: 116,304 people moved from E54000009 South Yorkshire "
                                           "and Bassetlaw (2021) to E54000060")
        assert "Territory that moved" in page.locator(".stpmap-legend").inner_text()
        assert requests == [] and errors == []
    finally:
        page.close()
