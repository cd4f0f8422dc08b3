"""Lineage between vintages, footprint histories and crosswalks (issue 13),
against the official ONS lookups in the mirror."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import stpmap
from stpmap.data import atlas as _atlas
from stpmap.data import sources as _sources
from stpmap.data.crosswalk import CrosswalkWarning
from stpmap.data.history import change
from stpmap.data.registry import registry
from stpmap.errors import ChoiceError, InputError

#: 2017's three North East and Cumbria footprints became one in 2021.
NORTH_EAST_2017 = ["E54000045", "E54000046", "E54000047"]
CUMBRIA_AND_NORTH_EAST = "E54000050"


@pytest.fixture(scope="module")
def forward(atlas_cache):
    return stpmap.lineage(2017, 2021)


@pytest.fixture(scope="module")
def pops(atlas_cache):
    return {v: _atlas.table("stp", v, columns=["code", "name", "population"]).set_index("code") for v in (2017, 2021)}


def _official(vintage: int, role: str, key_fields: dict[str, str]) -> pd.DataFrame:
    """An official file of the mirror read with plain pandas, its columns
    renamed by the registry's field names (``key_fields``: ours -> registry key)."""
    ds = registry().dataset(vintage, role)
    df = pd.read_csv(_sources.find_source(ds), dtype=str)
    df.columns = [c.strip().lower() for c in df.columns]
    return pd.DataFrame({ours: df[next(c for c in ds.fields[key] if c in df.columns)]
                         for ours, key in key_fields.items()})


# ------------------------------------------------------------------ lineage


def test_lineage_is_the_official_lookups_joined_on_lsoa(forward):
    a = _official(2017, "lsoa_lookup", {"lsoa": "lsoa_code", "from_code": "stp_code"})
    b = _official(2021, "lsoa_lookup", {"lsoa": "lsoa_code", "to_code": "stp_code"})
    pop = _official(2017, "population", {"lsoa": "lsoa_code", "people": "total"})
    pop["people"] = pd.to_numeric(pop["people"]).astype("int64")
    joined = a.merge(b, on="lsoa").merge(pop, on="lsoa")
    assert len(joined) == len(a) == len(b) == 32_844
    expected = joined.groupby(["from_code", "to_code"])["people"].agg(["sum", "size"])
    got = forward.set_index(["from_code", "to_code"])
    assert sorted(got.index) == sorted(expected.index)
    assert (got["population"] == expected.loc[got.index, "sum"]).all()
    assert (got["lsoa_count"] == expected.loc[got.index, "size"]).all()


def test_shares_sum_to_one_both_ways(forward):
    assert list(forward.columns[:7]) == ["from_code", "from_name", "to_code", "to_name", "population",
                                         "from_share", "to_share"]
    assert forward["from_code"].nunique() == 44 and forward["to_code"].nunique() == 42
    assert np.allclose(forward.groupby("from_code")["from_share"].sum(), 1.0, rtol=0, atol=1e-12)
    assert np.allclose(forward.groupby("to_code")["to_share"].sum(), 1.0, rtol=0, atol=1e-12)


def test_people_add_up_to_each_vintages_footprints(forward, pops):
    assert (forward.groupby("from_code")["population"].sum() == pops[2017]["population"]).all()
    assert (forward.groupby("to_code")["population"].sum() == pops[2021]["population"]).all()


def test_an_unchanged_footprint_maps_one_to_one(forward):
    gm = forward[forward["from_code"] == "E54000007"]
    assert len(gm) == 1
    row = gm.iloc[0]
    assert row["to_code"] == "E54000007" and row["from_share"] == 1.0 and row["to_share"] == 1.0
    assert (forward["to_code"] == "E54000007").sum() == 1


