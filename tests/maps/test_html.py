"""Interactive (HTML) maps: size, shared borders, one copy of each layer,
offline self-containment, escaping of user text, and the map command."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from stpmap.maps import html as _maps_html
from stpmap.maps import prepare as _mapdata
from stpmap.maps.html import encode_geometries, explore, save

MB = 1024 * 1024


def decode(s: str):
    """Google encoded polyline -> [(lon, lat)] (the JavaScript decoder's twin)."""
    i, lat, lng, out = 0, 0, 0, []
    while i < len(s):
        vals = []
        for _ in range(2):
            shift = res = 0
            while True:
                b = ord(s[i]) - 63
                i += 1
                res |= (b & 31) << shift
                shift += 5
                if b < 32:
                    break
            vals.append(~(res >> 1) if res & 1 else res >> 1)
        lat += vals[0]
        lng += vals[1]
        out.append((lng / 1e5, lat / 1e5))
    return out


def data_of(html_text: str) -> dict:
    m = re.search(r"stpmapBuild\([^,]+, (\{.*\}), \[.*\]\);", html_text)
    assert m, "the map's data call is missing"
    return json.loads(m.group(1))


def layers_of(html_text: str) -> list[dict]:
    return data_of(html_text)["layers"]


def test_polyline_round_trip():
    g = shapely.MultiPolygon([
        shapely.Polygon([(-1.5, 52.1), (-1.2, 52.123456), (-1.3, 53.0)], [[(-1.3, 52.3), (-1.31, 52.35), (-1.29, 52.33)]]),
        shapely.box(0.1, 50.0, 0.2, 50.5),
    ])
    enc = encode_geometries([g, shapely.box(-3, -4, 5, 6)])
    assert len(enc) == 2 and len(enc[0]) == 2 and len(enc[0][0]) == 2  # polygons, rings
    assert decode(enc[0][0][0]) == [(-1.5, 52.1), (-1.2, 52.12346), (-1.3, 53.0)]
    assert decode(enc[0][0][1]) == [(-1.3, 52.3), (-1.31, 52.35), (-1.29, 52.33)]
    assert sorted(decode(enc[1][0][0])) == [(-3.0, -4.0), (-3.0, 6.0), (5.0, -4.0), (5.0, 6.0)]


def test_script_json_cannot_close_the_script():
    s = _maps_html._json_for_script({"name": "</script><script>alert(1)</script>", "x": "a & b"})
    assert "<" not in s and ">" not in s and "&" not in s
    assert json.loads(s)["name"] == "</script><script>alert(1)</script>"


def test_simplified_borders_stay_shared(atlas_cache):
    """Footprints dissolved from coverage-simplified CCGs: no gaps, no overlaps."""
    ccg = _mapdata.simplified("ccg", 2017, _maps_html.NATIONAL_TOLERANCE)
    stp = _mapdata.simplified("stp", 2017, _maps_html.NATIONAL_TOLERANCE)
    assert len(stp) == 44 and len(ccg) == 207
    by = ccg.groupby("stp_code").geometry.apply(lambda g: shapely.union_all(g.values))
    for code, geom in zip(stp["code"], stp.geometry):
        assert shapely.symmetric_difference(geom, by[code]).area < 1.0  # m²
    tree = shapely.STRtree(stp.geometry.values)
    a, b = tree.query(stp.geometry.values, predicate="intersects")
    overlap = sum(shapely.intersection(stp.geometry.values[i], stp.geometry.values[j]).area for i, j in zip(a, b) if i < j)
    assert overlap < 1_000.0  # m² over all of England: borders coincide
    # simplification really happened
    full = _mapdata.simplified("ccg", 2017, 0.0)
    assert shapely.get_num_coordinates(ccg.geometry.values).sum() < 0.8 * shapely.get_num_coordinates(full.geometry.values).sum()


@pytest.fixture(scope="module")
def national_ccg(atlas_cache, tmp_path_factory):
    folder = tmp_path_factory.mktemp("html")
    online = save(explore(overlay="ccg"), folder / "online.html")
    offline = save(explore(overlay="ccg", offline=True), folder / "offline.html")
    return online, offline


def test_national_map_with_ccgs_is_small(national_ccg):
    online, offline = national_ccg
    assert online.stat().st_size <= 1.5 * MB
    assert offline.stat().st_size <= 1.5 * MB


def test_each_layer_is_written_once(national_ccg):
    online, _ = national_ccg
    text = online.read_text()
    layers = layers_of(text)
    assert [(l["id"], len(l["features"])) for l in layers] == [("stp", 44), ("ccg", 207)]
    assert text.count("stpmapBuild(") == 1  # one call draws every layer
    for layer in layers:  # each ring's coordinates are in the page once
        ring = max((r for f in layer["features"] for poly in f["g"] for r in poly), key=len)
        assert len(ring) > 200 and text.count(json.dumps(ring)[1:-1]) == 1
    assert "FeatureCollection" not in text  # no folium GeoJSON copy of the data
    stp = {f["p"]["code"]: f for f in layers[0]["features"]}
    p = stp["E54000005"]["p"]
    assert p["name"] == "West Yorkshire" and p["population"] == 2517583 and p["region"] == "Yorkshire and The Humber"
    assert len(p["ccgs"]) == 11 and len(p["lads"]) == 7
    assert sum(c[2] for c in p["ccgs"]) == p["population"]


def test_footprint_borders_are_ccg_borders_in_the_page(national_ccg):
    layers = layers_of(national_ccg[0].read_text())
    ccg_pts = {pt for f in layers[1]["features"] for poly in f["g"] for ring in poly for pt in decode(ring)}
    stp_pts = {pt for f in layers[0]["features"] for poly in f["g"] for ring in poly for pt in decode(ring)}
    assert stp_pts <= ccg_pts  # every footprint vertex is a CCG vertex, to the metre


def test_offline_file_needs_no_network(national_ccg):
    online, offline = national_ccg
    text = offline.read_text()
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)\s*=\s*["']?(https?:)?//""", text, re.I)
    assert not re.search(r"""url\(\s*["']?(https?:)?//""", text)
    assert "images/layers.png" not in text and "data:image/png;base64," in text
    assert "tile.openstreetmap.org" not in text
    assert "Leaflet 1.9.4" in text or "1.9.4" in text
    on = online.read_text()
    assert "tile.openstreetmap.org" in on and "OpenStreetMap" in on  # the default basemap, credited
    assert "cdn.jsdelivr.net/npm/leaflet@1.9.4" in on


