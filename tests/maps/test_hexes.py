"""Hex cartograms of the real footprints and CCGs, their cache and HexJSON."""

from __future__ import annotations

import json

import pytest
import shapely

import stpmap
from stpmap import _cache
from stpmap.errors import ChoiceError, InputError
from stpmap.maps import hexes as HX
from stpmap.maps import hexlayout as H

OI_LAYOUT = "odileeds-hexmaps/nhs-icb-2022.hexjson"


def recall_of(frame, vintage: int, layer: str) -> float:
    """Recall of a frame's (code, q, r), measured on the vintage's boundaries."""
    src = HX.areas(vintage, layer)
    where = dict(zip(frame["code"], zip(frame["q"], frame["r"])))
    cells = [where[c] for c in src["code"]]
    return H.recall(cells, HX.border_pairs(src.geometry.values), frame.attrs.get("layout", "odd-r"))


@pytest.fixture(scope="module")
def oi_recall(atlas_cache, mirror):
    """Recall of Open Innovations' hand-made ICB 2022 layout on the 2021 boundaries."""
    import pandas as pd

    doc = json.loads((mirror / OI_LAYOUT).read_text())
    fp = stpmap.footprints(2021)
    by_ods = dict(zip(fp["ods_code"], fp["code"]))
    rows = [{"code": by_ods.get(k, h.get("STP21CD")), "q": h["q"], "r": h["r"]} for k, h in doc["hexes"].items()]
    frame = pd.DataFrame(rows)
    frame.attrs["layout"] = doc["layout"]
    assert set(frame["code"]) == set(fp["code"])  # every hex maps to a 2021 footprint
    return recall_of(frame, 2021, "stp")


@pytest.fixture(scope="module")
def layers(atlas_cache):
    return {key: HX.hexes(*key) for key in [(2017, "stp"), (2021, "stp"), (2021, "ccg")]}


@pytest.mark.parametrize("key, count", [((2017, "stp"), 44), ((2021, "stp"), 42), ((2021, "ccg"), 106)])
def test_every_area_has_exactly_one_hex_of_its_own(layers, key, count):
    hx = layers[key]
    src = HX.areas(*key)
    assert len(hx) == count and list(hx["code"]) == list(src["code"]) and list(hx["name"]) == list(src["name"])
    assert not hx[["q", "r"]].duplicated().any()
    occ = {H._pack(*H.offset_to_axial(q, r)): i for i, (q, r) in enumerate(zip(hx["q"], hx["r"]))}
    assert len(H._pieces(occ)) == 1  # one piece: no group of areas drifts off
    assert hx["q"].dtype == "int64" and hx["r"].dtype == "int64"
    # the hexagons tile without overlapping
    assert shapely.union_all(hx.geometry.values).area == pytest.approx(hx.geometry.area.sum())
    assert hx.attrs["vintage"] == key[0] and hx.attrs["layer"] == key[1] and hx.attrs["layout"] == "odd-r"
    assert hx.attrs["attribution"] == stpmap.attribution()


def test_recall_meets_the_goals(layers, oi_recall):
    assert 0.65 <= oi_recall <= 0.75  # about 0.69: 70 of the ~100 bordering pairs of 2021, whichever 2021 geometry
    assert recall_of(layers[(2017, "stp")], 2017, "stp") >= 0.75
    assert recall_of(layers[(2021, "stp")], 2021, "stp") >= oi_recall
    assert recall_of(layers[(2021, "ccg")], 2021, "ccg") >= 0.7
    assert layers[(2017, "stp")].attrs["recall"] == pytest.approx(recall_of(layers[(2017, "stp")], 2017, "stp"))


