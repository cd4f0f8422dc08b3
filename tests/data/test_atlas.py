"""The built atlas against the official figures (issue: geodata pipeline)."""

from __future__ import annotations

import pytest
import shapely

import stpmap
from stpmap.data import atlas as _atlas

EAST_SIX = {
    "E54000021": "Cambridgeshire and Peterborough",
    "E54000022": "Norfolk and Waveney",
    "E54000023": "Suffolk and North East Essex",
    "E54000024": "Milton Keynes, Bedfordshire and Luton",
    "E54000025": "Hertfordshire and West Essex",
    "E54000026": "Mid and South Essex",
}


@pytest.fixture(scope="module")
def stp17(atlas_cache):
    return stpmap.footprints(2017)


def test_layer_counts(atlas_cache):
    expected = {2017: dict(stp=44, ccg=207, lad=326, region=9, nhs_region=4, nhs_local_office=14),
                2021: dict(stp=42, ccg=106, region=9)}
    for vintage, counts in expected.items():
        for name, n in counts.items():
            assert len(_atlas.layer(name, vintage)) == n, (vintage, name)


def test_codes_and_crs(stp17):
    assert stp17.crs.to_epsg() == 27700
    assert list(stp17["code"]) == [f"E54{n:06d}" for n in range(5, 49)]
    assert stp17["code"].is_unique and stp17["name"].is_unique
    assert stp17.attrs["vintage"] == 2017
    assert "Open Government Licence" in stp17.attrs["attribution"]


def test_england_population_and_extremes(stp17):
    assert stp17["population"].sum() == 55_619_430
    small = stp17.loc[stp17["population"].idxmin()]
    large = stp17.loc[stp17["population"].idxmax()]
    assert (small["name"], small["population"]) == ("West, North and East Cumbria", 318_291)
    assert (large["code"], large["population"]) == ("E54000007", 2_832_133)


def test_population_is_the_same_on_every_layer(atlas_cache):
    for name in ("stp", "ccg", "lad", "region", "nhs_region", "nhs_local_office"):
        assert _atlas.layer(name, 2017)["population"].sum() == 55_619_430, name
    assert _atlas.layer("stp", 2021)["population"].sum() == 55_619_430


def test_age_bands_add_up(stp17):
    bands = stp17["pop_0_17"] + stp17["pop_18_64"] + stp17["pop_65_plus"]
    assert (bands == stp17["population"]).all()
    assert (stp17["pop_85_plus"] < stp17["pop_65_plus"]).all()
    assert (stp17["pop_85_plus"] > 0).all()


def test_footprints_are_exact_unions_of_their_ccgs(atlas_cache, stp17):
    ccg = stpmap.ccgs(2017)
    assert ccg.groupby("stp_code").size().sum() == 207
    assert (ccg.groupby("stp_code").size().reindex(stp17["code"]).values == stp17["ccg_count"].values).all()
    for code, parts in ccg.groupby("stp_code"):
        fp = stp17.set_index("code").geometry[code]
        union = shapely.union_all(parts.geometry.values)
        assert shapely.symmetric_difference(fp, union).area < 1.0, code


def test_no_slivers_or_gaps_between_neighbours(stp17):
    geoms = stp17.geometry.values
    assert all(shapely.is_valid(geoms))
    total = shapely.union_all(geoms).area
    assert abs(total - sum(g.area for g in geoms)) < 10.0  # no overlaps (m²)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = [(a, b) for a, b in zip(left, right) if a < b]
    assert len(pairs) > 80  # footprints really share borders
    overlap = sum(shapely.intersection(geoms[a], geoms[b]).area for a, b in pairs)
    assert overlap < 10.0


def test_straddling_footprint_has_region_shares(stp17):
    mkbl = stp17.set_index("code").loc["E54000024"]
    assert mkbl["region"] == "East of England"
    assert mkbl["region_share"] == pytest.approx(0.708, abs=0.005)
    assert mkbl["regions"].startswith("East of England 70.8%; South East 29.2%")


def test_glossop_sits_in_greater_manchester_in_2017(atlas_cache):
    ccg = stpmap.ccgs(2017).set_index("ods_code")
    assert ccg.loc["01Y", "name"].startswith("NHS Tameside and Glossop")
    assert ccg.loc["01Y", "stp_code"] == "E54000007"
    high_peak = stpmap.local_authorities(2017).set_index("name").loc["High Peak"]
    assert high_peak["stp_shares"] == "Derbyshire 63.8%; Greater Manchester 36.2%"  # Glossop


def test_east_of_england_is_exactly_the_six(atlas_cache):
    east = stpmap.footprints(2017, group="East of England")
    assert dict(zip(east["code"], east["name"])) == EAST_SIX


def test_groups_cover_every_kind(atlas_cache):
    g = stpmap.groups(2017)
    counts = g.groupby("kind").size().to_dict()
    assert counts == {"region": 9, "nhs_region": 4, "nhs_local_office": 14}
    # every footprint in exactly one group of each kind
    for kind, sub in g.groupby("kind"):
        codes = ";".join(sub["footprint_codes"]).split(";")
        assert len(codes) == len(set(codes)) == 44, kind
    assert g.loc[g.qualified_name == "region:East of England", "footprint_count"].item() == 6


def test_regions_agree_with_districts(atlas_cache):
    reg = stpmap.regions(2017)
    lad = stpmap.local_authorities(2017)
    by_lad = lad.groupby("region")["population"].sum()
    assert by_lad.to_dict() == dict(zip(reg["name"], reg["population"]))
    assert stpmap.regions(2017, kind="nhs_region")["name"].nunique() == 4


def test_vintage_2021(atlas_cache):
    fp = stpmap.footprints(2021)
    assert len(fp) == 42 and fp.crs.to_epsg() == 27700
    small = fp.loc[fp["population"].idxmin()]
    assert (small["code"], small["population"]) == ("E54000011", 493_227)
    assert fp["population"].max() == 2_963_018
    assert "E54000050" in set(fp["code"]) and "E54000045" not in set(fp["code"])


@pytest.mark.parametrize("vintage", [2017, 2021])
def test_every_lsoa_once_with_its_areas(atlas_cache, vintage):
    """The LSOA table that lineage between vintages is worked out from."""
    lsoa = _atlas.layer("lsoa", vintage)
    assert len(lsoa) == 32_844 and lsoa["lsoa_code"].is_unique
    assert lsoa["population"].sum() == 55_619_430
    assert lsoa[["ccg_code", "stp_code", "lad_code"]].notna().all().all()
    stp = _atlas.table("stp", vintage, columns=["code", "population"]).set_index("code")["population"]
    assert lsoa.groupby("stp_code")["population"].sum().sort_index().equals(stp.sort_index())
