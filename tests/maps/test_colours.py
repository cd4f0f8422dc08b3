"""Palettes: the NHS identity colours and the Analysis Function palette,
contrast between neighbouring fills, and the text drawn on them."""

from __future__ import annotations

import itertools

import geopandas as gpd
import pytest
import shapely

from stpmap.errors import ChoiceError
from stpmap.maps import colours as _colours
from stpmap.maps import prepare as _mapdata
from stpmap.maps.options import MapOptions

AF = "analysis-function"
AF_BASE = set(_colours.ANALYSIS_FUNCTION.values())


def areas(boxes, names=None, regions=None):
    """Made-up areas (British National Grid metres) from (x0, y0, x1, y1) boxes, 10 km units."""
    geoms = [shapely.box(400_000 + x0 * 10_000, 200_000 + y0 * 10_000, 400_000 + x1 * 10_000, 200_000 + y1 * 10_000)
             for x0, y0, x1, y1 in boxes]
    n = len(geoms)
    return gpd.GeoDataFrame({"code": [f"E540000{i:02d}" for i in range(n)], "name": names or [f"Area {i}" for i in range(n)],
                             "region": regions or ["A"] * n}, geometry=geoms, crs=27700)


def stripes(n):
    """A row of ``n`` touching strips: each touches only the next (two lightness steps suffice)."""
    return areas([(i, 0, i + 1, 3) for i in range(n)])


def fan(n):
    """A hub with ``n`` strips around its top, each touching the hub and the next: three steps needed."""
    return areas([(0, 0, n, 1)] + [(i, 1, i + 1, 3) for i in range(n)])


def neighbours(gdf):
    return _colours.adjacency(gdf.geometry.values, distance=0)


# ------------------------------------------------------------------ choosing


def test_an_unknown_palette_names_the_valid_ones(cli):
    with pytest.raises(ChoiceError) as caught:
        MapOptions(palette="rainbow")
    assert str(caught.value) == "Unknown palette 'rainbow'. Valid choices: nhs, analysis-function."
    assert MapOptions(palette="Analysis_Function").palette == AF and MapOptions().palette == "nhs"
    result = cli("map", "--palette", "rainbow", code=2)
    assert "Unknown palette 'rainbow'. Valid choices: nhs, analysis-function." in result.output + result.stderr


def test_the_palette_picks_the_ramp_unless_one_is_named():
    assert MapOptions().ramp == "nhs_blues"
    assert MapOptions(palette=AF).ramp == "af_blues"
    assert MapOptions(palette=AF, ramp="cividis").ramp == "cividis"
    assert set(_colours.AF_SEQUENTIAL) <= set(_colours.RAMPS["af_blues"])


# ------------------------------------------------------------------ contrast


def test_contrast_is_the_wcag_ratio():
    assert _colours.contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert _colours.contrast("#12436D", "#12436D") == 1.0
    # the Analysis Function's categorical colours each have 3:1 with white, as its guidance says
    assert all(_colours.contrast(c, "#FFFFFF") >= 3.0 for c in AF_BASE)


@pytest.mark.parametrize("n", [2, 5, 6, 9])
def test_neighbours_reach_3_to_1_where_the_palette_allows(n):
    gdf = stripes(n)
    nb = neighbours(gdf)
    fills = _colours.identity_fills(nb, palette=AF)
    assert _colours.neighbours_share_fill(fills, nb) == []
    assert _colours.min_neighbour_contrast(fills, nb) >= 3.0
    if n <= 6:  # a few areas: each its own colour of the palette
        assert set(fills) <= AF_BASE and len(set(fills)) == n


def test_two_categories_in_stripes_keep_3_to_1_and_their_colours():
    gdf = stripes(6)
    nb = neighbours(gdf)
    fills, legend = _colours.categorical_fills(["North", "South"] * 3, nb, palette=AF)
    assert _colours.min_neighbour_contrast(fills, nb) >= 3.0
    assert set(fills) <= AF_BASE and set(legend) == {"North", "South"}
    # the same category on both sides of a strip: its areas keep one colour
    assert len({fills[0], fills[2], fills[4]}) == 1


def brute_force_best(nb, choices, distinct=False):
    best = 0.0
    for combo in itertools.product(*choices):
        if distinct and len(set(combo)) < len(combo):
            continue
        low = _colours.min_neighbour_contrast(list(combo), nb)
        best = max(best, low if low is not None else 99)
    return best