def test_cumbria_and_north_east_is_the_merger_of_three(forward, pops):
    assert pops[2021].loc[CUMBRIA_AND_NORTH_EAST, "name"] == "Cumbria and North East"
    into = forward[forward["to_code"] == CUMBRIA_AND_NORTH_EAST].set_index("from_code")
    assert list(into.index) == NORTH_EAST_2017
    assert into.loc["E54000046", "from_share"] == 1.0 and into.loc["E54000047", "from_share"] == 1.0
    # Durham, Darlington, Teesside... mostly; Hambleton, Richmondshire and Whitby went to Humber, Coast and Vale
    assert 0.8 < into.loc["E54000045", "from_share"] < 0.9
    rest = forward[(forward["from_code"] == "E54000045") & (forward["to_code"] != CUMBRIA_AND_NORTH_EAST)]
    assert list(rest["to_code"]) == ["E54000051"]
    assert into["to_share"].sum() == pytest.approx(1.0, abs=1e-12)
    assert into["population"].sum() == pops[2021].loc[CUMBRIA_AND_NORTH_EAST, "population"]


def test_backwards_is_the_transpose(forward):
    back = stpmap.lineage(2021, 2017)
    swapped = forward.rename(columns={"from_code": "to_code", "to_code": "from_code", "from_name": "to_name",
                                      "to_name": "from_name", "from_share": "to_share", "to_share": "from_share"})
    swapped = swapped[list(back.columns)].sort_values(["from_code", "to_code"], ignore_index=True)
    pd.testing.assert_frame_equal(back, swapped)
    assert back.attrs["from_vintage"] == 2021 and back.attrs["to_vintage"] == 2017


def test_ccg_lineage(atlas_cache):
    t = stpmap.lineage(2017, 2021, layer="ccg")
    assert t["from_code"].nunique() == 207 and t["to_code"].nunique() == 106
    assert t["from_code"].str.startswith("E38").all() and t["to_name"].notna().all()
    assert np.allclose(t.groupby("from_code")["from_share"].sum(), 1.0, rtol=0, atol=1e-12)
    assert np.allclose(t.groupby("to_code")["to_share"].sum(), 1.0, rtol=0, atol=1e-12)
    assert t["population"].sum() == 55_619_430


def test_a_vintage_to_itself_is_the_identity(atlas_cache):
    t = stpmap.lineage(2021, 2021)
    assert len(t) == 42 and (t["from_code"] == t["to_code"]).all()
    assert (t["from_share"] == 1.0).all() and (t["to_share"] == 1.0).all()


def test_lineage_bad_choices(atlas_cache):
    with pytest.raises(ChoiceError, match="layer"):
        stpmap.lineage(2017, 2021, layer="lad")
    with pytest.raises(ChoiceError, match="2016"):
        stpmap.lineage(2016, 2021)


# ------------------------------------------------------------------ history


def test_history_of_a_footprint_that_merged(atlas_cache, pops):
    h = stpmap.history("E54000047", vintages=[2017, 2021])
    assert list(h["vintage"]) == [2017, 2021] and list(h["code"]) == ["E54000047", CUMBRIA_AND_NORTH_EAST]
    assert list(h["population"]) == [pops[2017].loc["E54000047", "population"],
                                     pops[2021].loc[CUMBRIA_AND_NORTH_EAST, "population"]]
    last = h.iloc[1]
    assert last["change"] == "merged, renamed, new code"
    assert last["merged_with"] == "E54000045; E54000046"
    assert "947,058 people" in last["details"] and "(was E54000047)" in last["details"]
    assert h.iloc[0]["change"] == ""


def test_history_backwards_from_a_name_of_the_later_vintage(atlas_cache):
    h = stpmap.history("Cumbria and North East", [2017, 2021])
    assert h.attrs["resolved_code"] == CUMBRIA_AND_NORTH_EAST and h.attrs["resolved_vintage"] == 2021
    # followed back to the footprint that gave it most of its people
    assert list(h["code"]) == ["E54000046", CUMBRIA_AND_NORTH_EAST]
    assert h.iloc[1]["merged_with"] == "E54000045; E54000047"


