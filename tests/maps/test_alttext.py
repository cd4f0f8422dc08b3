"""Alternative text: what it says, and where every map file carries it."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pytest
import shapely

from stpmap.maps import prepare as _prepare
from stpmap.maps.alttext import alt_text


def _squares(values, regions=None):
    geoms = [shapely.box(400_000 + i * 10_000, 200_000, 410_000 + i * 10_000, 210_000) for i in range(len(values))]
    data = {"code": [f"E5400000{i}" for i in range(len(values))], "name": [f"Area {c}" for c in "ABCDEFGH"[:len(values)]],
            "population": values}
    if regions is not None:
        data["region"] = regions
    return gpd.GeoDataFrame(data, geometry=geoms, crs=27700)


def test_choropleth_names_range_highest_and_lowest():
    md = _prepare.from_frame(_squares([120_000.0, 1_234_567.0, np.nan, 40_000.0]), colour_by="population",
                             vintage=2017, national=False)
    md.selection = "Made-up"
    text = alt_text(md)
    assert text.startswith("Map of the 4 Made-up STP footprints, April 2017, shaded by population")
    assert "from 40,000 to 1,234,567" in text
    assert "highest Area B (1,234,567), lowest Area D (40,000)" in text
    assert "1 area has no data" in text


def test_categorical_counts_each_category():
    md = _prepare.from_frame(_squares([1.0] * 5, regions=["North", "South", "North", "North", "East"]),
                             colour_by="region", vintage=2021, national=True)
    text = alt_text(md)
    assert "the 5 STP footprints of England, April 2021" in text
    assert "coloured by ONS region, 3 categories" in text
    for part in ("North (3)", "South (1)", "East (1)"):
        assert part in text


@pytest.fixture(scope="module")
def east_population(atlas_cache):
    import stpmap

    return stpmap.plot(group="East of England", colour_by="population")


def test_plot_returns_alt_text_of_real_map(east_population):
    text = east_population.alt_text
    assert text.startswith("Map of the 6 East of England STP footprints, April 2017, shaded by population from ")
    assert re.search(r"highest [A-Z][^(]+\(\d{1,3}(,\d{3})+\), lowest", text)


def test_png_svg_pdf_carry_the_alt_text(east_population, tmp_path):
    from PIL import Image

    from stpmap.maps.static import save

    text = east_population.alt_text
    png = save(east_population, tmp_path / "m.png", dpi=60)
    assert Image.open(png).info["Description"] == text
    svg = save(east_population, tmp_path / "m.svg").read_text(encoding="utf-8")
    head = svg[svg.index("<svg"):][:3000]
    assert 'role="img"' in head and "<title id=\"stpmap-title\">Population by STP footprint" in head
    assert f"<desc id=\"stpmap-desc\">{text.replace('&', '&amp;')}</desc>" in head
    pdf = save(east_population, tmp_path / "m.pdf").read_bytes()
    assert b"/Subject" in pdf


def test_html_map_has_accessible_description(atlas_cache):
    from stpmap.maps.html import DESCRIPTION_ID, folium_map
    from stpmap.maps.options import MapOptions

    page = folium_map(MapOptions(group="London", colour_by="population")).get_root().render()
    m = re.search(rf'<p id="{DESCRIPTION_ID}"[^>]*>([^<]+)</p>', page)
    assert m and m.group(1).startswith("Map of the 5 London STP footprints, April 2017, shaded by population")
    assert f'el.setAttribute("aria-describedby","{DESCRIPTION_ID}")' in page
