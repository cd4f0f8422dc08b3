"""Every footprint vintage, 2017 to the ICBs of July 2022 (issue 13), against
the official figures and the changes ONS and NHS England made each year."""

from __future__ import annotations

import re

import numpy as np
import pytest
import shapely

import stpmap
from stpmap.data import atlas as _atlas
from stpmap.data import groups as _groups
from stpmap.errors import ChoiceError

VINTAGES = (2017, 2018, 2019, 2020, 2021, 2022)
#: As published: footprints, CCGs (sub-ICB locations in 2022), English districts,
#: ONS regions, NHS England regions and local offices (none from 2019).
COUNTS = {
    2017: (44, 207, 326, 9, 4, 14),
    2018: (42, 195, 326, 9, 5, 14),
    2019: (42, 191, 317, 9, 7, None),
    2020: (42, 135, 314, 9, 7, None),
    2021: (42, 106, 309, 9, 7, None),
    2022: (42, 106, 309, 9, 7, None),
}
ENGLAND = 55_619_430
LAYERS = ("stp", "ccg", "lad", "region", "nhs_region", "nhs_local_office")


@pytest.fixture(scope="module")
def every_atlas(atlas_cache):
    for v in VINTAGES:
        _atlas.ensure(v, progress=False)
    return atlas_cache


def lsoas_by_footprint(vintage) -> dict[str, frozenset]:
    t = _atlas.table("lsoa", vintage, columns=["lsoa_code", "stp_code"])
    return {code: frozenset(g["lsoa_code"]) for code, g in t.groupby("stp_code")}


def footprint_of(vintage) -> dict[str, str]:
    t = _atlas.table("lsoa", vintage, columns=["lsoa_code", "stp_code"])
    return dict(zip(t["lsoa_code"], t["stp_code"]))


# ---------------------------------------------------------------- every vintage


@pytest.mark.parametrize("vintage", VINTAGES)
def test_counts_as_published(every_atlas, vintage):
    available = _atlas.available_layers(vintage)
    for name, n in zip(LAYERS, COUNTS[vintage]):
        if n is None:
            assert name not in available, (vintage, name)
        else:
            assert len(_atlas.layer(name, vintage)) == n, (vintage, name)


@pytest.mark.parametrize("vintage", VINTAGES)
def test_england_total_on_every_layer_and_the_year_stated(every_atlas, vintage):
    for name in LAYERS:
        if name in _atlas.available_layers(vintage):
            assert _atlas.table(name, vintage, columns=["population"])["population"].sum() == ENGLAND, (vintage, name)
    fp = stpmap.footprints(vintage)
    assert fp.attrs["vintage"] == vintage and "mid-2017" in fp.attrs["population_source"]
    month = "July 2022" if vintage == 2022 else f"April {vintage}"
    assert f"through the {month} lookup" in fp.attrs["population_source"]
    bands = fp["pop_0_17"] + fp["pop_18_64"] + fp["pop_65_plus"]
    assert (bands == fp["population"]).all() and (fp["pop_85_plus"] < fp["pop_65_plus"]).all()


@pytest.mark.parametrize("vintage", VINTAGES)
def test_every_lsoa_in_exactly_one_area(every_atlas, vintage):
    lsoa = _atlas.layer("lsoa", vintage)
    assert list(lsoa.columns) == ["lsoa_code", "ccg_code", "stp_code", "lad_code", "region_code", "population",
                                  "pop_0_17", "pop_18_64", "pop_65_plus", "pop_85_plus"]
    assert len(lsoa) == 32_844 and lsoa["lsoa_code"].is_unique and lsoa.notna().all().all()
    for column, name in (("ccg_code", "ccg"), ("stp_code", "stp"), ("lad_code", "lad"), ("region_code", "region")):
        layer = _atlas.table(name, vintage, columns=["code", "population"]).set_index("code")["population"]
        assert lsoa.groupby(column)["population"].sum().sort_index().equals(layer.sort_index()), (vintage, name)
    ccg = _atlas.table("ccg", vintage, columns=["code", "stp_code"])
    assert lsoa.groupby("ccg_code")["stp_code"].nunique().max() == 1  # each CCG in one footprint
    assert dict(zip(ccg["code"], ccg["stp_code"])) == dict(zip(lsoa["ccg_code"], lsoa["stp_code"]))