def test_attribution_and_legend_are_in_the_page(national_ccg):
    text = national_ccg[1].read_text()
    assert "Office for National Statistics" in text and "Crown copyright" in text
    assert "ONS region" in text and "Yorkshire and The Humber" in text


def test_user_text_is_escaped(atlas_cache, tmp_path):
    import stpmap

    fp = stpmap.footprints(2017)
    df = pd.DataFrame({"code": fp["code"], "<img src=x onerror=alert(1)>": ["<script>alert(1)</script>", "Good"] * 22})
    m = explore(data=df, title="<script>alert(2)</script> & co", offline=True)
    text = save(m, tmp_path / "x.html").read_text()
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(2)&lt;/script&gt; &amp; co" in text  # the title, as text
    legend = data_of(text)["legend_html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in legend and "<script" not in legend  # the legend entry, as text


def test_selection_is_fitted_and_finer(atlas_cache, tmp_path):
    text = save(explore(group="London", layer="ccg", offline=True), tmp_path / "l.html").read_text()
    layers = layers_of(text)
    assert [l["id"] for l in layers] == ["ccg", "stp_outline"]
    assert len(layers[0]["features"]) == 32 and len(layers[1]["features"]) == 5
    lons = [pt[0] for f in layers[0]["features"] for poly in f["g"] for ring in poly for pt in decode(ring)]
    assert -0.6 < min(lons) and max(lons) < 0.4  # London only
    from stpmap.maps.options import MapOptions, select

    assert _maps_html._auto_tolerance(select(MapOptions(2017, "London"))) < _maps_html.NATIONAL_TOLERANCE


# ------------------------------------------------------------------ CLI


def test_cli_map_defaults_to_png_in_maps(atlas_cache, tmp_path, monkeypatch):
    from stpmap.cli import main

    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["map"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "maps" / "footprints-2017.png"
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Wrote maps/footprints-2017.png" in r.output


def test_cli_map_html_offline_and_errors(atlas_cache, tmp_path, monkeypatch):
    from stpmap.cli import main

    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["map", "--group", "London", "--layer", "ccg", "--format", "html", "--offline"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "maps" / "ccgs-2017-london.html").exists()
    r = CliRunner().invoke(main, ["map", "--colour-by", "population", "--scheme", "jenkz"])
    assert r.exit_code == 2 and "Unknown scheme 'jenkz'" in r.output and "natural_breaks" in r.output
    r = CliRunner().invoke(main, ["map", "--group", "Atlantis"])
    assert r.exit_code == 2 and "Unknown group 'Atlantis'" in r.output
    r = CliRunner().invoke(main, ["map", "-o", "x.pdf", "--size", "12x9cm"])
    assert r.exit_code == 0 and (tmp_path / "x.pdf").read_bytes()[:4] == b"%PDF"


def test_cli_map_with_data_reports_unmatched(atlas_cache, tmp_path, monkeypatch):
    from stpmap.data import atlas as _atlas
    from stpmap.cli import main

    monkeypatch.chdir(tmp_path)
    ccg = _atlas.table("ccg", 2017)
    pd.DataFrame({"CCG17CDH": list(ccg["ods_code"]) + ["QQQ"], "Rate": list(np.arange(207) / 10) + [1.0]}).to_csv("r.csv", index=False)
    r = CliRunner().invoke(main, ["map", "--data", "r.csv"])  # output holds stderr too
    assert r.exit_code == 2 and "--aggregate sum" in r.output
    r = CliRunner().invoke(main, ["map", "--data", "r.csv", "--aggregate", "mean", "--format", "html"])
    assert r.exit_code == 0, r.output
    assert "'QQQ'" in r.output  # reported by value
    assert (tmp_path / "maps" / "footprints-2017-r.html").exists()


def test_recipes_render_and_list_choices(atlas_cache, tmp_path, monkeypatch):
    from stpmap.maps import recipes as _recipes
    from stpmap.cli import main

    monkeypatch.chdir(tmp_path)
    names = set(_recipes.available())
    assert {"national", "london", "population"} <= names
    r = CliRunner().invoke(main, ["map", "--recipe", "nope"])
    assert r.exit_code == 2 and "Valid choices: all" in r.output and "national" in r.output
    (tmp_path / "mine.toml").write_text('formats = ["html", "png"]\ngroup = "East of England"\noffline = true\nsize = "8x8"\n')
    r = CliRunner().invoke(main, ["map", "--recipe", "mine.toml", "-o", "out"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "mine.html").exists() and (tmp_path / "out" / "mine.png").exists()
    (tmp_path / "bad.toml").write_text('colour = "red"\n')
    r = CliRunner().invoke(main, ["map", "--recipe", "bad.toml"])
    assert r.exit_code == 2 and "Unknown recipe key 'colour'" in r.output


def test_a_format_given_as_a_flag_points_to_format(cli):
    """`stpmap map --html` is what people type first: the error says what works."""
    r = cli("map", "--html", code=2)
    assert "No such option: --html. The format is one option: --format html." in r.stderr
