"""The user's figures keyed by the codes of another vintage (found, said, and
mapped on that vintage's boundaries or carried to the map's), and by the names
people use (through the one footprint-name resolver)."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from stpmap.data import atlas as _atlas
from stpmap.data.registry import registry
from stpmap.errors import InputError
from stpmap.maps.alttext import alt_text
from stpmap.maps.options import MapOptions
from stpmap.maps.prepare import prepare
from stpmap.maps.userdata import join, vintage_to_map

ENGLAND = 55_619_430


@pytest.fixture(scope="module")
def every_atlas(atlas_cache):
    for v in registry().vintages:
        _atlas.ensure(v, progress=False)


def _stp(vintage: int) -> pd.DataFrame:
    return _atlas.table("stp", vintage)


@pytest.fixture(scope="module")
def people18(every_atlas) -> pd.DataFrame:
    """Population by 2018 footprint, keyed by STP18CD (E54000049 exists only in 2018 and 2019)."""
    s = _stp(2018)
    return pd.DataFrame({"STP18CD": list(s["code"]), "people": list(s["population"])})


def _prepared(options: MapOptions):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        md = prepare(options, tolerance=500)
    return md, " ".join(str(w.message) for w in caught)


# ------------------------------------------------------------------ codes of another vintage


def test_2018_codes_are_mapped_on_2018_when_no_vintage_is_given(people18):
    assert vintage_to_map(people18) == 2018
    options = MapOptions(data=people18)
    assert (options.vintage, options.data_vintage) == (2018, 2018)
    md, said = _prepared(options)
    assert md.vintage == 2018 and len(md.gdf) == 42
    cne = md.gdf.set_index("code").loc["E54000049"]
    assert cne["people"] == _stp(2018).set_index("code").loc["E54000049", "population"]
    assert "STP18CD" in said and "April 2018" in said  # said on standard error / as a warning
    assert md.subtitle.endswith("figures given for April 2018 STP footprints")
    assert "Figures given for April 2018 STP footprints." in alt_text(md)


def test_2018_codes_are_carried_to_the_icbs_of_2022(people18):
    with pytest.raises(InputError, match=r"--aggregate sum .* --aggregate mean .* --vintage 2018"):
        join(people18, 2022)
    j = join(people18, 2022, aggregate="sum")
    assert j.carried and (j.data_vintage, j.vintage) == (2018, 2022)
    icb = _stp(2022).set_index("code")["population"].astype(float)
    assert len(j.values) == 42 and j.values.sum() == pytest.approx(ENGLAND)  # nothing lost or doubled
    assert j.values.sort_index().to_numpy() == pytest.approx(icb.sort_index().to_numpy())  # people follow their LSOAs
    assert j.vintage_note == ("figures given for April 2018 STP footprints, carried to July 2022 Integrated Care "
                              "Boards by population share")
    rate = join(people18.assign(people=7.5), 2022, aggregate="mean")  # a rate stays a rate
    assert rate.values.to_numpy() == pytest.approx([7.5] * 42)
    md, said = _prepared(MapOptions(vintage=2022, data=people18, aggregate="sum"))
    assert md.vintage == 2022 and "carried to the July 2022 Integrated Care Boards" in said
    assert "carried to July 2022 Integrated Care Boards by population share" in md.subtitle
    assert alt_text(md).endswith(", carried to July 2022 Integrated Care Boards by population share.")
    assert "carried from 2018 (sum by population share)" in md.notes[0]


def test_three_2017_footprints_add_up_to_the_merged_2018_one(every_atlas):
    s17 = _stp(2017)
    beds = pd.DataFrame({"stp17cd": list(s17["code"]), "beds": [10.0 * i + 1 for i in range(len(s17))]})
    j = join(beds, 2018, aggregate="sum")
    by_code = beds.set_index("stp17cd")["beds"]
    assert j.values["E54000049"] == pytest.approx(by_code[["E54000045", "E54000046", "E54000047"]].sum())
    assert j.values["E54000005"] == by_code["E54000005"]  # unchanged footprints keep their figure
    assert j.values.sum() == pytest.approx(by_code.sum())


def test_codes_of_the_maps_own_vintage_say_nothing(every_atlas):
    east = _stp(2017).head(6)  # codes of 2017 that 2018-2021 have too
    j = join(pd.DataFrame({"code": list(east["code"]), "v": range(6)}), 2017)
    assert not j.carried and j.vintage_note == "" and j.messages == []
    icb = _stp(2022)
    j22 = join(pd.DataFrame({"ICB22CD": list(icb["code"]), "v": range(42)}), 2022)
    assert len(j22.values) == 42 and j22.messages == [] and not j22.carried
    assert vintage_to_map(pd.DataFrame({"code": list(east["code"]), "v": range(6)})) is None  # the default fits


def test_ods_codes_of_several_vintages_ask_for_the_data_vintage(every_atlas, tmp_path, cli):
    icb = _stp(2022)
    ods = pd.DataFrame({"ICB code": list(icb["ods_code"]), "v": range(42)})
    # QUA is The Black Country (E54000016) until 2021, the Black Country ICB (E54000062) in 2022
    with pytest.raises(InputError, match=r"2020, 2021 and 2022, but not the same areas.*--data-vintage YEAR"):
        MapOptions(data=ods)
    with pytest.raises(InputError, match=r"--data-vintage YEAR"):
        join(ods, 2017, aggregate="sum")
    assert MapOptions(data=ods, data_vintage=2022).vintage == 2022
    assert join(ods, 2022).messages == []  # the map's own vintage: nothing to say
    carried = join(ods, 2021, data_vintage=2022, aggregate="sum")
    assert carried.carried and carried.values.sum() == pytest.approx(ods["v"].sum())
    path = tmp_path / "icb.csv"
    ods.to_csv(path, index=False)
    refused = cli("map", "--data", str(path), "--format", "html", "-o", str(tmp_path / "a.html"), code=2)
    assert "--data-vintage" in refused.output and not (tmp_path / "a.html").exists()
    cli("map", "--data", str(path), "--data-vintage", "2022", "--format", "html", "-o", str(tmp_path / "b.html"))
    assert "Integrated Care Board" in (tmp_path / "b.html").read_text(encoding="utf-8")


def test_codes_of_no_single_vintage_are_an_error_naming_them(every_atlas):
    mixed = pd.DataFrame({"code": ["E54000045", "E54000055", "E54000005", "E54000021"], "v": [1, 2, 3, 4]})
    with pytest.raises(InputError, match=r"not all of one vintage: 3 of 4 name footprints of 2017, but 'E54000055' "
                                         r"\(2022\) does not"):
        join(mixed, 2017)
    with pytest.raises(InputError, match="not all of one vintage"):
        MapOptions(data=mixed)


def test_options_copied_without_their_data_drop_the_data_vintage(people18):
    import dataclasses

    options = MapOptions(data=people18)
    assert (options.vintage, options.data_vintage) == (2018, 2018)
    with pytest.raises(InputError, match="--data-vintage describes a data file"):
        dataclasses.replace(options, data=None, layer="ccg")
    page = dataclasses.replace(options, data=None, data_vintage=None, layer="ccg")  # as a report's footprint pages are made
    assert (page.vintage, page.data_vintage) == (2018, None)


def test_a_data_vintage_the_codes_do_not_fit_is_an_error(people18):
    with pytest.raises(InputError, match=r"not a footprint of 2017.*\(--data-vintage 2017\): 'E54000049' \(2018-2019\)"):
        join(people18, 2017, data_vintage=2017)
    with pytest.raises(InputError, match="--data-vintage describes a data file"):
        MapOptions(data_vintage=2018)


def test_ccg_codes_of_another_vintage(every_atlas):
    c20 = _atlas.table("ccg", 2020)
    df = pd.DataFrame({"CCG20CD": list(c20["code"]), "people": list(c20["population"])})
    assert MapOptions(data=df, aggregate="sum").vintage == 2020
    j = join(df, 2017, aggregate="sum")  # CCGs of 2020 carried to the footprints of 2017
    assert j.carried and j.level == "ccg" and j.matched_by == "CCG GSS code"
    s17 = _stp(2017).set_index("code")["population"].astype(float)
    assert j.values.sort_index().to_numpy() == pytest.approx(s17.sort_index().to_numpy())
    assert "CCG GSS codes in 'CCG20CD' are those of the April 2020 CCGs" in j.messages[0]
    with pytest.raises(InputError, match="--vintage 2020"):
        join(df, 2017, layer="ccg")


def test_part_of_a_footprint_covered_is_no_data_and_said(people18):
    north = people18[people18["STP18CD"].isin(["E54000049"])]
    j = join(north, 2022, aggregate="sum")
    # 2018's Cumbria and North East became most of North East and North Cumbria, and part of Humber and North Yorkshire
    assert "E54000050" in j.values.index and "E54000051" not in j.values.index
    assert any("E54000051" in k for k in j.incomplete) and "not wholly covered" in " ".join(j.messages)


def test_2018_codes_on_the_command_line(people18, tmp_path, cli):
    path = tmp_path / "people18.csv"
    people18.to_csv(path, index=False)
    out = tmp_path / "cne.html"
    r = cli("map", "--data", str(path), "--footprint", "Cumbria and North East", "--format", "html", "-o", str(out),
            "--alt-text")
    assert "April 2018 STP footprints" in r.output and "Figures given for April 2018 STP footprints" in r.output
    r = cli("map", "--data", str(path), "--vintage", "2022", "--aggregate", "sum", "--footprint", "E54000050",
            "--format", "html", "-o", str(out), "--alt-text")
    assert "Alt text: " in r.output and "carried to July 2022 Integrated Care Boards by population share." in r.output


# ------------------------------------------------------------------ names


@pytest.fixture(scope="module")
def named() -> pd.DataFrame:
    """One name from each source: ONS 2017 name, ICB name of 2022, abbreviation, ODS code, a typo."""
    return pd.DataFrame({
        "Footprint": ["Cambridgeshire and Peterborough", "NHS Frimley Integrated Care Board", "BNSSG", "QE1",
                      "Surrey Hartlands", "West Yorkshire"],
        "beds": [1, 2, 3, 4, 5, 6],
    })


def test_names_from_every_source_resolve(atlas_cache, named):
    j = join(named, 2017)
    assert j.matched_by == "footprint name" and not j.unmatched
    assert j.values.to_dict() == {"E54000021": 1, "E54000034": 2, "E54000039": 3, "E54000048": 4, "E54000035": 5,
                                  "E54000005": 6}
    assert [(g, c) for g, _m, c, _s in j.fuzzy] == [("Surrey Hartlands", "E54000035")]
    assert "'Surrey Hartlands' -> 'Surrey Heartlands' (E54000035" in " ".join(j.messages)
    j21 = join(named, 2021)  # the same names on the footprints of 2021
    assert j21.values["E54000048"] == 4 and j21.values["E54000039"] == 3 and len(j21.values) == 6


def test_icb_names_of_2022_are_mapped_on_2022(every_atlas):
    icb = _stp(2022)
    df = pd.DataFrame({"ICB name": list(icb["name"]), "people": list(icb["population"])})
    assert MapOptions(data=df).vintage == 2022
    j = join(df, 2021, aggregate="sum")
    assert j.carried and j.values.sum() == pytest.approx(ENGLAND)


def test_unknown_names_are_an_error_with_the_closest_names(atlas_cache):
    df = pd.DataFrame({"Footprint": ["Atlantis", "Camb and Pete", "BNSSG"], "beds": [1, 2, 3]})
    with pytest.raises(InputError) as caught:
        join(df, 2017)
    msg = str(caught.value)
    assert "2 names in 'Footprint'" in msg and "'Atlantis' (no footprint name is close to it)" in msg
    assert "'Camb and Pete' (did you mean 'Cambridgeshire and Peterborough'?)" in msg and "stpmap names" in msg


def test_names_on_the_command_line(atlas_cache, named, tmp_path, cli):
    path = tmp_path / "named.csv"
    named.to_csv(path, index=False)
    out = tmp_path / "named.html"
    r = cli("map", "--data", str(path), "--format", "html", "-o", str(out))
    assert "fuzzy match" in r.output and "'Surrey Hartlands' -> 'Surrey Heartlands'" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("Footprint,beds\nCamb and Pete,2\nBNSSG,3\n", encoding="utf-8")
    r = cli("map", "--data", str(bad), "--format", "html", "-o", str(tmp_path / "bad.html"), code=2)
    assert "did you mean 'Cambridgeshire and Peterborough'?" in r.output and not (tmp_path / "bad.html").exists()


def test_plot_explore_and_report_take_the_data_vintage(people18, tmp_path):
    """The public verbs pass ``data_vintage`` on: a wrong one is the same
    error as on the command line; the right one maps through the crosswalk."""
    import docx

    import stpmap

    with pytest.raises(InputError, match="--data-vintage 2017"):
        stpmap.plot(data=people18, data_vintage=2017)
    with pytest.raises(InputError, match="--data-vintage 2017"):
        stpmap.explore(data=people18, data_vintage=2017)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = stpmap.plot(data=people18, data_vintage=2018, vintage=2022, aggregate="sum")
        out = stpmap.report(tmp_path / "r.docx", data=people18, data_vintage=2018, vintage=2022, aggregate="sum",
                            shape="hex", palette="analysis-function")
    assert "carried to July 2022 Integrated Care Boards" in fig.alt_text
    doc = docx.Document(str(out))
    described = [el.get("descr") for el in doc.element.body.iter() if el.tag.endswith("}docPr")]
    assert any(d and d.startswith("Hex cartogram") and "carried to July 2022" in d for d in described), described


def test_a_data_file_is_read_once_a_map_and_again_when_it_changes(every_atlas, tmp_path, monkeypatch):
    """Its vintage is found before the join: both use one reading, while the
    file is unchanged; an edited file is read afresh (never a stale answer)."""
    import os

    import stpmap
    from stpmap.maps import userdata as U

    calls = []
    real = U.read_table
    monkeypatch.setattr(U, "read_table", lambda *a, **k: calls.append(a) or real(*a, **k))
    f = tmp_path / "beds.csv"
    f.write_text("code,beds\nE54000049,5\nE54000044,3\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = stpmap.plot(data=f, value="beds")
        assert len(calls) == 1 and "April 2018" in first.alt_text and "from 3 to 5" in first.alt_text
        f.write_text("code,beds\nE54000049,7\nE54000044,3\n")
        os.utime(f, ns=(1, 1))  # an edit within the same clock tick is still seen: size or time differ
        second = stpmap.plot(data=f, value="beds")
    assert len(calls) == 2 and "from 3 to 7" in second.alt_text