@pytest.mark.parametrize("vintage", VINTAGES)
def test_footprints_are_exact_unions_of_their_ccgs(every_atlas, vintage):
    fp = stpmap.footprints(vintage).set_index("code")
    ccg = stpmap.ccgs(vintage)
    assert (ccg.groupby("stp_code").size().reindex(fp.index) == fp["ccg_count"]).all()
    for code, parts in ccg.groupby("stp_code"):
        union = shapely.union_all(parts.geometry.values)
        assert shapely.symmetric_difference(fp.geometry[code], union).area < 1.0, (vintage, code)
    assert fp.geometry.is_valid.all() and fp.crs.to_epsg() == 27700
    # the footprints tile England: neighbours share borders without overlapping
    geoms = fp.geometry.values
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = left < right
    assert pairs.sum() > 80
    assert shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]])).sum() < 10.0


@pytest.mark.parametrize("vintage", VINTAGES)
def test_regions_group_every_footprint_once(every_atlas, vintage):
    groups = _groups.builtin_groups(vintage)
    for kind in {g.kind for g in groups}:
        codes = [c for g in groups if g.kind == kind for c in g.codes]
        assert len(codes) == len(set(codes)) == COUNTS[vintage][0], (vintage, kind)
    assert {g.kind for g in groups} == ({"region", "nhs_region", "nhs_local_office"} if vintage < 2019
                                        else {"region", "nhs_region"})
    assert sum(g.kind == "nhs_region" for g in groups) == COUNTS[vintage][4]


def test_unknown_vintage_lists_all_six(every_atlas):
    six = "Valid choices: 2017, 2018, 2019, 2020, 2021, 2022"
    for call in (lambda: stpmap.footprints(2016), lambda: stpmap.ccgs(2023), lambda: stpmap.regions("2022a"),
                 lambda: stpmap.lookup("NG1 5DT", vintage=2016)):
        with pytest.raises(ChoiceError, match=six):
            call()


# ---------------------------------------------------------------- the changes


def test_2018_three_northern_footprints_merged(every_atlas):
    before, after = lsoas_by_footprint(2017), lsoas_by_footprint(2018)
    gone = {"E54000045", "E54000046", "E54000047"}
    assert gone <= set(before) and not gone & set(after) and "E54000049" not in before
    assert after["E54000049"] == before["E54000045"] | before["E54000046"] | before["E54000047"]
    assert {c: s for c, s in after.items() if c != "E54000049"} == {c: s for c, s in before.items() if c not in gone}


def test_2019_renames_without_boundary_change(every_atlas):
    assert lsoas_by_footprint(2019) == lsoas_by_footprint(2018)
    names = {v: stpmap.footprints(v).set_index("code")["name"] for v in (2018, 2019)}
    assert names[2018]["E54000005"] == "West Yorkshire"
    assert names[2019]["E54000005"] == "West Yorkshire and Harrogate (Health and Care Partnership)"


def test_2020_changed_footprints_have_new_codes(every_atlas):
    before, after = lsoas_by_footprint(2019), lsoas_by_footprint(2020)
    kept = set(before) & set(after)
    assert all(before[c] == after[c] for c in kept)  # a code kept is the same area
    assert set(before) - kept == {"E54000005", "E54000006", "E54000033", "E54000035", "E54000049"}
    assert set(after) - kept == {f"E540000{n}" for n in range(50, 55)}
    ccg = stpmap.ccgs(2020).set_index("name")
    assert ccg.loc["NHS North Yorkshire CCG", "stp_code"] == "E54000051"  # with Harrogate, now Humber, Coast and Vale
    assert ccg.loc["NHS Surrey Heartlands CCG", "stp_code"] == "E54000052"  # with East Surrey
    east_surrey = stpmap.ccgs(2019).set_index("name").loc["NHS East Surrey CCG"]
    assert east_surrey["stp_code"] == "E54000033"  # Sussex and East Surrey until 2020


