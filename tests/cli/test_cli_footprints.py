"""`stpmap footprints`, `stpmap groups` and `stpmap data` on the command line."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pytest



@pytest.fixture(scope="module")
def run(atlas_cache, cli):
    return cli


def test_csv_has_the_required_columns_and_attribution(run):
    r = run("footprints", "--format", "csv")
    out = r.stdout
    assert out.startswith("code,name,population,")  # plain CSV: the header on line 1
    assert "Source: Office for National Statistics" in r.stderr and "Open Government" not in out
    df = pd.read_csv(io.StringIO(out))
    for col in ["code", "name", "population", "region", "nhs_region", "ccg_count",
                "pop_0_17", "pop_18_64", "pop_65_plus", "pop_85_plus"]:
        assert col in df.columns
    assert len(df) == 44 and df["population"].sum() == 55_619_430


def test_group_filter_on_the_command_line(run):
    df = pd.read_csv(io.StringIO(run("footprints", "-g", "east of england", "--format", "csv").stdout))
    assert sorted(df["code"]) == [f"E540000{n}" for n in range(21, 27)]


def test_every_output_says_which_population_estimate(run):
    err = run("footprints", "--vintage", "2021", "--format", "csv").stderr
    assert "Population is ONS mid-2017 (LSOA 2011 table) aggregated through the April 2021 lookup." in err.splitlines()
    assert "mid-2017" in run("footprints", "--vintage", "2021").stdout
    assert "April 2017 lookup" in json.loads(run("footprints", "--format", "json").stdout)["population_source"]


def test_json_and_geojson(run, tmp_path):
    body = json.loads(run("footprints", "--vintage", "2021", "--format", "json").stdout)
    assert body["count"] == 42 and body["vintage"] == 2021 and "Open Government" in body["attribution"]
    path = tmp_path / "fp.geojson"
    run("footprints", "--format", "geojson", "-o", str(path), "-g", "North West")
    fc = json.loads(path.read_text())
    assert "Open Government" in fc["attribution"]
    gdf = gpd.read_file(path)
    assert gdf.crs.to_epsg() == 4326 and "E54000007" in set(gdf["code"])
    lon = gdf.geometry.representative_point().x
    assert lon.between(-4, -1.5).all()


def test_parquet_and_gpkg_keep_attribution(run, tmp_path):
    p = tmp_path / "fp.parquet"
    run("footprints", "--format", "parquet", "-o", str(p))
    assert b"Open Government" in pq.read_schema(p).metadata[b"attribution"]
    assert len(gpd.read_parquet(p)) == 44
    g = tmp_path / "fp.gpkg"
    run("footprints", "--format", "gpkg", "-o", str(g))
    assert len(gpd.read_file(g)) == 44


def test_binary_format_needs_an_output_file(run):
    r = run("footprints", "--format", "parquet", code=2)
    assert "give one with -o FILE" in r.stderr


def test_table_format_is_readable(run):
    out = run("footprints").stdout
    assert "Greater Manchester" in out and "44 rows." in out and "Open Government" in out


def test_unknown_group_and_vintage_list_valid_choices(run):
    r = run("footprints", "--group", "Wessex", code=2)
    assert "Unknown group 'Wessex'" in r.stderr and "East of England" in r.stderr
    r = run("footprints", "--vintage", "2016", code=2)
    assert "Valid choices: 2017, 2018, 2019, 2020, 2021, 2022" in r.stderr


def test_user_groups_file(run, tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('"Northern trio" = ["E54000007", "West Yorkshire", "cheshire & merseyside"]\n')
    df = pd.read_csv(io.StringIO(run("footprints", "-g", "Northern trio", "--groups-file", str(f), "--format", "csv").stdout))
    assert len(df) == 3 and "E54000007" in set(df["code"])
    bad = tmp_path / "bad.toml"
    bad.write_text('"Oops" = ["Atlantis"]\n')
    r = run("footprints", "-g", "Oops", "--groups-file", str(bad), code=2)
    assert "Atlantis" in r.stderr


def test_groups_lists_every_kind(run):
    out = run("groups").stdout
    assert "region:East of England" in out and "nhs_local_office:" in out and "nhs_region:" in out


def test_data_info(run):
    out = run("data", "info", "--format", "json").stdout
    info = json.loads(out)
    assert set(info["vintages"]) == {"2017", "2018", "2019", "2020", "2021", "2022"}
    ds = info["vintages"]["2017"]["datasets"]["ccg_boundaries"]
    assert ds["count"] == 207 and ds["found"].endswith(".shp") and ds["licence"] == "Open Government Licence v3.0"
    assert info["vintages"]["2017"]["atlas"].startswith("built")


def test_console_script_runs_in_a_fresh_process(atlas_cache):
    r = subprocess.run([sys.executable, "-m", "stpmap.cli", "footprints", "--format", "csv", "-g", "London"],
                       capture_output=True, text=True, check=True)
    df = pd.read_csv(io.StringIO(r.stdout))
    assert len(df) == 5 and (df["region"] == "London").all()


def test_data_fetch_lists_files_found_in_the_mirror(run, mirror):
    out = run("data", "fetch", "--vintage", "2021", "--mirror", str(mirror)).stdout
    lines = dict(line.split(None, 1) for line in out.strip().splitlines())
    assert lines["stp_boundaries"].endswith("boundaries_stp21.geojson")
    assert len(lines) == 11


def test_data_fetch_with_an_incomplete_mirror_says_what_is_missing(run, tmp_path):
    r = run("data", "fetch", "--mirror", str(tmp_path), code=2)
    assert "is not in the mirror" in r.stderr and "Clinical_Commissioning_Groups_April_2017" in r.stderr


def test_a_csv_file_reads_back_with_every_tool_default(run, tmp_path):
    """pandas and the csv module read the file with no options."""
    import csv

    path = tmp_path / "f.csv"
    r = run("footprints", "--format", "csv", "-o", str(path))
    assert f"Wrote {path}" in r.stderr and "44 footprints" in r.stderr
    df = pd.read_csv(path)
    assert len(df) == 44 and df.columns[0] == "code"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:2] == ["code", "name"] and len(rows) == 45
