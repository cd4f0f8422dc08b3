"""Static maps: colours, labels, legend, inset and furniture.

Image tests compare small made-up maps with baselines in tests/baseline/
(matplotlib.testing.compare.compare_images, RMS tolerance as in mapclassify's
image tests); set STPMAP_UPDATE_BASELINES=1 to rewrite them after a deliberate
change. Real maps are checked for size, content, legend and attribution.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from matplotlib.testing.compare import compare_images

from stpmap.maps import colours as _colours
from stpmap.maps import static as _maps_static
from stpmap.maps import prepare as _mapdata
from stpmap.errors import ChoiceError, InputError

BASELINE = Path(__file__).parent / "baseline"
TOL = 3.0  # RMS of the 0-255 pixel difference


# ------------------------------------------------------------- made-up areas


def made_up(n=3, size=20_000.0, names=None):
    """An n x n grid of squares (British National Grid metres) with an L-shaped
    area across two cells and a small island, with made-up names."""
    cells = []
    for i, j in itertools.product(range(n), range(n)):
        cells.append(shapely.box(400_000 + i * size, 200_000 + j * size, 400_000 + (i + 1) * size, 200_000 + (j + 1) * size))
    geoms = cells[:-2] + [shapely.union_all(cells[-2:])]
    geoms.append(shapely.Point(400_000 + n * size + 0.4 * size, 200_000 + 0.3 * size).buffer(0.2 * size, 16))
    k = len(geoms)
    default = ["Alder", "Birch and Blackthorn Valley", "Cedar", "Damson", "Elder", "Fir & Hazel",
               "Gorse, Heath and the Long Marsh District", "Juniper", "Isle"]
    if k != len(default):
        default = [f"Area {i}" for i in range(k)]
    names = names or default
    regions = ["North", "North", "North", "Middle", "Middle", "South", "South", "South", "Islands"]
    pops = [120_000, 340_000, 560_000, np.nan, 910_000, 150_000, 780_000, 230_000, 40_000]
    gdf = gpd.GeoDataFrame(
        {
            "code": [f"E540000{i:02d}" for i in range(k)],
            "name": names,
            "region": [regions[i % 9] for i in range(k)],
            "population": [pops[i % 9] for i in range(k)],
        },
        geometry=geoms,
        crs=27700,
    )
    return gdf


@pytest.fixture
def dejavu(monkeypatch):
    """Baselines use matplotlib's own font, present on every machine."""
    monkeypatch.setattr(_maps_static, "FONT", "DejaVu Sans")


def check_image(fig, name, tmp_path, dpi=72):
    result = tmp_path / f"{name}.png"
    _maps_static.save(fig, result, "png", dpi=dpi)
    expected = BASELINE / f"{name}.png"
    if os.environ.get("STPMAP_UPDATE_BASELINES") or not expected.exists():
        if not os.environ.get("STPMAP_UPDATE_BASELINES"):
            pytest.fail(f"No baseline {expected}; run with STPMAP_UPDATE_BASELINES=1 to create it.")
        BASELINE.mkdir(exist_ok=True)
        expected.write_bytes(result.read_bytes())
    err = compare_images(str(expected), str(result), tol=TOL)
    assert err is None, err


# ------------------------------------------------------------- image tests


def test_baseline_categories_with_names(dejavu, tmp_path):
    md = _mapdata.from_frame(made_up(), colour_by="region", title="Made-up regions",
                             subtitle="9 areas; coloured by region", attribution="Made-up data for tests.")
    fig = _maps_static.render(md, size=(6.5, 4.5))
    check_image(fig, "categories_names", tmp_path)


def test_baseline_choropleth_missing_and_numbers(dejavu, tmp_path):
    names = [f"The Long-Named District Number {i} of the Test County" for i in range(16)]
    md = _mapdata.from_frame(made_up(n=4, size=2_000.0, names=names), colour_by="population", scheme="equal_interval", k=3,
                             title="Made-up population", attribution="Made-up data for tests.")
    assert md.legend.missing == "No data (2)"
    fig = _maps_static.render(md, size=(6.5, 4.5))
    check_image(fig, "choropleth_missing_numbers", tmp_path)


