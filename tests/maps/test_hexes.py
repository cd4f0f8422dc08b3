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