def test_history_gained_lost_and_renamed(atlas_cache):
    surrey = stpmap.history("Surrey Heartlands", [2017, 2021]).iloc[1]
    assert surrey["code"] == "E54000052" and surrey["gained_from"] == "E54000033"
    assert surrey["change"] == "gained, renamed, new code" and "191,650 people" in surrey["details"]
    sussex = stpmap.history("E54000033", [2017, 2021]).iloc[1]
    assert sussex["code"] == "E54000053" and sussex["lost_to"] == "E54000052" and "lost" in sussex["change"]
    gm = stpmap.history("E54000007", [2017, 2021]).iloc[1]
    assert gm["code"] == "E54000007" and gm["change"] == "renamed"
    assert gm["details"] == "Renamed from 'Greater Manchester'."


def _links(rows):
    t = pd.DataFrame(rows, columns=["from_code", "to_code", "population"])
    t["from_name"] = "old " + t["from_code"]
    t["to_name"] = "new " + t["to_code"]
    t["from_share"] = t["population"] / t.groupby("from_code")["population"].transform("sum")
    t["to_share"] = t["population"] / t.groupby("to_code")["population"].transform("sum")
    t["to_name"] = t["to_name"].where(t["from_code"] != "R", "old R")  # R keeps its name
    return t


def test_change_split_renumbered_and_unchanged():
    t = _links([("A", "B", 700), ("A", "Y", 300), ("R", "S", 50), ("U", "U", 10)])
    t.loc[t["from_code"] == "U", "to_name"] = "old U"
    split = change(t, "A", "B")
    assert split["change"] == "split, renamed, new code" and split["split_into"] == "Y"
    assert split["details"].startswith("Split into this and Y 'new Y' (300 people, 30% of A); renamed")
    # Y, followed back to A: A's other part (B) is named as what A split into
    assert change(t, "A", "Y")["split_into"] == "B"
    assert change(t, "R", "S")["change"] == "renumbered"
    assert change(t, "U", "U")["change"] == "unchanged" and change(t, "U", "U")["details"] == ""


def test_history_of_an_unknown_name_says_so(atlas_cache):
    with pytest.raises(InputError, match="no footprint of any vintage .2017, 2021"):
        stpmap.history("Atlantis and the Lost Isles", [2021, 2017, 2017])
    with pytest.raises(ChoiceError, match="2016"):
        stpmap.history("E54000007", [2016])


@pytest.mark.parametrize("module", ["lineage", "history", "crosswalk"])
def test_docstring_examples_hold(module, atlas_cache):
    import doctest
    import importlib

    mod = importlib.import_module(f"stpmap.data.{module}")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CrosswalkWarning)
        for test in doctest.DocTestFinder().find(mod, globs={"stpmap": stpmap}):
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 2 and result.failed == 0


# ------------------------------------------------------------------ crosswalk


@pytest.fixture(scope="module")
def stp17(pops):
    t = pops[2017].reset_index()
    return pd.DataFrame({"STP17CD": t["code"], "name": t["name"], "population": t["population"]})


def test_crosswalk_of_population_is_exactly_the_new_population(stp17, pops):
    out = stpmap.crosswalk(stp17, 2017, 2021, value="population")
    assert list(out.columns) == ["code", "name", "population", "coverage"]
    assert list(out["code"]) == sorted(pops[2021].index)
    assert (out["population"] == pops[2021]["population"].to_numpy()).all()  # exact, not approximate
    assert (out["coverage"] == 1.0).all()
    assert out.attrs["code_column"] == "STP17CD" and out.attrs["layer"] == "stp"


def test_crosswalk_sum_keeps_the_total_and_mean_of_a_constant(stp17):
    rng = np.random.default_rng(13)
    data = stp17.assign(beds=rng.integers(100, 5000, len(stp17)).astype(float), rate=2.5)
    out = stpmap.crosswalk(data, 2017, 2021, code="STP17CD", value=["beds"], how="sum")
    assert out["beds"].sum() == pytest.approx(data["beds"].sum(), rel=1e-12)
    means = stpmap.crosswalk(data, 2017, 2021, value="rate", how="mean")
    assert np.allclose(means["rate"], 2.5, rtol=1e-12, atol=0)
    back = stpmap.crosswalk(out, 2021, 2017, code="code", value="beds")
    assert back["beds"].sum() == pytest.approx(data["beds"].sum(), rel=1e-12)