def test_baseline_identity_overlay_no_labels(dejavu, tmp_path):
    gdf = made_up()
    overlay = gpd.GeoDataFrame(geometry=[shapely.box(405_000, 205_000, 455_000, 245_000)], crs=27700)
    md = _mapdata.from_frame(gdf, colour_by="footprint", labels="none", overlay=overlay, title="Made-up, plain",
                             attribution="Made-up data for tests.")
    fig = _maps_static.render(md, size=(5, 4))
    check_image(fig, "identity_overlay", tmp_path)


def test_baseline_panel_below_a_wide_map_on_a_portrait_page(dejavu, tmp_path):
    md = _mapdata.from_frame(made_up(), colour_by="region", title="Made-up regions, upright",
                             subtitle="9 areas; coloured by region", attribution="Made-up data for tests.")
    fig = _maps_static.render(md, size=(4.5, 6.5))
    check_image(fig, "panel_below", tmp_path)


# ------------------------------------------------------------- colours


def test_dsatur_and_adjacency_on_a_grid():
    gdf = made_up(n=5)
    nb = _colours.adjacency(gdf.geometry.values, distance=0)
    cols = _colours.dsatur(nb)
    assert all(cols[a] != cols[b] for a in range(len(nb)) for b in nb[a])
    assert max(cols) <= 4  # a grid with diagonals (queen) needs at most 4-5 colours
    fills = _colours.identity_fills(nb)
    assert _colours.neighbours_share_fill(fills, nb) == []


def test_categorical_fills_tint_neighbours_of_one_category():
    cats = ["A"] * 6 + ["B"] * 3
    gdf = made_up(n=3)
    nb = _colours.adjacency(gdf.geometry.values[:9], distance=0)
    fills, legend = _colours.categorical_fills(cats[: len(nb)], nb)
    assert _colours.neighbours_share_fill(fills, nb) == []
    assert set(legend) == {"A", "B"}
    assert fills[0] in legend["A"] and fills[-1] in legend["B"]


def test_missing_values_get_the_neutral_fill():
    fills, entries = _mapdata.classify(gdf_values := made_up()["population"], "quantiles", 4)
    assert fills[3] == _colours.MISSING and gdf_values.isna().sum() == 1
    assert len(entries) == 4 and all(_colours.MISSING not in c for _, c in entries)


def test_ramps_are_ordered_light_to_dark():
    lum = [_colours.luminance(c) for c in _colours.ramp("nhs_blues", 6)]
    assert lum == sorted(lum, reverse=True)
    with pytest.raises(ChoiceError, match="colour ramp"):
        _colours.ramp("no-such-ramp", 3)


@pytest.mark.parametrize("vintage,layer,colour_by", [
    (2017, "stp", "region"), (2017, "stp", "nhs_region"), (2017, "stp", "footprint"),
    (2017, "ccg", "footprint"), (2021, "stp", "region"), (2021, "ccg", "footprint"), (2017, "lad", "region"),
])
def test_real_neighbours_never_share_a_fill(atlas_cache, vintage, layer, colour_by):
    md = _mapdata.prepare(vintage, layer=layer, colour_by=colour_by, tolerance=100)
    nb = _colours.adjacency(md.gdf.geometry.values, distance=100)
    assert sum(map(len, nb)) > len(md.gdf)  # really neighbours
    assert _colours.neighbours_share_fill(md.gdf["fill"].tolist(), nb) == []


# ------------------------------------------------------------- options


def test_parse_size():
    assert _maps_static.parse_size("8x6") == (8.0, 6.0)
    assert _maps_static.parse_size("254x203.2mm") == pytest.approx((10.0, 8.0))
    assert _maps_static.parse_size("1600x1200px", dpi=200) == (8.0, 6.0)
    with pytest.raises(InputError, match="between 200 and 12000 pixels a side"):
        _maps_static.parse_size("100x80px", dpi=200)
    with pytest.raises(InputError, match="WIDTHxHEIGHT"):
        _maps_static.parse_size("big")
    with pytest.raises(InputError, match="between 1 and 60"):
        _maps_static.parse_size("100x100")


