"""`stpmap names` and `stpmap footprints --footprint` on the command line."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from stpmap.data import aliases as A


@pytest.fixture(scope="module")
def run(atlas_cache, cli):
    return cli


def _csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), comment="#", dtype=str)


@pytest.mark.parametrize(
    "args, codes",
    [
        (["-f", "Cambridge and Peterborough"], ["E54000021"]),
        (["-f", "Bedford, Milton Keynes and Luton", "-f", "02M"], ["E54000024", "E54000048"]),
        (["-v", "2021", "-f", "BLMK", "-f", "QHG"], ["E54000024"]),
        (["-v", "2021", "-f", "NHS Frimley Integrated Care Board"], ["E54000034"]),
        (["-g", "East of England", "-f", "SNEE", "-f", "Devon"], ["E54000023"]),
    ],
)
def test_footprints_by_the_names_people_use(run, args, codes):
    r = run("footprints", *args, "--format", "csv")
    assert list(_csv(r.stdout)["code"]) == codes
    assert "Note:" not in r.stderr


def test_footprint_selection_in_a_spatial_format(run):
    body = json.loads(run("footprints", "-v", "2021", "-f", "bnssg", "--format", "geojson").stdout)
    assert [f["properties"]["code"] for f in body["features"]] == ["E54000039"]


def test_a_fuzzy_match_is_reported_on_stderr(run):
    r = run("footprints", "-f", "Cambridge & Peterboro", "--format", "csv")
    assert list(_csv(r.stdout)["code"]) == ["E54000021"]
    assert "Note: Matched 'Cambridge & Peterboro' to 'Cambridgeshire and Peterborough' (E54000021) by a fuzzy match" in r.stderr


@pytest.mark.parametrize(
    "name, message",
    [
        ("London", "matches several footprints of 2017"),
        ("Peterborough and Norfolk", "Did you mean 'Cambridgeshire and Peterborough' (E54000021)"),
        ("Cumbria and North East", "In 2017 its population was in 3 footprints"),
    ],
)
def test_bad_footprint_names_are_clear_errors(run, name, message):
    r = run("footprints", "-f", name, code=2)
    assert r.stderr.startswith("Error: ") and message in r.stderr
    assert r.stdout == ""


def test_names_of_one_footprint_with_kind_and_source(run):
    out = run("names", "BLMK").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["code", "vintages", "kind", "alias", "source"]
    assert all(line.startswith("E54000024") for line in lines[1:-1])
    assert "Open Innovations hexmaps" in out and "Health Education England" in out and "QHG" in out


def test_names_of_a_vintage_as_csv(run):
    df = _csv(run("names", "--vintage", "2017", "--format", "csv").stdout)
    assert list(df.columns) == list(A.ROW_COLUMNS)
    assert df["source"].notna().all()
    assert df.loc[df["kind"] == "ons_name", "code"].nunique() == 44
    assert (df["kind"] == "ccg_ods_code").sum() == 207
    assert (df.loc[df["alias"] == "02M", "code"] == "E54000048").all()


def test_names_search_and_notes_as_json(run):
    rows = json.loads(run("names", "essex", "-v", "2021", "--format", "json").stdout)
    assert {r["code"] for r in rows} == {"E54000023", "E54000025", "E54000026"}
    r = run("names", "NHS South Yorkshire ICB", "-v", "2021", "--format", "json")
    rows = json.loads(r.stdout)
    # a 2022 ICB asked for in 2021: the footprint that held its people then, with a note saying so
    assert {x["code"] for x in rows} == {"E54000009"} and "ods_code" in {x["kind"] for x in rows}
    assert "Note:" in r.stderr and "not a footprint of 2021" in r.stderr and "E54000061" in r.stderr
    every = json.loads(run("names", "--format", "json").stdout)
    assert len(every) == len(A.aliases())


def test_names_of_an_unknown_name(run):
    r = run("names", "Atlantis", code=2)
    assert "Unknown footprint 'Atlantis'" in r.stderr