def test_2021_no_boundary_change(every_atlas):
    assert lsoas_by_footprint(2021) == lsoas_by_footprint(2020)


def test_2022_icbs_new_codes_ods_codes_and_nhs_names(every_atlas):
    before, after = lsoas_by_footprint(2021), lsoas_by_footprint(2022)
    kept = set(before) & set(after)
    assert all(before[c] == after[c] for c in kept)
    assert set(after) - kept == {f"E540000{n}" for n in range(55, 63)}
    icb = stpmap.footprints(2022)
    assert icb["ods_code"].str.fullmatch(r"Q[A-Z0-9]{2}").all() and icb["ods_code"].is_unique
    assert icb["name"].map(lambda n: bool(re.fullmatch(r"NHS .+ Integrated Care Board", n))).all()
    row = icb.set_index("ods_code").loc["QJ2"]
    assert (row["code"], row["name"]) == ("E54000058", "NHS Derby and Derbyshire Integrated Care Board")
    sub = stpmap.ccgs(2022)
    assert len(sub) == 106 and sub["ods_code"].str.fullmatch(r"[0-9A-Z]{3}|[0-9A-Z]{5}").all()
    assert sub["name"].str.contains(" ICB - ").all()


def test_2022_nhs_regions_follow_the_icbs(every_atlas):
    icb = stpmap.footprints(2022).set_index("code")
    assert icb.loc["E54000058", "nhs_region"] == "Midlands"  # Derbyshire with Glossop
    assert icb.loc["E54000060", "nhs_region"] == "Midlands"  # Nottinghamshire with Bassetlaw
    assert icb.loc["E54000057", "nhs_region"] == "North West"
    nhs = stpmap.regions(2022, kind="nhs_region").set_index("code")["name"]
    assert nhs.to_dict() == {"E40000003": "London", "E40000005": "South East", "E40000006": "South West",
                             "E40000007": "East of England", "E40000010": "North West", "E40000011": "Midlands",
                             "E40000012": "North East and Yorkshire"}


def test_glossop_bassetlaw_and_west_birmingham_move_in_2022(every_atlas):
    lsoa17 = _atlas.layer("lsoa", 2017)
    ccg17 = stpmap.ccgs(2017).set_index("ods_code")
    glossop = set(lsoa17.loc[(lsoa17["ccg_code"] == ccg17.loc["01Y", "code"]) & (lsoa17["lad_code"] == "E07000037"),
                             "lsoa_code"])
    assert len(glossop) == 21
    bassetlaw = set(lsoa17.loc[lsoa17["ccg_code"] == ccg17.loc["02Q", "code"], "lsoa_code"])
    west_birmingham = set(lsoa17.loc[(lsoa17["ccg_code"] == ccg17.loc["05L", "code"]) & (lsoa17["lad_code"] == "E08000025"),
                                     "lsoa_code"])
    for v in VINTAGES:
        where = footprint_of(v)
        want = ("E54000058", "E54000060", "E54000055") if v == 2022 else \
            ("E54000007", "E54000009", "E54000016")  # Greater Manchester, South Yorkshire and Bassetlaw, Black Country
        assert {where[c] for c in glossop} == {want[0]}, v
        assert {where[c] for c in bassetlaw} == {want[1]}, v
        assert {where[c] for c in west_birmingham} == {want[2]}, v