def test_bad_options_list_valid_choices(atlas_cache):
    with pytest.raises(ChoiceError, match="Unknown scheme 'jenkz'.*quantiles.*natural_breaks"):
        _maps_static.plot(colour_by="population", scheme="jenkz")
    with pytest.raises(ChoiceError, match="Unknown colour-by 'nhs_local_office'.*region"):
        _maps_static.plot(2021, colour_by="nhs_local_office")  # local offices ended in 2019
    with pytest.raises(ChoiceError, match="Unknown layer"):
        _maps_static.plot(layer="msoa")
    with pytest.raises(InputError, match="between 1 and 12"):
        _maps_static.plot(colour_by="population", k=40)


# ------------------------------------------------------------- real maps


def _texts(fig):
    out = []
    for t in fig.findobj(lambda a: hasattr(a, "get_text") and callable(a.get_text)):
        try:
            s = t.get_text()
        except TypeError:
            continue
        if isinstance(s, str) and s:
            out.append(s)
    return out


@pytest.fixture(scope="module")
def national(atlas_cache):
    return _maps_static.plot()


def test_national_map_has_legend_inset_key_scale_and_attribution(national, tmp_path):
    texts = " | ".join(_texts(national))
    assert "STP footprints of England, April 2017" in texts
    for region in ("London", "North East", "South West", "Yorkshire and The Humber"):
        assert region in texts
    assert "Office for National Statistics" in texts and "Crown copyright" in texts
    assert "km" in texts and "Key to numbers" in texts
    titles = [ax.get_title(loc="left") for ax in national.axes]
    assert "London" in titles  # the inset
    # every footprint is named once: on the map or in the key
    import stpmap

    names = stpmap.footprints(2017)["name"]
    missing = [n for n in names if n not in texts.replace("\n", " ")]
    assert missing == []


def test_national_labels_do_not_collide(national):
    renderer = national.canvas.get_renderer()
    for ax in national.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.texts
                 if t.get_text() and t.get_zorder() >= 10]
        for a, b in itertools.combinations(boxes, 2):
            overlap_w = min(a.x1, b.x1) - max(a.x0, b.x0)
            overlap_h = min(a.y1, b.y1) - max(a.y0, b.y0)
            assert overlap_w <= 1.0 or overlap_h <= 1.0, "two labels overlap"


def test_national_png_size_and_content(national, tmp_path):
    from PIL import Image

    path = _maps_static.save(national, tmp_path / "national.png", dpi=150)
    im = np.asarray(Image.open(path).convert("RGB"))
    w_in, h_in = national.get_size_inches()
    assert abs(im.shape[1] - w_in * 150) <= 1 and abs(im.shape[0] - h_in * 150) <= 1
    colours = np.unique(im.reshape(-1, 3)[::7], axis=0)
    assert len(colours) > 200  # not blank: fills, text, antialiasing
    assert (im.mean(axis=2) < 250).mean() > 0.2  # a good share of the page is drawn on
    assert path.stat().st_size > 100_000