def test_crosswalk_splits_a_sum_by_population_share(stp17, forward):
    data = stp17.assign(beds=0.0)
    data.loc[data["STP17CD"] == "E54000045", "beds"] = 1000.0
    out = stpmap.crosswalk(data, 2017, 2021, value="beds").set_index("code")
    share = forward.set_index(["from_code", "to_code"])["from_share"]
    assert out.loc[CUMBRIA_AND_NORTH_EAST, "beds"] == pytest.approx(1000 * share["E54000045", CUMBRIA_AND_NORTH_EAST])
    assert out.loc["E54000051", "beds"] == pytest.approx(1000 * share["E54000045", "E54000051"])


def test_crosswalk_of_ccg_figures(atlas_cache, pops):
    ccg = _atlas.table("ccg", 2017, columns=["code", "population"]).rename(columns={"code": "ccg17cd"})
    out = stpmap.crosswalk(ccg, 2017, 2021, value="population")
    assert out.attrs["layer"] == "ccg" and out.attrs["code_column"] == "ccg17cd"
    assert (out["population"] == pops[2021]["population"].to_numpy()).all()


def test_crosswalk_with_lsoa_weights(stp17, atlas_cache):
    lsoa = _atlas.layer("lsoa", 2017)
    counts = lsoa.groupby("stp_code").size().rename("lsoas").reset_index()
    weights = pd.DataFrame({"lsoa_code": lsoa["lsoa_code"], "weight": 1})
    out = stpmap.crosswalk(counts, 2017, 2021, code="stp_code", value="lsoas", weights=weights)
    assert (out["lsoas"] == _atlas.layer("lsoa", 2021).groupby("stp_code").size().to_numpy()).all()
    assert out.attrs["weights"] == "user LSOA weights"
    with pytest.raises(InputError, match="not LSOA 2011 codes.*E01999999"):
        bad = pd.concat([weights, pd.DataFrame({"lsoa_code": ["E01999999"], "weight": [1]})], ignore_index=True)
        stpmap.crosswalk(counts, 2017, 2021, code="stp_code", value="lsoas", weights=bad)
    with pytest.warns(CrosswalkWarning, match="32,843 of England's 32,844 LSOAs"), \
            pytest.raises(InputError, match="total weight of 0"):
        stpmap.crosswalk(counts, 2017, 2021, code="stp_code", value="lsoas", weights=weights.head(1))


