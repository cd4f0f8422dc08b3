"""Small multiples (--facet, --facet-vintages): one figure, one shared scale
and legend, a title per map, alt text naming every map, clear errors, and
reports with one picture and a table with a column per map.

The image test draws made-up areas against a baseline in tests/maps/baseline
(as tests/maps/test_static.py does; STPMAP_UPDATE_BASELINES=1 rewrites it)."""

from __future__ import annotations

import re

import pytest

from stpmap.errors import ChoiceError, InputError
from stpmap.maps import prepare as _prepare
from stpmap.maps.options import MapOptions
from stpmap.maps.static import facet as _facet
from test_static import check_image, dejavu, made_up  # noqa: F401 (dejavu is a fixture)

RATES = "code,rate_2019,rate_2020,rate_2021\n" + "\n".join(
    f"E5400002{i},{a},{b},{c}" for i, (a, b, c) in
    enumerate([(60.5, 75.5, 75.4), (78.0, 87.6, 99.6), (45.8, 53.4, 52.9), (77.9, 78.5, 81.3), (52.5, 64.4, 60.5),
               (56.9, 60.5, 67.5)], start=1)) + "\n"  # 60.5 is on every map, in a different area on each


@pytest.fixture(scope="module")
def rates(tmp_path_factory):
    path = tmp_path_factory.mktemp("facet") / "rates.csv"
    path.write_text(RATES, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def east(atlas_cache, rates):
    """The East of England footprints, three columns of made-up rates."""
    from stpmap.maps.static import figure_and_data

    options = MapOptions(group="East of England", data=str(rates), join_on="code",
                         facet="rate_2019,rate_2020,rate_2021")
    return figure_and_data(options, size=(9, 7), dpi=50)


def _fills_by_value(panels) -> dict:
    out: dict = {}
    for md in panels:
        for v, f in zip(md.gdf["value"], md.gdf["fill"]):
            out.setdefault(float(v), set()).add(f)
    return out


# --------------------------------------------------------------- one scale


def test_one_scale_same_value_same_fill_across_maps(east):
    fig, facets = east
    assert len(facets.panels) == 3 and facets.legend.kind == "classes"
    by_value = _fills_by_value(facets.panels)
    assert all(len(fills) == 1 for fills in by_value.values())  # one value, one fill, on every map
    assert by_value[60.5] == {facets.panels[0].gdf.set_index("code").loc["E54000021", "fill"]}
    assert sum(60.5 in set(md.gdf["value"]) for md in facets.panels) == 3
    # the classes span every map's values, not one map's
    lo, hi = re.findall(r"[\d.]+", facets.legend.entries[0][0])[0], facets.legend.entries[-1][0].split("–")[-1]
    assert float(lo) == 45.8 and float(hi) == 99.6
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert len(legends) == 1 and legends[0].get_title().get_text() == "Rate"


def test_share_colours_of_made_up_maps():
    gdf = made_up()
    a = _prepare.from_frame(gdf.assign(x=gdf["population"]), colour_by="x", scheme="equal_interval", k=3)
    b = _prepare.from_frame(gdf.assign(x=gdf["population"] * 2), colour_by="x", scheme="equal_interval", k=3)
    alone = list(a.gdf["fill"])
    legend = _prepare.share_colours([a, b], scheme="equal_interval", k=3)
    assert legend.kind == "classes" and len(legend.entries) == 3
    assert all(len(f) == 1 for f in _fills_by_value([a, b]).values())
    assert list(a.gdf["fill"]) != alone  # alone, a's classes spanned its own (smaller) range
    assert legend.missing == "No data (2)"  # one area with no population on each map
    with pytest.raises(InputError, match="numbers, or every map categories"):
        _prepare.share_colours([a, _prepare.from_frame(gdf, colour_by="region")])


# ---------------------------------------------------------- titles, alt text


def test_each_map_titled_and_alt_text_names_every_map(east):
    fig, facets = east
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert [t for t in titles if t.startswith("rate_")] == ["rate_2019", "rate_2020", "rate_2021"]
    assert fig.map_title == "Rate by STP footprint, East of England"
    alt = fig.alt_text
    assert alt.startswith("3 maps side by side of the 6 East of England STP footprints, April 2017")
    assert "one shared scale of rate from 45.8 to 99.6" in alt
    for title in ("rate_2019", "rate_2020", "rate_2021"):
        assert f"{title}: 6 STP footprints, highest " in alt
    assert "rate_2021: 6 STP footprints, highest Norfolk and Waveney (99.6), lowest Suffolk and North East Essex (52.9)" in alt


def test_vintages_each_on_its_own_boundaries_with_its_words(atlas_cache):
    import stpmap

    fig = stpmap.plot(group="London", colour_by="population", facet_vintages=[2017, 2022], size=(9, 6), dpi=50)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert "STP footprints, April 2017" in titles and "Integrated Care Boards, July 2022" in titles
    assert fig.map_title == "Population by area, London, April 2017 to July 2022"
    assert "one for each of April 2017, July 2022, each on its own boundaries" in fig.alt_text
    assert "Integrated Care Boards, July 2022: 5 Integrated Care Boards, highest NHS" in fig.alt_text
    assert fig._repr_png_().startswith(b"\x89PNG")  # shows inline in Jupyter, as single maps do


# ------------------------------------------------------------------- errors


def test_too_many_or_too_few_maps_are_refused():
    with pytest.raises(InputError, match="gives 7 maps; small multiples hold 2 to 6"):
        MapOptions(facet="a,b,c,d,e,f,g")
    with pytest.raises(InputError, match="gives 1 map;"):
        MapOptions(facet=["pop_0_17"])
    with pytest.raises(InputError, match="more than once"):
        MapOptions(facet_vintages="2017,2021,2017")
    with pytest.raises(InputError, match="drop --colour-by"):
        MapOptions(facet="pop_0_17,pop_65_plus", colour_by="population")
    with pytest.raises(InputError, match="give one of them"):
        MapOptions(facet="pop_0_17,pop_65_plus", facet_vintages="2017,2021")
    assert MapOptions(facet=("pop_0_17", "pop_65_plus,pop_85_plus")).facet == ["pop_0_17", "pop_65_plus", "pop_85_plus"]
    assert MapOptions(facet=()).facet is None


def test_unknown_vintage_lists_the_vintages():
    with pytest.raises(ChoiceError, match=r"Unknown vintage '2016'.*2017, 2018, 2019, 2020, 2021, 2022"):
        MapOptions(facet_vintages="2017,2016")


def test_unknown_column_lists_the_columns(atlas_cache, rates):
    with pytest.raises(ChoiceError, match=r"Unknown --facet column 'rate_2018' \(the columns of the data file\)\. "
                                          r"Valid choices: code, rate_2019, rate_2020, rate_2021"):
        _facet.prepare_facets(MapOptions(group="East of England", data=str(rates), facet="rate_2019,rate_2018"))
    with pytest.raises(ChoiceError, match=r"Unknown --facet column 'pop_0_16' \(the columns of the stp layer\).*pop_0_17"):
        _facet.prepare_facets(MapOptions(group="East of England", facet="pop_0_16,pop_65_plus"))


def test_html_is_refused_with_the_static_formats_named(atlas_cache, cli, tmp_path):
    out = cli("map", "--group", "London", "--facet", "pop_0_17,pop_65_plus", "--format", "html",
              "-o", str(tmp_path / "x.html"), code=2)
    assert "png, svg or pdf" in out.stderr and "--format png" in out.stderr
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------- command line


def test_cli_writes_one_png_with_alt_text(atlas_cache, cli, tmp_path):
    from PIL import Image

    out = cli("map", "--group", "London", "--layer", "ccg", "--facet", "pop_0_17", "--facet", "pop_65_plus",
              "--dpi", "50", "--alt-text", "-o", str(tmp_path / "ages.png"))
    assert "Alt text: 2 maps side by side of the 32 London CCGs" in out.output
    assert "Aged 0 to 17: 32 CCGs, highest" in out.output and "Aged 65 and over: 32 CCGs" in out.output
    image = Image.open(tmp_path / "ages.png")
    assert image.text["Description"].startswith("2 maps side by side")
    from stpmap.maps.recipes import default_name

    single = default_name(MapOptions(layer="ccg", group="London"))
    assert default_name(MapOptions(layer="ccg", group="London", facet="pop_0_17,pop_65_plus")) == \
        f"{single}-facet-pop-0-17-pop-65-plus"  # never overwrites the single map's file


# ----------------------------------------------------------------- reports


def test_report_one_picture_and_a_column_per_map(east, rates, tmp_path):
    import docx

    from stpmap.reports import write_report

    options = MapOptions(group="East of England", data=str(rates), join_on="code",
                         facet="rate_2019,rate_2020,rate_2021")
    doc = docx.Document(str(write_report(tmp_path / "east.docx", options, dpi=50)))
    (picture,) = doc.inline_shapes
    assert picture._inline.docPr.get("descr").startswith("3 maps side by side of the 6 East of England")
    (table,) = doc.tables
    rows = [[c.text for c in r.cells] for r in table.rows]
    assert rows[0] == ["Name", "Code", "rate_2019", "rate_2020", "rate_2021"]
    assert len(rows) == 1 + 6
    assert rows[1][1:] == ["E54000022", "78.0", "87.6", "99.6"]  # highest first, one way of writing numbers
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "as given in your data (rate_2019, rate_2020, rate_2021 from rates.csv)" in text


def test_report_over_vintages_marks_areas_of_other_vintages(atlas_cache, tmp_path):
    import docx

    import stpmap

    path = stpmap.report(tmp_path / "v.docx", group="London", colour_by="population", facet_vintages=[2017, 2022],
                         dpi=50)
    doc = docx.Document(str(path))
    assert len(doc.inline_shapes) == 1
    rows = [[c.text for c in r.cells] for r in doc.tables[0].rows]
    assert rows[0] == ["Name", "Code", "April 2017", "July 2022"]
    assert [r[:2] for r in rows[1:]] == [[f"NHS {n} London Integrated Care Board", f"E540000{c}"] for n, c in
                                        (("North West", 27), ("North Central", 28), ("North East", 29),
                                         ("South East", 30), ("South West", 31))]  # by code, the latest names
    assert all(r[2] == r[3] and re.fullmatch(r"\d{1,3}(,\d{3})+", r[2]) for r in rows[1:])  # same people, same areas
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "STP footprints of April 2017 (vintage 2017); Integrated Care Boards of July 2022 (vintage 2022)" in text
    with pytest.raises(InputError, match="--per-footprint with --facet-vintages"):
        stpmap.report(tmp_path / "w.docx", group="London", facet_vintages=[2017, 2022], per_footprint=True)


def test_table_over_vintages_marks_areas_not_of_a_vintage():
    from stpmap.reports.tables import facet_table

    gdf = made_up()
    panels = [_prepare.from_frame(g, colour_by="population") for g in (gdf, gdf.iloc[1:].reset_index(drop=True))]
    panels[0].vintage, panels[1].vintage = 2017, 2021
    legend = _prepare.share_colours(panels)
    facets = _facet.Facets(panels=panels, panel_titles=["a", "b"], legend=legend, title="", subtitle="",
                           attribution="", measure="Population", by="vintages")
    table = facet_table(facets)
    assert table.header == ["Name", "Code", "April 2017", "April 2021"]
    assert table.rows[0] == ["Alder", "E54000000", "120,000", "–"]  # by code; not an area of 2021
    assert table.rows[3] == ["Damson", "E54000003", "no data", "no data"]
    assert "– where an area is not one of that vintage's" in table.caption


# -------------------------------------------------------------------- image


def test_baseline_facet_made_up(dejavu, tmp_path):
    gdf = made_up()
    panels = [_prepare.from_frame(gdf.assign(x=gdf["population"] * f), colour_by="x", scheme="equal_interval", k=4,
                                  labels="none") for f in (1.0, 0.5, 1.5)]
    legend = _prepare.share_colours(panels, scheme="equal_interval", k=4, title="Made-up")
    facets = _facet.Facets(panels=panels, panel_titles=["One", "Half", "One and a half"], legend=legend,
                           title="Made-up small multiples", subtitle="3 maps on one scale",
                           attribution="Made-up data for tests.", measure="Made-up", place="Made-up")
    fig = _facet.render(facets, size=(8, 4.5), font="DejaVu Sans")
    assert "One and a half: 9 STP footprints, highest Elder (1,365,000), lowest Isle (60,000); 1 with no data" in fig.alt_text
    check_image(fig, "facet_made_up", tmp_path)


def test_hex_small_multiples_have_no_london_inset_or_scale(atlas_cache):
    """Hexes are all one size and not to scale: no panel gets the London
    inset or a scale bar, as a single hex map gets none."""
    import stpmap

    fig = stpmap.plot(shape="hex", facet_vintages=[2017, 2021], colour_by="population")
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "London" not in titles
    assert not any(t.endswith("km") for t in texts)
    plain = stpmap.plot(facet_vintages=[2017, 2021], colour_by="population")
    assert "London" in [ax.get_title(loc="left") for ax in plain.axes]