@pytest.mark.parametrize("vintage", [2017, 2021])
def test_the_shape_reads_as_england(layers, vintage):
    hx = layers[(vintage, "stp")].set_index("name")
    xy = {n: (g.centroid.x, g.centroid.y) for n, g in hx.geometry.items()}

    def at(word):
        return next(v for n, v in xy.items() if word in n)

    north, cornwall, kent = at("Northumberland" if vintage == 2017 else "Cumbria and North East"), at("Cornwall"), at("Kent")
    assert north[1] == max(y for _, y in xy.values())  # Northumberland (or the North East) on top
    assert cornwall[0] == min(x for x, _ in xy.values())  # Cornwall furthest west
    assert cornwall[1] < at("Devon")[1] + 1 and kent[0] > cornwall[0] + 3
    london = hx[hx["region"] == "London"]
    assert len(london) == 5 and london.geometry.centroid.x.mean() > hx.geometry.centroid.x.mean()  # south-east
    assert london.geometry.centroid.y.mean() < hx.geometry.centroid.y.mean()


def test_a_group_keeps_its_places_in_the_national_layout(layers):
    london = HX.hexes(2017, group="London")
    assert len(london) == 5
    national = layers[(2017, "stp")].set_index("code")
    assert (national.loc[london["code"], ["q", "r"]].values == london[["q", "r"]].values).all()


def test_unknown_layer_is_a_choice_error(atlas_cache):
    with pytest.raises(ChoiceError, match="ccg"):
        HX.hexes(2017, "lad")


# ------------------------------------------------------------ HexJSON


