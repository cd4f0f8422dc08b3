"""`stpmap crosswalk` and `stpmap history` on the command line."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from stpmap.data import atlas as _atlas


@pytest.fixture(scope="module")
def run(atlas_cache, cli):
    return cli


@pytest.fixture(scope="module")
def beds_file(atlas_cache, tmp_path_factory):
    """Beds by 2017 footprint, in reverse order, one value missing."""
    t = _atlas.table("stp", 2017, columns=["code", "name", "population"]).iloc[::-1]
    df = pd.DataFrame({"Area name": t["name"], "STP17CD": t["code"], "beds": t["population"] // 1000,
                       "population": t["population"]})
    path = tmp_path_factory.mktemp("crosswalk") / "beds.csv"
    df.to_csv(path, index=False)
    return path


def test_round_trip_through_a_csv_file(run, beds_file, tmp_path):
    out = tmp_path / "beds-2021.csv"
    r = run("crosswalk", str(beds_file), "--from", "2017", "--to", "2021", "--value", "beds",
            "--value", "population", "-o", str(out))
    assert r.stdout == ""
    assert "Codes from column 'STP17CD' (footprint codes of 2017)" in r.stderr
    assert "Open Government Licence" in r.stderr and f"Wrote {out}" in r.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("code,name,beds,population,coverage\n")  # plain CSV: header on line 1
    df = pd.read_csv(out)
    stp21 = _atlas.table("stp", 2021, columns=["code", "population"])
    assert list(df["code"]) == sorted(stp21["code"]) and len(df) == 42
    assert (df["population"] == stp21["population"]).all()
    original = pd.read_csv(beds_file)
    assert df["beds"].sum() == pytest.approx(original["beds"].sum(), rel=1e-12)
    assert (df["coverage"] == 1.0).all()


def test_standard_output_ccg_codes_and_mean(run, tmp_path):
    ccg = _atlas.table("ccg", 2017, columns=["code", "population"]).rename(columns={"code": "ccg_code"})
    ccg["rate"] = 0.25
    path = tmp_path / "rates.csv"
    ccg.to_csv(path, index=False)
    r = run("crosswalk", str(path), "--from", "2017", "--to", "2021", "--code", "CCG_CODE", "--value", "rate",
            "--how", "mean")
    assert "Codes from column" not in r.stderr  # given, not detected
    df = pd.read_csv(io.StringIO(r.stdout))
    assert list(df.columns) == ["code", "name", "rate", "coverage"]
    assert df["rate"].round(12).eq(0.25).all() and len(df) == 42


def test_bad_input_is_an_error_naming_the_rows(run, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("code,beds\nE54000005,10\nE54000050,3\nE54000006,\n", encoding="utf-8")
    r = run("crosswalk", str(path), "--from", "2017", "--to", "2021", "--value", "beds", code=2)
    assert "'E54000050' (row 3)" in r.stderr and "is a code of 2021" in r.stderr
    r = run("crosswalk", str(path), "--from", "2017", "--to", "2021", "--value", "beds", "-o",
            str(tmp_path / "out.xlsx"), code=2)
    assert "writes CSV" in r.stderr
    r = run("crosswalk", str(path), "--from", "2017", "--to", "2016", "--value", "beds", code=2)
    assert "2016" in r.stderr
    assert not (tmp_path / "out.xlsx").exists()


def test_missing_values_are_noted(run, tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("stp,beds\nE54000045,100\nE54000046,\nE54000047,50\n", encoding="utf-8")
    r = run("crosswalk", str(path), "--from", "2017", "--to", "2021", "--value", "beds")
    assert "Note: 1 value of 'beds' is missing (E54000046)" in r.stderr
    assert "Note: No row of gaps.csv is for 41 footprints of 2017" in r.stderr
    df = pd.read_csv(io.StringIO(r.stdout)).set_index("code")
    assert list(df.columns) == ["name", "beds", "coverage", "coverage_beds"]
    assert df.loc["E54000050", "coverage"] == 1.0 and df.loc["E54000050", "coverage_beds"] < 0.5
    assert df["beds"].sum() == pytest.approx(150)


def test_history_formats(run):
    table = run("history", "E54000047", "-v", "2021", "-v", "2017").stdout
    assert "Cumbria and North East" in table and "merged, renamed, new code" in table
    assert "Merged with E54000045" in table and "Open Government Licence" in table
    body = json.loads(run("history", "Surrey Heartlands", "--format", "json", "-v", "2017", "-v", "2021").stdout)
    assert body["resolved_code"] == "E54000035" and body["count"] == 2
    assert body["data"][1]["gained_from"] == "E54000033"
    r = run("history", "E54000050", "--format", "csv")
    df = pd.read_csv(io.StringIO(r.stdout)).set_index("vintage")
    assert df.loc[2017, "code"] == "E54000046" and df.loc[2021, "code"] == "E54000050" and "Open Government Licence" in r.stderr
    r = run("history", "Nowhere In Particular", code=2)
    assert "names no footprint of any vintage" in r.stderr
    assert "2016" in run("history", "E54000007", "-v", "2016", code=2).stderr


def test_crosswalk_2018_to_2022_on_the_command_line(run, tmp_path):
    for v in (2018, 2022):
        _atlas.ensure(v, progress=False)
    stp18 = _atlas.table("stp", 2018, columns=["code", "name", "population"])
    stp18["beds"] = stp18["population"] // 500
    path = tmp_path / "beds-2018.csv"
    stp18.rename(columns={"code": "STP18CD"}).to_csv(path, index=False)
    out = tmp_path / "beds-2022.csv"
    r = run("crosswalk", str(path), "--from", "2018", "--to", "2022", "--value", "beds", "--value", "population",
            "--how", "sum", "-o", str(out))
    assert "Codes from column 'STP18CD' (footprint codes of 2018)" in r.stderr
    df = pd.read_csv(out)
    icb22 = _atlas.table("stp", 2022, columns=["code", "population"])
    assert list(df["code"]) == list(icb22["code"]) and (df["population"] == icb22["population"]).all()
    assert df["beds"].sum() == pytest.approx(stp18["beds"].sum(), rel=1e-12)