def test_where_3_to_1_cannot_be_had_the_lowest_contrast_is_as_high_as_can_be():
    gdf = fan(3)  # every strip touches the hub and its neighbour: triangles
    nb = neighbours(gdf)
    choices = [list(_colours.ANALYSIS_FUNCTION.values())[:4] + ["#B8C7D3", "#FCD2BE"]] * len(nb)
    fills = _colours.best_fills(nb, choices)
    found = _colours.min_neighbour_contrast(fills, nb)
    assert found == pytest.approx(brute_force_best(nb, choices))
    assert found < 3.0  # three lightness steps are needed, and the palette has no third at 3:1 from the other two
    fills = _colours.identity_fills(nb, palette=AF)
    assert _colours.min_neighbour_contrast(fills, nb) >= 2.2


def test_the_legend_says_when_3_to_1_cannot_be_had():
    md = _mapdata.from_frame(fan(4), colour_by="footprint", palette=AF)
    assert "Lowest contrast between neighbouring fills: 2.2:1" in md.legend.note
    md = _mapdata.from_frame(stripes(4), colour_by="footprint", palette=AF)
    assert "contrast" not in md.legend.note  # 3:1 everywhere: nothing to say
    md = _mapdata.from_frame(fan(4), colour_by="footprint")
    assert "contrast" not in md.legend.note  # NHS maps are as they always were


def test_text_on_every_analysis_function_fill_reads_at_4_5_to_1():
    fills = set(_colours._af_candidates())
    for c in [*AF_BASE, *_colours.AF_SEQUENTIAL, *(_colours.mix(c, "#FFFFFF", 0.6) for c in AF_BASE)]:
        fills.update(_colours.af_variants(c)[:4])
    for f in fills:
        assert _colours.contrast(_colours.text_colour(f), f) >= 4.5, f
    assert _colours.text_colour("#12436D") == "#FFFFFF" and _colours.text_colour("#F46A25") == _colours.TEXT


# ------------------------------------------------------------------ real maps


def test_a_prepared_map_uses_the_analysis_function_colours(atlas_cache):
    md = _mapdata.prepare(2017, group="East of England", palette=AF, tolerance=100)
    fills = md.gdf["fill"].tolist()
    assert set(fills) <= set(_colours._af_candidates()) and len(set(fills)) == len(fills) == 6
    assert len(set(fills) & AF_BASE) >= 3
    nhs = _mapdata.prepare(2017, group="East of England", tolerance=100)
    assert not set(nhs.gdf["fill"]) & set(_colours._af_candidates())
    md = _mapdata.prepare(2017, group="East of England", colour_by="population", palette=AF, tolerance=100)
    assert set(md.gdf["fill"]) <= set(_colours.ramp("af_blues", 5))
    md = _mapdata.prepare(2017, group="East of England", colour_by="population", palette=AF, ramp="cividis",
                          tolerance=100)
    assert set(md.gdf["fill"]) <= set(_colours.ramp("cividis", 5))


def test_html_maps_use_the_same_fills(atlas_cache):
    from stpmap.maps.html import explore

    m = explore(group="East of England", palette=AF)
    page = m.get_root().render()
    md = _mapdata.prepare(2017, group="East of England", palette=AF, tolerance=100)
    assert all(f in page for f in md.gdf["fill"])


#: The lowest neighbour contrast reached on the real layers with the Analysis
#: Function palette (measured, rounded down); with the NHS palette all are
#: about 1:1 (tints of one colour, or lightened colours of equal lightness).
REAL = [("national by region", {"colour_by": "region"}, 1.4),
        ("national footprints", {"colour_by": "footprint"}, 1.8),
        ("East of England", {"group": "East of England"}, 2.2),
        ("London CCGs", {"group": "London", "layer": "ccg"}, 1.6)]


@pytest.mark.parametrize("what, given, reached", REAL, ids=[r[0] for r in REAL])
def test_real_layers_reach_the_measured_contrast(atlas_cache, what, given, reached):
    md = _mapdata.prepare(2017, palette=AF, tolerance=100, **given)
    nb = _colours.adjacency(md.gdf.geometry.values, distance=100)
    assert _colours.neighbours_share_fill(md.gdf["fill"].tolist(), nb) == []
    assert _colours.min_neighbour_contrast(md.gdf["fill"].tolist(), nb) >= reached
    assert f"{reached:.1f}:1" in md.legend.note


@pytest.mark.parametrize("vintage, layer, colour_by", [(2017, "ccg", "footprint"), (2017, "lad", "region"),
                                                       (2021, "ccg", "footprint"), (2017, "stp", "nhs_local_office")])
def test_real_neighbours_never_share_an_analysis_function_fill(atlas_cache, vintage, layer, colour_by):
    md = _mapdata.prepare(vintage, layer=layer, colour_by=colour_by, palette=AF, tolerance=100)
    nb = _colours.adjacency(md.gdf.geometry.values, distance=100)
    assert _colours.neighbours_share_fill(md.gdf["fill"].tolist(), nb) == []
    assert _colours.min_neighbour_contrast(md.gdf["fill"].tolist(), nb) > 1.2