def test_label_widths_match_the_renderer(dejavu):
    """The placer measures text from the font's advance widths: never
    narrower than matplotlib's renderer (a label would spill), at most a
    few per cent wider."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    from stpmap.maps.static.labels import text_width_px

    texts = ["Somerset", "North West London", "Bath, Swindon and Wiltshire", "Isle of Wight", "WWW iii", "Fir & Hazel"]
    for dpi in (72, 100, 300):
        fig = Figure(dpi=dpi)
        FigureCanvasAgg(fig)
        renderer = fig.canvas.get_renderer()
        for fs in (5.6, 7.0, 10.0):
            prop = FontProperties(family="DejaVu Sans", size=fs)
            for text in texts:
                theirs = renderer.get_text_width_height_descent(text, prop, ismath=False)[0]
                mine = text_width_px(text, fs, dpi, _maps_static._font())
                assert theirs - 0.01 <= mine <= theirs * 1.03 + 1, (text, fs, dpi, mine, theirs)


@pytest.mark.parametrize("size, dpi, pixels", [("1600x1200px", 300, (1600, 1200)), ("800x600px", 200, (800, 600)),
                                               ("2400x1800px", 200, (2400, 1800))])
def test_sizes_in_pixels_give_exactly_those_pixels(atlas_cache, tmp_path, size, dpi, pixels):
    from PIL import Image

    from stpmap.maps.recipes import write_map

    path = write_map(tmp_path / "m.png", size=size, dpi=dpi)
    with Image.open(path) as im:
        assert im.size == pixels
        assert im.mode == "RGB"  # white page, no alpha channel


def test_small_pixel_maps_are_laid_out_big_enough_to_fit(atlas_cache):
    fig = _maps_static.plot(size="1600x1200px", dpi=300)
    w_in, h_in = fig.get_size_inches()
    assert (round(w_in * fig.dpi), round(h_in * fig.dpi)) == (1600, 1200)
    assert w_in >= _maps_static.MIN_LAYOUT[0] - 1e-9 and h_in >= _maps_static.MIN_LAYOUT[1] - 1e-9
    fig.canvas.draw()  # places the legend's texts
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    for t in fig.findobj(lambda a: hasattr(a, "get_window_extent") and type(a).__name__ == "Text"):
        if not t.get_text() or not t.get_visible():
            continue
        bb = t.get_window_extent(renderer)
        assert page.x0 - 1 <= bb.x0 and bb.x1 <= page.x1 + 1 and page.y0 - 1 <= bb.y0 and bb.y1 <= page.y1 + 1, t.get_text()
    # a physical size is kept exactly, whatever the dpi
    fig = _maps_static.plot(size="12x8cm", dpi=300, labels="none")
    assert tuple(np.round(fig.get_size_inches() * 2.54, 6)) == (12.0, 8.0) and fig.dpi == 300


def test_svg_and_pdf_keep_text(national, tmp_path):
    svg = _maps_static.save(national, tmp_path / "m.svg")
    text = svg.read_text()
    assert "Office for National Statistics" in text and "<svg" in text
    pdf = _maps_static.save(national, tmp_path / "m.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    with pytest.raises(ChoiceError, match="Unknown format"):
        _maps_static.save(national, tmp_path / "m.gif")


def test_group_map_with_overlay_and_data(atlas_cache, tmp_path):
    import pandas as pd

    from stpmap.data import atlas as _atlas

    import stpmap

    ccg = _atlas.table("ccg", 2017)
    east = ccg[ccg["stp_code"].isin(stpmap.footprints(2017, group="East of England")["code"])]
    df = pd.DataFrame({"ccg17cdh": list(east["ods_code"][1:]) + ["XXX"], "Beds": list(range(len(east) - 1)) + [5]})
    path = tmp_path / "beds.csv"
    df.to_csv(path, index=False)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = _maps_static.plot(group="East of England", data=path, aggregate="sum", overlay="ccg")
    said = " ".join(str(w.message) for w in caught)
    assert "'XXX'" in said and "1 footprint lacks a value" in said
    texts = " | ".join(_texts(fig))
    assert "Beds by STP footprint, East of England" in texts
    assert "No data (1)" in texts  # the footprint whose CCG had no row
    assert "London" not in [ax.get_title(loc="left") for ax in fig.axes]  # no inset on a regional map


def test_dollar_signs_and_markup_are_plain_text(dejavu, tmp_path):
    gdf = made_up(names=["$x$ spend", "Cost in $ and $ per head", "<b>bold</b>", "d", "e", "f", "g", "h", "i"])
    md = _mapdata.from_frame(gdf, colour_by="region", title="Spend in $ per $1000", attribution="Made-up.")
    fig = _maps_static.render(md, size=(6, 4))
    path = _maps_static.save(fig, tmp_path / "d.svg")
    text = path.read_text()
    assert "Spend in $ per $1000" in text and "$x$ spend" in text and "&lt;b&gt;bold&lt;/b&gt;" in text