def test_the_split_ccgs_are_recorded_with_what_moved(every_atlas):
    moved = {a["ccg_2017"]: (a["drawn_with"], a["moved"]["lsoas"], a["moved"]["population"])
             for a in _atlas.manifest(2022)["approximations"]}
    assert moved == {
        "E38000065": ("ccg19_bgc", 1, 1_422),        # Greater Preston: Preston 002D (2018)
        "E38000216": ("ccg19_bgc", 10, 19_408),      # Morecambe Bay: ten Wyre LSOAs (2018)
        "E38000213": ("ccg21_buc", 4, 6_916),        # Coastal West Sussex: four Chichester LSOAs (2020)
        "E38000026": ("lad17_bsc", 9, 16_822),       # Cambridgeshire and Peterborough: East Northamptonshire
        "E38000144": ("lad17_bsc", 92, 175_800),     # Sandwell and West Birmingham: West Birmingham
        "E38000182": ("lad17_bsc", 21, 33_334),      # Tameside and Glossop: Glossop
    }
    assert _atlas.manifest(2017)["approximations"] == []
    assert [a["ccg_2017"] for a in _atlas.manifest(2018)["approximations"]] == ["E38000065", "E38000216"]


def test_footprints_match_the_official_boundaries(every_atlas):
    agreement = _atlas.manifest(2021)["official_agreement"]
    assert agreement["dataset"] == "stp21_buc" and agreement["lowest"] > 0.9 and agreement["median"] > 0.95
    assert _atlas.manifest(2022)["official_agreement"]["median"] > 0.85  # a coarsely simplified file


def test_csv_of_the_icbs_gives_their_ods_codes(every_atlas, cli):
    import io

    import pandas as pd

    df = pd.read_csv(io.StringIO(cli("footprints", "--vintage", "2022", "--format", "csv").stdout))
    assert len(df) == 42 and list(df.columns[:3]) == ["code", "name", "ods_code"]
    assert df.set_index("code").loc["E54000058", "ods_code"] == "QJ2"
    assert "ods_code" not in pd.read_csv(io.StringIO(cli("footprints", "--format", "csv").stdout)).columns  # 2017


# ---------------------------------------------------------------- postcodes in every vintage


@pytest.fixture(scope="module")
def placements(every_atlas):
    """Each English postcode's footprint code in every vintage (the indexes built once)."""
    from stpmap.postcodes import index as _pcindex

    directory = _pcindex.directory()
    england = (np.asarray(directory.country) == _pcindex.ENGLAND) & np.isfinite(np.asarray(directory.easting))
    out = {}
    for v in VINTAGES:
        idx = _pcindex.vintage_index(v)
        stp = idx.combo_stp[np.asarray(idx.assign)[england]]
        assert (stp >= 0).all(), v  # every English postcode with a grid reference is placed
        out[v] = np.asarray(idx.stp_codes, dtype=object)[stp]
    return out


@pytest.mark.parametrize("earlier", VINTAGES[:-1])
def test_postcodes_move_between_footprints_only_as_their_lsoas_do(placements, earlier):
    """A postcode moves from footprint A to B between consecutive vintages
    only if some LSOA of A in the earlier vintage is in B in the later one."""
    later = earlier + 1
    a, b = footprint_of(earlier), footprint_of(later)
    allowed = {(a[c], b[c]) for c in a}
    moved = placements[earlier] != placements[later]
    pairs = set(zip(placements[earlier][moved], placements[later][moved]))
    assert pairs <= allowed, sorted(pairs - allowed)
    assert moved.any() == any(p != q for p, q in allowed)  # footprints changed that year, and postcodes with them


def test_glossop_postcode_in_every_vintage(every_atlas):
    codes = {v: stpmap.lookup("SK13 8LY", vintage=v)["footprint_code"] for v in VINTAGES}
    assert codes == {2017: "E54000007", 2018: "E54000007", 2019: "E54000007", 2020: "E54000007",
                     2021: "E54000007", 2022: "E54000058"}
