"""`stpmap lookup` on the command line: single postcodes in three formats, whole
files with a summary, usage errors with exit status 2, and a light start."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from stpmap.cli import _join_postcodes
from stpmap.data.registry import attribution

MIXED = ["NG1 5DT", "eh11yz", "ZZ99 3VZ", "CF10 1EP", "not a postcode", "LS1 4AP"]


@pytest.fixture(scope="module")
def lk(atlas_cache):
    from stpmap.postcodes import lookup as _lookup

    _lookup.index(2017)
    _lookup.index(2021)
    return _lookup


@pytest.fixture(scope="module")
def run(lk, cli):
    return cli


def test_json_is_a_list_of_records_with_exactly_the_result_keys(run, lk):
    records = json.loads(run("lookup", *MIXED, "--format", "json").stdout)
    assert isinstance(records, list) and len(records) == len(MIXED)
    for pc, rec in zip(MIXED, records):
        assert list(rec) == list(lk.RESULT_KEYS)
        assert rec == lk.lookup(pc, vintage=2017)
    assert [r["status"] for r in records] == ["ok", "outside_england", "pseudo", "outside_england", "invalid", "ok"]
    one = json.loads(run("lookup", "NG1 5DT", "--format", "json").stdout)
    assert isinstance(one, list) and len(one) == 1  # a single postcode is still a list
    assert one[0]["footprint_code"].startswith("E54") and one[0]["latitude"] > 52


def test_json_follows_the_vintage(run, lk):
    r = run("lookup", "NG1 5DT", "--format", "json", "--vintage", "2021")
    assert json.loads(r.stdout)[0] == lk.lookup("NG1 5DT", vintage=2021)
    assert "Royal Mail" in r.stderr  # the attribution, kept off stdout so the JSON parses


def test_csv_has_a_header_and_one_row_per_postcode(run, lk):
    r = run("lookup", *MIXED, "--format", "csv")
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == list(lk.RESULT_KEYS) and len(rows) == len(MIXED) + 1
    status = rows[0].index("status")
    assert [row[status] for row in rows[1:]] == [lk.lookup(pc)["status"] for pc in MIXED]
    assert rows[1][rows[0].index("footprint_code")] == lk.lookup("NG1 5DT")["footprint_code"]
    assert attribution(postcodes=True) in r.stderr


def test_table_is_aligned_and_readable(run, lk):
    out = run("lookup", *MIXED).stdout
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["postcode", "status", "footprint"]
    assert "local authority" in lines[0] and "message" in lines[0]
    body = lines[1: 1 + len(MIXED)]
    rec = lk.lookup("NG1 5DT")
    assert body[0].startswith("NG1 5DT ") and f"{rec['footprint_code']} {rec['footprint_name']}" in body[0]
    assert rec["lad_name"] in body[0] and rec["region"] in body[0] and rec["message"] in body[0]
    assert body[2].startswith("ZZ99 3VZ") and "pseudo" in body[2]
    status_at = lines[0].index("status")
    assert all(line[status_at:].split()[0] in lk.STATUSES for line in body)  # columns line up
    assert out.rstrip().endswith(attribution(postcodes=True))


def test_postcode_given_as_two_words_is_one_postcode(run):
    assert _join_postcodes(["NG1", "5DT", "LS1", "4AP", "x"]) == ["NG1 5DT", "LS1 4AP", "x"]
    records = json.loads(run("lookup", "NG1", "5DT", "--format", "json").stdout)
    assert len(records) == 1 and records[0]["postcode"] == "NG1 5DT" and records[0]["status"] == "ok"


def test_statuses_are_data_exit_zero(run):
    r = run("lookup", "not a postcode", "ZZ99 3VZ", "--format", "json")
    assert [x["status"] for x in json.loads(r.stdout)] == ["invalid", "pseudo"]


@pytest.mark.parametrize("args, message", [
    (["lookup"], "Give postcodes"),
    (["lookup", "NG1 5DT", "--input", "x.csv"], "either postcodes or --input FILE, not both"),
    (["lookup", "NG1 5DT", "--output", "x.csv"], "--output only apply to --input FILE"),
    (["lookup", "NG1 5DT", "--vintage", "2016"], "Valid choices: 2017, 2018, 2019, 2020, 2021, 2022"),
    (["lookup", "--input", "missing.csv"], "does not exist"),
])
def test_usage_errors_exit_2(run, args, message):
    r = run(*args, code=2)
    assert message in r.stderr


def test_bulk_file_summary(run, lk, tmp_path):
    src = tmp_path / "list.csv"
    src.write_text("ref,Home Postcode\n" + "".join(f"{i:03d},{pc}\n" for i, pc in enumerate(MIXED)))
    out = tmp_path / "list-out.parquet"
    r = run("lookup", "--input", str(src), "--output", str(out), "--no-progress")  # column guessed
    assert r.stdout.strip() == f"Wrote {out}"
    err = r.stderr
    assert "Looked up 6 postcodes (column 'Home Postcode', vintage 2017)" in err
    assert "ok" in err and "2   33.3%" in err and "pseudo" in err and "1   16.7%" in err
    assert attribution(postcodes=True) in err
    import pyarrow.parquet as pq

    t = pq.read_table(out)
    assert t.column("ref").to_pylist() == [f"{i:03d}" for i in range(6)]
    assert t.column("status").to_pylist() == [lk.lookup(pc)["status"] for pc in MIXED]
    assert t.schema.metadata[b"stpmap.attribution"].decode() == attribution(postcodes=True)


def test_bulk_errors_exit_2(run, tmp_path):
    src = tmp_path / "two.csv"
    src.write_text("a,b\nNG1 5DT,x\n")
    r = run("lookup", "--input", str(src), code=2)
    assert "No column of two.csv looks like postcodes" in r.stderr and "'a', 'b'" in r.stderr
    r = run("lookup", "--input", str(src), "--column", "c", code=2)
    assert "No column 'c'" in r.stderr and "'a', 'b'" in r.stderr
    r = run("lookup", "--input", str(src), "-c", "a", "--format", "json", code=2)
    assert "--format is for postcodes on the command line" in r.stderr
    clash = tmp_path / "clash.csv"
    clash.write_text("postcode,region\nNG1 5DT,x\n")
    r = run("lookup", "--input", str(clash), "--prefix", "", "--fields", "all", code=2)  # a prefix given that clashes
    assert "'postcode', 'region'" in r.stderr and "--prefix" in r.stderr
    run("lookup", "--input", str(clash), "--prefix", "stp_", "--no-progress")
    assert (tmp_path / "clash-stpmap.csv").exists()


def test_bulk_postcode_column_gets_a_default_prefix_said_on_stderr(run, tmp_path):
    src = tmp_path / "patients.csv"
    src.write_text('id,postcode\n1,NG1 5DT\n2,"=HYPERLINK(""http://x"",""c"")"\n')
    r = run("lookup", "--input", str(src), "--column", "postcode", "--no-progress")
    assert r.stderr.startswith("Warning: patients.csv already has column(s) named 'postcode'")
    assert "stpmap_postcode, stpmap_status" in r.stderr and "--prefix" in r.stderr
    rows = list(csv.reader(io.StringIO((tmp_path / "patients-stpmap.csv").read_text())))
    assert rows[0][:4] == ["id", "postcode", "stpmap_postcode", "stpmap_status"]
    assert rows[1][:4] == ["1", "NG1 5DT", "NG1 5DT", "ok"]
    assert rows[2][:4] == ["2", '=HYPERLINK("http://x","c")', "", "invalid"]  # kept; never echoed
    r = run("lookup", "--input", str(src), "--prefix", "stp_", "-o", str(tmp_path / "b.csv"), "--no-progress")
    assert "Warning" not in r.stderr
    r = run("lookup", "--input", str(src), "--prefix", "", "-o", str(tmp_path / "c.csv"), code=2)
    assert "Error: The lookup adds column(s) named 'postcode', which patients.csv already has" in r.stderr
    assert "--prefix stpmap_" in r.stderr and not (tmp_path / "c.csv").exists()


def test_bulk_escape_formulas(run, tmp_path):
    src = tmp_path / "list.csv"
    src.write_text('pcd,note\nNG1 5DT,"=1+1"\nLS1 4AP,@x\n')
    run("lookup", "-i", str(src), "-o", str(tmp_path / "plain.csv"), "--no-progress")
    run("lookup", "-i", str(src), "-o", str(tmp_path / "safe.csv"), "--escape-formulas", "--no-progress")
    plain = list(csv.reader(io.StringIO((tmp_path / "plain.csv").read_text())))
    safe = list(csv.reader(io.StringIO((tmp_path / "safe.csv").read_text())))
    assert [r[1] for r in plain[1:]] == ["=1+1", "@x"] and [r[1] for r in safe[1:]] == ["'=1+1", "'@x"]
    r = run("lookup", "-i", str(src), "-o", str(tmp_path / "x.parquet"), "--escape-formulas", code=2)
    assert "--escape-formulas is for CSV and XLSX output" in r.stderr
    r = run("lookup", "NG1 5DT", "--escape-formulas", code=2)
    assert "--escape-formulas only apply to --input FILE" in r.stderr


def test_bulk_xlsx_cut_cells_said_on_stderr(run, tmp_path):
    src = tmp_path / "long.csv"
    src.write_text("pcd,note\nNG1 5DT,short\nLS1 4AP," + "x" * 40_000 + "\n")
    r = run("lookup", "-i", str(src), "-o", str(tmp_path / "long.xlsx"), "--no-progress")
    assert "Warning: 1 cell was longer than the 32,767 characters an XLSX cell holds" in r.stderr
    assert "column 'note': 1 cell, sheet row 3)" in r.stderr


def test_bulk_dask_missing_names_the_extra(run, tmp_path, monkeypatch):
    folder = tmp_path / "extracts"
    folder.mkdir()
    (folder / "a.csv").write_text("pcd\nNG1 5DT\n")
    monkeypatch.setitem(sys.modules, "dask", None)  # as if dask were not installed
    monkeypatch.setitem(sys.modules, "dask.dataframe", None)
    r = run("lookup", "-i", str(folder), "-o", str(tmp_path / "out"), "--engine", "dask", code=2)
    assert "pip install 'stpmap[dask]'" in r.stderr and "Traceback" not in r.output + r.stderr


def test_single_lookup_stays_light(lk, tmp_path):
    """The CLI adds no heavy import to what _lookup.lookup itself needs."""
    heavy = ["pandas", "pyarrow", "geopandas", "shapely", "matplotlib", "folium", "openpyxl", "dask", "tqdm", "pyproj"]
    probe = ("import sys, json\n{body}\n"
             "print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))")
    env = dict(os.environ)

    def loaded(body):
        out = subprocess.run([sys.executable, "-c", probe.format(body=body, heavy=heavy)], env=env,
                             capture_output=True, text=True, check=True).stdout
        return set(json.loads(out.strip().splitlines()[-1]))

    base = loaded("from stpmap.postcodes import lookup as _lookup; _lookup.lookup('NG1 5DT')")
    cli = loaded("from stpmap.cli import main\n"
                 "try:\n    main(['lookup', 'NG1', '5DT'])\nexcept SystemExit as e:\n    assert e.code in (0, None)")
    assert cli - base == set(), f"stpmap lookup NG1 5DT imports {sorted(cli - base)} beyond the lookup itself"