def test_hexjson_round_trips(layers, tmp_path):
    hx = layers[(2021, "stp")]
    path = tmp_path / "fp.hexjson"
    HX.to_hexjson(hx, path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["layout"] in H.LAYOUTS and doc["layout"] == "odd-r"
    assert sorted(doc["hexes"]) == sorted(hx["code"])
    assert doc["attribution"] == stpmap.attribution() and doc["vintage"] == 2021 and doc["layer"] == "stp"
    for row in hx.itertuples():
        h = doc["hexes"][row.code]
        assert type(h["q"]) is int and type(h["r"]) is int and (h["q"], h["r"]) == (row.q, row.r)
        assert h["n"] == row.name and h["ods_code"] == row.ods_code and h["region"] == row.region


def test_hexjson_of_ccgs_carries_their_footprint(layers):
    doc = json.loads(HX.to_hexjson(layers[(2021, "ccg")]))
    h = next(iter(doc["hexes"].values()))
    assert {"q", "r", "n", "ods_code", "stp_code", "stp_name"} <= set(h)


def test_hexjson_even_r_is_the_same_layout_renumbered(layers):
    hx = layers[(2017, "stp")]
    doc = json.loads(HX.to_hexjson(hx, layout="even-r"))
    pairs = HX.border_pairs(HX.areas(2017).geometry.values)
    cells = [(doc["hexes"][c]["q"], doc["hexes"][c]["r"]) for c in hx["code"]]
    assert H.recall(cells, pairs, "even-r") == pytest.approx(hx.attrs["recall"])
    with pytest.raises(InputError, match="odd-r"):
        HX.to_hexjson(hx, layout="odd-q")
    with pytest.raises(InputError, match="code"):
        HX.to_hexjson(hx.drop(columns="code"))


def test_cli_writes_hexjson(atlas_cache, cli, tmp_path, layers):
    out = tmp_path / "fp.hexjson"
    cli("footprints", "--vintage", "2021", "--format", "hexjson", "-o", str(out))
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert len(doc["hexes"]) == 42 and doc["attribution"] == stpmap.attribution()
    doc = json.loads(cli("footprints", "--vintage", "2021", "--format", "hexjson", "--layer", "ccg").stdout)
    assert len(doc["hexes"]) == 106 and doc["layer"] == "ccg"
    result = cli("footprints", "--layer", "ccg", "--format", "csv", code=2)
    assert "--format hexjson" in result.output + result.stderr


# ------------------------------------------------------------ the cache


def test_layout_is_cached_and_rebuilt_when_the_atlas_changes(layers, monkeypatch):
    calls = []
    real = HX._generate
    monkeypatch.setattr(HX, "_generate", lambda gdf: calls.append(len(gdf)) or real(gdf))
    before = HX.hexes(2021)
    assert calls == []  # current: read from the cache
    manifest = _cache.atlas_folder(2021) / _cache.MANIFEST
    text = manifest.read_text()
    try:
        doc = json.loads(text)
        doc["built"] = "2099-01-01T00:00:00"
        manifest.write_text(json.dumps(doc))
        after = HX.hexes(2021)
        assert calls == [42]  # a new atlas build: generated again
        assert _cache.read_manifest(HX.folder(2021, "stp"))["atlas_built"] == "2099-01-01T00:00:00"
        # and the same seed gave the same layout
        assert (after[["code", "q", "r"]].values == before[["code", "q", "r"]].values).all()
        HX.hexes(2021)
        assert calls == [42]
    finally:
        manifest.write_text(text)


def test_a_new_algorithm_version_or_parameters_rebuild(layers, monkeypatch):
    target = HX.folder(2017, "stp")
    assert _cache.is_current(target, HX.expected_manifest(2017, "stp"))
    monkeypatch.setattr(H, "ALGORITHM_VERSION", H.ALGORITHM_VERSION + 1)
    assert not _cache.is_current(target, HX.expected_manifest(2017, "stp"))
    monkeypatch.undo()
    assert _cache.is_current(target, HX.expected_manifest(2017, "stp"))
    monkeypatch.setattr(H.layout, "__kwdefaults__", {**H.layout.__kwdefaults__, "spread": 9.0})
    assert not _cache.is_current(target, HX.expected_manifest(2017, "stp"))


def test_a_cached_layout_for_other_areas_is_not_used(layers, monkeypatch):
    target = HX.folder(2021, "ccg")
    doc = json.loads((target / HX.LAYOUT_FILE).read_text())
    assert HX._read(target, doc["codes"]) is not None
    assert HX._read(target, doc["codes"][:-1]) is None


# ------------------------------------------------------------ drawing


def _hex_map(vintage=2017, **options):
    from stpmap.maps.prepare import prepare

    return prepare(vintage, shape="hex", **options)


@pytest.mark.parametrize("vintage, options", [(2017, {"colour_by": "population"}),
                                              (2021, {"layer": "ccg", "colour_by": "population", "k": 4})])
def test_a_hex_map_has_one_hexagon_per_area_with_the_geographic_maps_fills(atlas_cache, vintage, options):
    from stpmap.maps.prepare import prepare

    geo, hx = prepare(vintage, **options), _hex_map(vintage, **options)
    assert hx.shape == "hex" and geo.shape == "map"
    assert list(hx.gdf["code"]) == list(geo.gdf["code"]) == list(HX.areas(vintage, options.get("layer", "stp"))["code"])
    assert hx.gdf["fill"].tolist() == geo.gdf["fill"].tolist() and hx.legend.entries == geo.legend.entries
    assert hx.gdf.crs == HX.CRS and hx.overlay is None and hx.context is None
    areas = hx.gdf.geometry.area
    assert (hx.gdf.geometry.apply(lambda g: len(g.exterior.coords)) == 7).all()  # hexagons, all the same size
    assert areas.max() == pytest.approx(areas.min())
    assert shapely.union_all(hx.gdf.geometry.values).area == pytest.approx(areas.sum())  # none overlap
    lon0, lat0, lon1, lat1 = hx.gdf.to_crs(4326).total_bounds  # laid over England
    assert -6 < lon0 < lon1 < 2 and 49.8 < lat0 < lat1 < 56


def test_categories_keep_their_colours_and_neighbouring_hexes_never_share_a_fill(atlas_cache):
    from stpmap.maps import colours as C
    from stpmap.maps.prepare import prepare

    geo, hx = prepare(2017), _hex_map(2017)
    assert hx.legend.entries == geo.legend.entries  # one colour per region, as on the map
    for region, fill in zip(hx.gdf["region"], hx.gdf["fill"]):
        assert fill in hx.legend.swatches[region]
    for options in ({}, {"colour_by": "footprint"}):  # tints and identity fills tell neighbouring hexes apart
        md = _hex_map(2017, **options)
        assert C.neighbours_share_fill(md.gdf["fill"].tolist(), C.adjacency(list(md.gdf.geometry.values), 1.0)) == []
    ccg = _hex_map(2021, layer="ccg")
    assert C.neighbours_share_fill(ccg.gdf["fill"].tolist(), C.adjacency(list(ccg.gdf.geometry.values), 1.0)) == []
    assert len(ccg.outline) == 42 and set(ccg.outline["code"]) == set(ccg.gdf["stp_code"])  # footprints outlined


def test_data_and_selections_on_a_hex_map(atlas_cache):
    import pandas as pd

    fp = stpmap.footprints(2017)
    df = pd.DataFrame({"code": fp["code"], "beds": range(len(fp))})
    geo_fills = stpmap.maps.prepare.prepare(2017, data=df, warn=False).gdf["fill"].tolist()
    md = _hex_map(2017, data=df, warn=False)
    assert md.gdf["fill"].tolist() == geo_fills and md.value_column == "beds"
    national = dict(zip(_hex_map(2017).gdf["code"], _hex_map(2017).gdf.geometry.values))
    east = _hex_map(2017, group="East of England")
    assert len(east.gdf) == 6 and east.context is None and not east.national
    assert all(g.equals(national[c]) for c, g in zip(east.gdf["code"], east.gdf.geometry.values))  # same places


def test_short_labels(atlas_cache):
    assert HX.initials("West Yorkshire and Harrogate") == "WY&H" and HX.initials("Devon") == "DEV"
    assert HX.initials("Northumberland, Tyne and Wear and North Durham") == "NTWND"
    assert HX.hex_name("NHS North London Partners in Health and Care") == "North London Partners in Health and Care"
    assert HX.hex_name("Sussex Health and Care Partnership") == "Sussex"
    for vintage, layer in [(2017, "stp"), (2021, "stp"), (2021, "ccg")]:
        gdf = HX.areas(vintage, layer)
        short = HX.short_labels(gdf, layer, vintage)
        assert len(set(short)) == len(gdf) and max(map(len, short)) <= 7
    short = dict(zip(HX.areas(2021)["code"], HX.short_labels(HX.areas(2021), "stp", 2021)))
    assert short["E54000024"] == "BLMK" and short["E54000039"] == "BNSSG" and short["E54000007"] == "GM"
    ccg = HX.areas(2021, "ccg")
    assert HX.short_labels(ccg, "ccg", 2021) == list(ccg["ods_code"])


def test_hex_titles_notes_and_alt_text_say_it_is_a_cartogram(atlas_cache):
    md = _hex_map(2017, colour_by="population")
    assert "Hex cartogram: one hexagon per STP footprint, all the same size, so not to scale" in md.subtitle
    assert md.attribution == stpmap.attribution()  # our own layout: no other credit
    assert any("Hex layout generated by stpmap" in n for n in md.notes)
    from stpmap.maps.alttext import alt_text

    text = alt_text(md)
    assert text.startswith("Hex cartogram (one hexagon of the same size per STP footprint")
    assert "not to scale" in text and "shaded by population" in text


def _inside(fig, md):
    """Which areas' names or short labels are drawn inside their own hex, and which texts are not."""
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    inverse = ax.transData.inverted()
    slack = 1.5 * (ax.get_xlim()[1] - ax.get_xlim()[0]) / ax.get_window_extent(renderer).width  # a pixel and a half
    placed, outside = {}, []
    for t in ax.texts:
        (x0, y0), (x1, y1) = inverse.transform(t.get_window_extent(renderer).get_points())
        box = shapely.box(x0, y0, x1, y1)
        hits = [i for i, g in enumerate(md.gdf.geometry.values) if g.buffer(slack).contains(box)]
        if hits:
            placed[hits[0]] = t.get_text()
        else:
            outside.append(t.get_text())
    return placed, outside


def test_static_hex_labels_fit_their_hexes_and_the_rest_are_keyed(atlas_cache):
    from stpmap.maps.static import render

    md = _hex_map(2017)
    fig = render(md, size=(10, 9))
    placed, outside = _inside(fig, md)
    assert outside == [] and len(placed) == 44  # every hex labelled, inside it
    texts = [t.get_text() for a in fig.axes for t in a.texts]
    shortened = [i for i, t in placed.items() if t.replace("\n", " ") != md.gdf["label"].iloc[i]]
    assert shortened and all(placed[i] == md.gdf["short_label"].iloc[i] for i in shortened)
    assert "Key" in texts and all(md.gdf["label"].iloc[i] in " ".join(texts).replace("\n", " ") for i in shortened)
    assert len(fig.axes) == 2  # the map and the legend panel: no London inset
    assert not any(t.endswith(" km") for t in texts)  # and no scale bar


def test_hex_map_image(atlas_cache, tmp_path, monkeypatch):
    """The national hex cartogram against its baseline (titles and notes left out, so that only
    the drawing is compared)."""
    import dataclasses
    import os
    from pathlib import Path

    from matplotlib.testing.compare import compare_images

    from stpmap.maps import static as S

    monkeypatch.setattr(S, "FONT", "DejaVu Sans")  # matplotlib's own font, on every machine
    md = dataclasses.replace(_hex_map(2017), title="Hex", subtitle="", notes=[], attribution="Attribution")
    result, expected = tmp_path / "hex.png", Path(__file__).parent / "baseline" / "hex_2017_region.png"
    S.save(S.render(md, size=(8, 7.5), dpi=60), result, "png", dpi=60)
    if os.environ.get("STPMAP_UPDATE_BASELINES"):
        expected.write_bytes(result.read_bytes())
    assert expected.exists(), f"No baseline {expected}; run with STPMAP_UPDATE_BASELINES=1 to create it."
    assert compare_images(str(expected), str(result), tol=3.0) is None  # RMS of the 0-255 difference, as test_static


def test_cli_writes_hex_png_svg_and_html(atlas_cache, cli, tmp_path):
    from PIL import Image

    png = tmp_path / "hex.png"
    out = cli("map", "--shape", "hex", "--vintage", "2021", "--colour-by", "population", "--dpi", "72",
              "-o", str(png), "--alt-text").stdout
    assert "Alt text: Hex cartogram" in out
    with Image.open(png) as im:
        assert im.format == "PNG" and im.text["Description"].startswith("Hex cartogram")
    svg = tmp_path / "hex.svg"
    cli("map", "--shape", "hex", "--layer", "ccg", "--vintage", "2021", "-o", str(svg))
    text = svg.read_text(encoding="utf-8")
    assert "<desc id=\"stpmap-desc\">Hex cartogram" in text and "Hex cartogram: one hexagon per CCG" in text
    html = tmp_path / "hex.html"
    cli("map", "--shape", "hex", "--group", "East of England", "-o", str(html))
    page = html.read_text(encoding="utf-8")
    assert "stpmapHexLabels" in page and "openstreetmap" not in page.lower()  # labels, and no basemap
    assert "Hex cartogram" in page and "control_scale" not in page


def test_recipes_draw_hexes_and_file_names_say_so(atlas_cache, tmp_path):
    from PIL import Image

    from stpmap.maps import recipes
    from stpmap.maps.options import MapOptions

    assert recipes.default_name(MapOptions(2017, shape="hex")) == "hex-footprints-2017"
    assert recipes.default_name(MapOptions(2017)) == "footprints-2017"
    toml = tmp_path / "icb-hexes.toml"
    toml.write_text('formats = ["png"]\nvintage = 2021\nshape = "hex"\ndpi = 60\n')
    (png,) = recipes.render(recipes.load(toml), tmp_path / "out")
    with Image.open(png) as im:
        assert im.text["Description"].startswith("Hex cartogram") and "42 STP footprints" in im.text["Description"]
    toml.write_text('formats = ["png"]\nshape = "hexes"\n')
    with pytest.raises(ChoiceError, match="map, hex"):
        recipes.render(recipes.load(toml), tmp_path / "out")


def test_bad_shapes_and_overlays_on_hexes_are_clear_errors(atlas_cache, cli):
    from stpmap.maps.options import MapOptions

    with pytest.raises(ChoiceError) as err:
        MapOptions(2017, shape="hexagon")
    assert err.value.choices == ["map", "hex"]
    assert "map" in str(err.value) and "hex" in str(err.value)
    with pytest.raises(InputError, match="--overlay ccg cannot be drawn on a hex cartogram"):
        MapOptions(2017, shape="hex", overlay="ccg")
    with pytest.raises(InputError, match="no hex layout"):
        MapOptions(2017, shape="hex", layer="lad")
    assert MapOptions(2017, shape="hex", layer="ccg", overlay="ccg").drawn_overlay is None  # its own layer: nothing drawn
    result = cli("map", "--shape", "hex", "--overlay", "lad", code=2)
    assert "--overlay lad cannot be drawn on a hex cartogram" in result.output + result.stderr
    result = cli("map", "--shape", "hexagon", code=2)
    assert "'map', 'hex'" in result.output + result.stderr


def test_report_with_hex_map(atlas_cache, cli, tmp_path):
    import docx
    from docx.oxml.ns import qn

    path = tmp_path / "hex.docx"
    cli("report", "--shape", "hex", "--vintage", "2021", "--colour-by", "population", "--dpi", "72", "-o", str(path))
    doc = docx.Document(path)
    assert any("Hex cartogram" in p.text for p in doc.paragraphs)
    descriptions = [el.get("descr") for el in doc.element.body.iter(qn("wp:docPr"))]
    assert descriptions and descriptions[0].startswith("Hex cartogram")
    assert len(doc.tables[0].rows) == 43  # the table as on the geographic report: a header and 42 footprints


# ------------------------------------------------------------ in a browser


@pytest.mark.browser
def test_hex_html_in_a_browser(atlas_cache, browser, tmp_path):
    from stpmap.maps.html import explore, save

    path = save(explore(2017, shape="hex", offline=True), tmp_path / "hex.html")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors, requests = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:"))
               else (requests.append(r.request.url), r.abort()))
    try:
        page.goto(path.as_uri())
        page.wait_for_function("window.stpmap && window.stpmap.map")
        assert page.locator("path.leaflet-interactive").count() == 44
        labels = page.locator(".stpmap-hex-label")
        assert labels.count() == 44 and "BSW" in labels.all_inner_texts()
        assert page.locator(".leaflet-control-scale").count() == 0 and page.locator(".leaflet-tile").count() == 0
        x, y = page.evaluate("""() => {
            const s = window.stpmap.layers.stp.byCode['E54000013'];
            const p = window.stpmap.map.latLngToContainerPoint(s.getCenter());
            const r = document.querySelector('.folium-map').getBoundingClientRect();
            return [p.x + r.left, p.y + r.top];
        }""")
        page.mouse.move(x, y)  # on the hex's label: the pointer reaches the hex beneath it
        tip = page.locator(".leaflet-tooltip")
        tip.wait_for(state="visible")
        assert "Lincolnshire" in tip.inner_text() and "E54000013" in tip.inner_text()
        assert "Hex cartogram" in page.locator(".stpmap-title").inner_text()
        assert "Hex cartogram" in page.locator("#stpmap-description").inner_text()
        assert errors == [] and requests == []
    finally:
        page.close()