def test_missing_values_and_missing_rows_are_said(stp17, pops):
    data = stp17.assign(beds=100.0)
    data.loc[data["STP17CD"] == "E54000047", "beds"] = np.nan
    data = data[data["STP17CD"] != "E54000005"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = stpmap.crosswalk(data, 2017, 2021, value="beds").set_index("code")
    said = " ".join(str(w.message) for w in caught if w.category is CrosswalkWarning)
    assert "1 footprint of 2017: E54000005" in said and "1 value of 'beds' is missing (E54000047)" in said
    cne = pops[2021].loc[CUMBRIA_AND_NORTH_EAST, "population"]
    assert out.loc[CUMBRIA_AND_NORTH_EAST, "coverage"] == 1.0
    assert out.loc[CUMBRIA_AND_NORTH_EAST, "coverage_beds"] == pytest.approx((cne - 318_291) / cne)
    assert out.loc[CUMBRIA_AND_NORTH_EAST, "beds"] == pytest.approx(100 + 100 * 947_058 / 1_100_222)
    wy = pops[2021].loc["E54000054", "population"]
    assert out.loc["E54000054", "coverage"] == 0.0 and np.isnan(out.loc["E54000054", "beds"]) and wy > 0


def test_rows_that_are_not_footprints_are_an_error_naming_them(stp17):
    data = pd.concat([stp17, pd.DataFrame({"STP17CD": ["E54099999", "Total"], "population": [1, 2]})],
                     ignore_index=True)
    with pytest.raises(InputError, match=r"2 rows .* 'E54099999' \(index 44\), 'TOTAL' \(index 45\)"):
        stpmap.crosswalk(data, 2017, 2021, value="population")
    with pytest.raises(InputError, match="E54000050 is a code of 2021"):
        stpmap.crosswalk(pd.DataFrame({"c": ["E54000050"], "v": [1]}), 2017, 2021, value="v")


def test_duplicates_blanks_and_text_values_are_errors(stp17):
    twice = pd.concat([stp17, stp17.head(1)], ignore_index=True)
    with pytest.raises(InputError, match=r"E54000005 \(index 0, index 44\)"):
        stpmap.crosswalk(twice, 2017, 2021, value="population")
    blank = stp17.copy()
    blank.loc[3, "STP17CD"] = None
    with pytest.raises(InputError, match=r"no code in 'STP17CD' \(index 3\)"):
        stpmap.crosswalk(blank, 2017, 2021, value="population")
    text = stp17.astype({"population": str})
    text.loc[2, "population"] = "lots"
    with pytest.raises(InputError, match=r"'lots' \(index 2\)"):
        stpmap.crosswalk(text, 2017, 2021, value="population")


def test_code_column_detection(stp17):
    both = stp17.assign(ccg="E38000001")
    with pytest.raises(InputError, match="Several columns .*STP17CD, ccg"):
        stpmap.crosswalk(both, 2017, 2021, value="population")
    with pytest.raises(InputError, match="No column"):
        stpmap.crosswalk(stp17.drop(columns="STP17CD"), 2017, 2021, value="population")
    mixed = stp17.copy()
    mixed.loc[0, "STP17CD"] = "E38000001"
    with pytest.raises(InputError, match="mixes footprint"):
        stpmap.crosswalk(mixed, 2017, 2021, value="population")
    with pytest.raises(InputError, match="--value beds.*population"):
        stpmap.crosswalk(stp17, 2017, 2021)
    with pytest.raises(ChoiceError, match="how"):
        stpmap.crosswalk(stp17, 2017, 2021, value="population", how="median")


def test_crosswalk_reads_files(stp17, tmp_path, pops):
    csv = tmp_path / "pop.csv"
    stp17.to_csv(csv, index=False, encoding="cp1252")  # ASCII content: any encoding reads it
    pq = tmp_path / "pop.parquet"
    stp17.to_parquet(pq)
    xlsx = tmp_path / "pop.xlsx"
    stp17.to_excel(xlsx, index=False, sheet_name="Data")
    for path, kw in ((csv, {"encoding": "cp1252"}), (pq, {}), (xlsx, {"sheet": "Data"})):
        out = stpmap.crosswalk(path, 2017, 2021, value="population", **kw)
        assert (out["population"] == pops[2021]["population"].to_numpy()).all(), path
    odd = tmp_path / "odd.csv"
    odd.write_bytes("STP17CD,name,population\nE54000005,Caf\xe9,1\n".encode("cp1252"))
    with pytest.raises(InputError, match="cp1252"):
        stpmap.crosswalk(odd, 2017, 2021, value="population")


def test_empty_input_and_weights_without_their_columns(stp17, atlas_cache):
    with pytest.raises(InputError, match="no rows in the data"):
        stpmap.crosswalk(stp17.head(0), 2017, 2021, value="population")
    with pytest.raises(ChoiceError, match="weight column 'weight'.*lsoa_code, people"):
        stpmap.crosswalk(stp17, 2017, 2021, value="population",
                         weights=pd.DataFrame({"lsoa_code": ["E01000001"], "people": [3]}))


# ------------------------------------------------------------ every vintage


@pytest.fixture(scope="module")
def every_atlas(atlas_cache):
    for v in registry().vintages:
        _atlas.ensure(v, progress=False)
    return registry().vintages


def test_2018_to_2022_is_the_official_lookups_joined_on_lsoa(every_atlas):
    a = _official(2018, "lsoa_lookup", {"lsoa": "lsoa_code", "from_code": "stp_code"})
    b = _official(2022, "lsoa_lookup", {"lsoa": "lsoa_code", "to_code": "stp_code"})
    pop = _official(2022, "population", {"lsoa": "lsoa_code", "people": "total"})
    pop["people"] = pd.to_numeric(pop["people"]).astype("int64")
    expected = a.merge(b, on="lsoa").merge(pop, on="lsoa").groupby(["from_code", "to_code"])["people"].sum()
    got = stpmap.lineage(2018, 2022).set_index(["from_code", "to_code"])["population"]
    assert sorted(got.index) == sorted(expected.index)
    assert (got == expected.loc[got.index]).all()


def test_every_pair_of_vintages_adds_up_both_ways(every_atlas):
    assert len(every_atlas) >= 2
    people = {v: _atlas.table("stp", v, columns=["code", "population"]).set_index("code")["population"]
              for v in every_atlas}
    for a in every_atlas:
        for b in every_atlas:
            t = stpmap.lineage(a, b)
            assert (t.groupby("from_code")["population"].sum() == people[a]).all(), (a, b)
            assert (t.groupby("to_code")["population"].sum() == people[b]).all(), (a, b)
            assert np.allclose(t.groupby("from_code")["from_share"].sum(), 1.0, rtol=0, atol=1e-12), (a, b)
            assert np.allclose(t.groupby("to_code")["to_share"].sum(), 1.0, rtol=0, atol=1e-12), (a, b)
            if a < b:
                back = stpmap.lineage(b, a).set_index(["to_code", "from_code"])
                pd.testing.assert_series_equal(back["to_share"].sort_index(), t.set_index(["from_code", "to_code"])[
                    "from_share"].sort_index(), check_names=False)


def test_2018_to_2022_what_moved(every_atlas):
    t = stpmap.lineage(2018, 2022)
    out = {code: g.set_index("to_code")["population"].to_dict() for code, g in t.groupby("from_code")}
    # Cumbria and North East (2018) lost Hambleton, Richmondshire and Whitby to Humber (2020)
    assert set(out["E54000049"]) == {"E54000050", "E54000051"} and out["E54000049"]["E54000051"] == 153_164
    # 2022: Glossop to Derbyshire, Bassetlaw to Nottinghamshire, West Birmingham to Birmingham and Solihull
    assert out["E54000007"] == {"E54000057": 2_798_799, "E54000058": 33_334}
    assert out["E54000009"]["E54000060"] == 116_304 and out["E54000016"]["E54000055"] == 175_800
    assert out["E54000008"] == {"E54000008": 2_470_956}  # Cheshire and Merseyside: unchanged, same code


def test_history_through_every_vintage(every_atlas):
    h = stpmap.history("E54000047").set_index("vintage")
    assert list(h.index) == every_atlas
    assert list(h["code"]) == ["E54000047", "E54000049", "E54000049", "E54000050", "E54000050", "E54000050"]
    assert list(h["change"]) == ["", "merged, renamed, new code", "unchanged", "lost, new code", "unchanged", "renamed"]
    assert h.loc[2018, "merged_with"] == "E54000045; E54000046" and h.loc[2020, "lost_to"] == "E54000051"
    gm = stpmap.history("Greater Manchester").set_index("vintage")
    assert gm.loc[2019, "change"] == "renamed" and gm.loc[2022, "code"] == "E54000057"
    assert gm.loc[2022, "change"] == "lost, renamed, new code" and gm.loc[2022, "lost_to"] == "E54000058"
    derbyshire = stpmap.history("E54000058").set_index("vintage")
    assert derbyshire.attrs["resolved_vintage"] == 2022 and derbyshire.loc[2017, "code"] == "E54000012"
    assert derbyshire.loc[2022, "gained_from"] == "E54000007"


def test_crosswalk_2018_to_2022(every_atlas):
    stp18 = _atlas.table("stp", 2018, columns=["code", "population"]).rename(columns={"code": "stp18cd"})
    ccg18 = _atlas.table("ccg", 2018, columns=["code", "population"]).rename(columns={"code": "ccg18cd"})
    icb22 = _atlas.table("stp", 2022, columns=["code", "population"])
    for data in (stp18, ccg18):
        out = stpmap.crosswalk(data, 2018, 2022, value="population")
        assert list(out["code"]) == list(icb22["code"]) and (out["population"] == icb22["population"]).all()
        assert (out["coverage"] == 1.0).all()
