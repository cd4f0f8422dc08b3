"""Bulk lookups from files (stpmap.files.lookup_file.lookup_file): every row kept in order,
input columns untouched, formats converted, and every bad input stopped before
any work with a message saying what to do."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import os

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stpmap.files import kernel
from stpmap.files import lookup_file as _bulk
from stpmap.errors import ChoiceError, InputError, StpmapWarning
from stpmap.postcodes.lookup import RESULT_KEYS
from stpmap.data.registry import attribution

HEADER = ["id", "Patient Postcode", "note", "date"]
MESSY_ROWS = [
    ["007", "ng15dt", "a, b", "01/02/2020"],        # lower case, no space
    ["008", "", "NA", ""],                          # blank postcode, "NA" text
    ["009", "ZZ99 3VZ", "line1\nline2", "NA"],      # pseudo postcode, quoted line break
    ["010", "EH1 1YZ", 'say "hi"', ""],             # Scotland
    ["011", "cf10 1ep", "", ""],                    # Wales, lower case
    ["012", "NG1 5DT", "x", "2020-01-01"],
    ["013", "NG15DT", "x", "2020-01-01"],           # duplicate of the row above, another spelling
    ["014", "not a postcode", "", "N/A"],
    ["015", "  Ng1   5dT ", "null", "-"],          # stray spaces
    ["016", "LS1 4AP", "", ""],
]
NAMES = list(kernel.DEFAULT_FIELDS)  # the result columns added unless --fields says otherwise


@pytest.fixture(scope="module")
def lk(atlas_cache):
    from stpmap.postcodes import lookup as _lookup

    _lookup.index(2017)
    return _lookup


@pytest.fixture
def no_work(lk, monkeypatch):
    """Fail if a lookup starts: errors must come before any work."""

    def boom(*a, **k):
        raise AssertionError("the lookup started before the error was found")

    monkeypatch.setattr(lk, "lookup_many", boom)
    monkeypatch.setattr(lk, "index", boom)


def write_csv(path, header, rows, *, delimiter=",", encoding="utf-8", bom=False):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    data = buf.getvalue().encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    if str(path).endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def read_csv_rows(path, delimiter=","):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter=delimiter))
    return rows[0], rows[1:]


def expected(lk, postcodes, vintage=2017):
    return lk.lookup_many(list(postcodes), vintage=vintage)


def assert_results_match(lk, got: pd.DataFrame, postcodes, prefix="", vintage=2017, fields=NAMES):
    """The result columns equal lookup_many's, row for row (text compared as text),
    but ``message``, given only where the status is not ``ok``."""
    ref = expected(lk, postcodes, vintage)
    ref["message"] = ref["message"].astype(object).where(ref["status"] != "ok", None)
    assert len(got) == len(ref) == len(postcodes)
    assert [c for c in got.columns if c.startswith(prefix) and c[len(prefix):] in RESULT_KEYS] == \
        [prefix + key for key in fields]
    for key in fields:
        a, b = got[prefix + key], ref[key]
        if b.dtype.kind == "f":
            left = np.array([np.nan if (x is None or x != x or x == "") else float(x) for x in a.tolist()])
            np.testing.assert_allclose(left, b.to_numpy(dtype="float64"), rtol=1e-12, equal_nan=True, err_msg=key)
        else:
            left = [None if (x is None or x != x or x == "") else str(x) for x in a.tolist()]
            right = [None if (x is None or x != x or x == "") else str(x) for x in b.astype(object).tolist()]
            assert left == right, key


# ------------------------------------------------------------------ CSV


def test_messy_csv_keeps_rows_order_and_columns(lk, tmp_path):
    src = write_csv(tmp_path / "patients.csv", HEADER, MESSY_ROWS)
    s = _bulk.lookup_file(src, "Patient Postcode", progress=False)
    out = tmp_path / "patients-stpmap.csv"
    assert s["output"] == str(out) and out.exists()
    header, rows = read_csv_rows(out)
    assert header == HEADER + NAMES
    assert [r[:4] for r in rows] == MESSY_ROWS  # "007", "", "NA", quoted commas, quotes and line breaks untouched
    got = pd.DataFrame([r[4:] for r in rows], columns=NAMES)
    assert_results_match(lk, got, [r[1] for r in MESSY_ROWS])
    status = dict(zip([r[0] for r in MESSY_ROWS], got["status"]))
    assert status["009"] == "pseudo"
    assert status["010"] == "outside_england" and status["011"] == "outside_england"
    assert status["008"] == "invalid" and status["014"] == "invalid"
    assert status["012"] == status["013"] == status["015"] == status["007"] == "ok"
    assert got["postcode"][0] == "NG1 5DT" and got["footprint_code"][0].startswith("E54")
    assert s["rows"] == len(MESSY_ROWS) and sum(s["statuses"].values()) == len(MESSY_ROWS)
    assert set(s["statuses"]) == set(lk.STATUSES)
    assert s["statuses"]["pseudo"] == 1 and s["statuses"]["outside_england"] == 2
    assert s["attribution"] == attribution(postcodes=True) and "Royal Mail" in s["attribution"]
    assert s["vintage"] == 2017 and s["column"] == "Patient Postcode"


def test_read_back_with_pandas_gives_the_same_text(lk, tmp_path):
    src = write_csv(tmp_path / "p.csv", HEADER, MESSY_ROWS)
    out = tmp_path / "o.csv"
    _bulk.lookup_file(src, "patient postcode", out, progress=False)  # case-insensitive column match
    df = pd.read_csv(out, dtype=str, keep_default_na=False, na_filter=False)
    assert df[HEADER].values.tolist() == MESSY_ROWS


def test_chunk_size_changes_nothing(lk, tmp_path):
    import random

    rnd = random.Random(7)
    pcs = [r[1] for r in MESSY_ROWS] + ["B1 1BB", "M1 1AE", "SW1A 1AA", "XX1 1XX", "BT1 1AA", None]
    rows = [[f"{i:06d}", rnd.choice(pcs) or "", rnd.choice(["", "NA", "a,b", "q\"q"])] for i in range(5003)]
    src = write_csv(tmp_path / "big.csv", ["id", "postcode_in", "junk"], rows)
    whole, small = tmp_path / "whole.csv", tmp_path / "small.csv"
    _bulk.lookup_file(src, "postcode_in", whole, progress=False)
    s = _bulk.lookup_file(src, "postcode_in", small, chunk_rows=997, progress=False)
    assert whole.read_bytes() == small.read_bytes()
    assert s["rows"] == 5003
    header, out = read_csv_rows(small)
    assert [r[:3] for r in out] == rows
    assert_results_match(lk, pd.DataFrame([r[3:] for r in out], columns=NAMES), [r[1] for r in rows])


def test_bom_tsv_and_gzip(lk, tmp_path):
    src = write_csv(tmp_path / "excel.csv", HEADER, MESSY_ROWS, bom=True)
    out = tmp_path / "excel-out.csv"
    s = _bulk.lookup_file(src, "Patient Postcode", out, progress=False)
    assert s["column"] == "Patient Postcode" and s["statuses"]["pseudo"] == 1
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel's "CSV UTF-8" stays so
    assert read_csv_rows(out)[0][0] == "id"

    tsv = write_csv(tmp_path / "tabs.tsv", HEADER, MESSY_ROWS, delimiter="\t")
    _bulk.lookup_file(tsv, "Patient Postcode", tmp_path / "tabs.txt", progress=False)
    header, rows = read_csv_rows(tmp_path / "tabs.txt", delimiter="\t")
    assert header == HEADER + NAMES and [r[:4] for r in rows] == MESSY_ROWS

    gz = write_csv(tmp_path / "zipped.csv.gz", HEADER, MESSY_ROWS)
    s = _bulk.lookup_file(gz, "Patient Postcode", progress=False)
    assert s["output"] == str(tmp_path / "zipped-stpmap.csv.gz")
    header, rows = read_csv_rows(tmp_path / "zipped-stpmap.csv.gz")
    assert [r[:4] for r in rows] == MESSY_ROWS


def test_single_column_file_keeps_blank_lines_as_rows(lk, tmp_path):
    src = tmp_path / "list.csv"
    src.write_text("pcd\nNG1 5DT\n\nEH1 1YZ\n\nZZ99 3VZ\n")
    s = _bulk.lookup_file(src, None, progress=False)  # column guessed from "pcd"
    header, rows = read_csv_rows(tmp_path / "list-stpmap.csv")
    assert [r[0] for r in rows] == ["NG1 5DT", "", "EH1 1YZ", "", "ZZ99 3VZ"]
    assert [r[2] for r in rows] == ["ok", "invalid", "outside_england", "invalid", "pseudo"]
    assert s["rows"] == 5


def test_blank_lines_between_records_of_several_columns_are_not_rows(lk, tmp_path):
    src = tmp_path / "gaps.csv"
    src.write_text("id,pc\n1,NG1 5DT\n\n2,LS1 4AP\n\n")
    s = _bulk.lookup_file(src, "pc", prefix="s_", progress=False)
    header, rows = read_csv_rows(tmp_path / "gaps-stpmap.csv")
    assert [r[:2] for r in rows] == [["1", "NG1 5DT"], ["2", "LS1 4AP"]] and s["rows"] == 2


def test_cp1252_needs_the_encoding(lk, tmp_path):
    src = write_csv(tmp_path / "win.csv", ["name", "postcode_x"], [["Café Rouge", "NG1 5DT"], ["Zoë", "LS1 4AP"]],
                    encoding="cp1252")
    with pytest.raises(InputError, match=r"--encoding cp1252") as e:
        _bulk.lookup_file(src, "postcode_x", progress=False)
    assert "line 2" in str(e.value)
    assert not (tmp_path / "win-stpmap.csv").exists()
    _bulk.lookup_file(src, "postcode_x", progress=False, encoding="cp1252")
    header, rows = read_csv_rows(tmp_path / "win-stpmap.csv")
    assert [r[0] for r in rows] == ["Café Rouge", "Zoë"]


def test_progress_bar_goes_to_stderr(lk, tmp_path, capsys):
    src = write_csv(tmp_path / "p.csv", HEADER, MESSY_ROWS)
    _bulk.lookup_file(src, "Patient Postcode", progress=True)
    err = capsys.readouterr().err
    assert "rows" in err and "p.csv" in err
    _bulk.lookup_file(src, "Patient Postcode", tmp_path / "q.csv", progress=False)
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------ Parquet and XLSX


def test_csv_to_parquet_with_attribution(lk, tmp_path):
    src = write_csv(tmp_path / "p.csv", HEADER, MESSY_ROWS)
    out = tmp_path / "p.parquet"
    s = _bulk.lookup_file(src, "Patient Postcode", out, vintage=2021, prefix="stp_", chunk_rows=3, progress=False,
                          fields="all")
    assert s["vintage"] == 2021 and s["format"] == "parquet" and s["fields"] == list(RESULT_KEYS)
    t = pq.read_table(out)
    assert t.column_names == HEADER + [f"stp_{k}" for k in RESULT_KEYS]
    assert [t.column(c).to_pylist() for c in HEADER] == [list(col) for col in zip(*MESSY_ROWS)]
    md = t.schema.metadata
    assert md[b"stpmap.attribution"].decode() == attribution(postcodes=True)
    assert md[b"stpmap.vintage"] == b"2021"
    assert t.schema.field("stp_easting").type == pa.float64() and t.schema.field("stp_postcode").type == pa.string()
    for key in ("status", "message", "footprint_name", "ccg_ods_code", "region", "method"):  # compact: dictionaries
        assert t.schema.field(f"stp_{key}").type == pa.dictionary(pa.int16(), pa.string()), key
    assert_results_match(lk, t.to_pandas(), [r[1] for r in MESSY_ROWS], prefix="stp_", vintage=2021,
                         fields=RESULT_KEYS)
    assert pq.ParquetFile(out).metadata.num_row_groups == 4  # written chunk by chunk


def test_parquet_types_survive(lk, tmp_path):
    src = tmp_path / "typed.parquet"
    table = pa.table({
        "n": pa.array([1, None, 3, 4], pa.int64()),
        "when": pa.array([dt.datetime(2020, 1, 2, 3, 4), None, dt.datetime(2021, 5, 6), dt.datetime(1999, 12, 31)],
                         pa.timestamp("us")),
        "flag": pa.array([True, False, None, True]),
        "pc": pa.array(["NG1 5DT", None, "eh11yz", "ZZ99 3VZ"]).dictionary_encode(),
        "amount": pa.array([1.5, 0.25, None, -2.0]),
    })
    pq.write_table(table, src)
    out = tmp_path / "typed-out.parquet"
    s = _bulk.lookup_file(src, "PC", out, prefix="r_", progress=False)
    back = pq.read_table(out)
    for name in ("n", "when", "flag", "amount"):
        assert back.schema.field(name).type == table.schema.field(name).type
        assert back.column(name).equals(table.column(name))
    assert back.column("pc").to_pylist() == ["NG1 5DT", None, "eh11yz", "ZZ99 3VZ"]
    assert back.column("r_status").to_pylist() == ["ok", "invalid", "outside_england", "pseudo"]
    assert s["statuses"]["invalid"] == 1
    # and to CSV: the values as text
    _bulk.lookup_file(src, "pc", tmp_path / "typed.csv", prefix="r_", progress=False)
    header, rows = read_csv_rows(tmp_path / "typed.csv")
    assert [r[0] for r in rows] == ["1", "", "3", "4"] and rows[0][2] == "true"


def test_xlsx_round_trip(lk, tmp_path):
    src = write_csv(tmp_path / "p.csv", HEADER, MESSY_ROWS)
    out = tmp_path / "p.xlsx"
    _bulk.lookup_file(src, "Patient Postcode", out, progress=False)
    wb = openpyxl.load_workbook(out, read_only=True)
    assert wb.sheetnames[-1] == "attribution"
    width = len(HEADER + NAMES)
    rows = [list(r) + [None] * (width - len(r)) for r in wb.worksheets[0].iter_rows(values_only=True)]
    about = {r[0]: r[1] for r in wb["attribution"].iter_rows(values_only=True)}
    assert about["attribution"] == attribution(postcodes=True) and about["vintage"] == "2017"
    wb.close()
    assert rows[0] == HEADER + NAMES
    assert [["" if v is None else v for v in r[:4]] for r in rows[1:]] == MESSY_ROWS  # "007" stays text
    got = pd.DataFrame([r[4:] for r in rows[1:]], columns=NAMES)
    assert_results_match(lk, got.astype(object).where(got.notna(), None), [r[1] for r in MESSY_ROWS])


def test_xlsx_input_with_numbers_dates_and_sheets(lk, tmp_path):
    src = tmp_path / "gps.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Notes"
    wb.active.append(["nothing here"])
    ws = wb.create_sheet("GP list")
    ws.append(["Practice", "Opened", "Patients", "Post Code", None])
    ws.append(["007", dt.datetime(2001, 2, 3), 1234, "NG1 5DT"])
    ws.append(["A2", None, 7.5, "cf10 1ep"])
    ws.append([None, None, None, None])                  # an empty row inside the table is a row
    ws.append(["A4", dt.datetime(2010, 1, 1, 9, 30), 0, "ZZ99 3VZ"])
    wb.save(src)
    with pytest.raises(ChoiceError, match=r"Unknown sheet 'Gp'.*Notes, GP list"):
        _bulk.lookup_file(src, "Post Code", sheet="Gp", progress=False)
    s = _bulk.lookup_file(src, None, sheet="gp list", progress=False)  # sheet ignoring case, column guessed
    assert s["rows"] == 4 and s["column"] == "Post Code"
    back = openpyxl.load_workbook(tmp_path / "gps-stpmap.xlsx", read_only=True)
    rows = [list(r) for r in back["GP list"].iter_rows(values_only=True)]
    back.close()
    assert rows[1][:4] == ["007", dt.datetime(2001, 2, 3), 1234, "NG1 5DT"]  # cells keep their types
    assert rows[2][2] == 7.5 and rows[3][:4] == [None] * 4
    assert [r[5] for r in rows[1:]] == ["ok", "outside_england", "invalid", "pseudo"]
    _bulk.lookup_file(src, "post code", tmp_path / "gps.csv", sheet="GP list", progress=False)
    header, rows = read_csv_rows(tmp_path / "gps.csv")
    assert header[:4] == ["Practice", "Opened", "Patients", "Post Code"]
    assert [r[:4] for r in rows] == [["007", "2001-02-03", "1234", "NG1 5DT"], ["A2", "", "7.5", "cf10 1ep"],
                                     ["", "", "", ""], ["A4", "2010-01-01 09:30:00", "0", "ZZ99 3VZ"]]


# ------------------------------------------------------------------ errors, before any work


def test_missing_column_lists_the_columns(no_work, tmp_path):
    src = write_csv(tmp_path / "p.csv", HEADER, MESSY_ROWS)
    with pytest.raises(InputError) as e:
        _bulk.lookup_file(src, "zip", progress=False)
    msg = str(e.value)
    assert "No column 'zip'" in msg and "'Patient Postcode'" in msg and "'id'" in msg and "--column" in msg


def test_column_guess_needs_exactly_one(no_work, tmp_path):
    src = write_csv(tmp_path / "two.csv", ["home postcode", "gp_pcd"], [["NG1 5DT", "LS1 4AP"]])
    with pytest.raises(InputError, match=r"Several columns .*'home postcode', 'gp_pcd'.*--column"):
        _bulk.lookup_file(src, None, progress=False)
    src = write_csv(tmp_path / "none.csv", ["a", "b"], [["NG1 5DT", "x"]])
    with pytest.raises(InputError, match=r"No column .* looks like postcodes.*'a', 'b'"):
        _bulk.lookup_file(src, None, progress=False)


def test_result_columns_may_not_clash(lk, tmp_path):
    src = write_csv(tmp_path / "p.csv", ["postcode", "status", "x"], [["NG1 5DT", "active", "1"]])
    with pytest.raises(InputError) as e:  # a prefix given that clashes (no prefix by default: see test_safety)
        _bulk.lookup_file(src, "postcode", prefix="", progress=False)
    assert "'postcode', 'status'" in str(e.value) and "--prefix" in str(e.value)
    assert not (tmp_path / "p-stpmap.csv").exists()
    _bulk.lookup_file(src, "postcode", prefix="stp_", progress=False)
    header, rows = read_csv_rows(tmp_path / "p-stpmap.csv")
    assert rows[0][:3] == ["NG1 5DT", "active", "1"] and rows[0][4] == "ok"


@pytest.mark.parametrize("name, content, pattern", [
    ("missing.csv", None, r"does not exist"),
    ("data.json", b"[]", r"Cannot tell the format .*\.csv.*\.parquet"),
    ("old.xls", b"\xd0\xcf\x11\xe0", r"Save old \.xls workbooks as \.xlsx"),
    ("bad.parquet", b"not parquet at all", r"Cannot read .* as Parquet"),
    ("bad.xlsx", b"PK not really", r"Cannot read .* as an XLSX workbook"),
    ("empty.csv", b"", r"is empty: it needs a header row"),
])
def test_unreadable_inputs(no_work, tmp_path, name, content, pattern):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=pattern):
        _bulk.lookup_file(path, "pc", progress=False)


def test_unknown_vintage_and_bad_options(no_work, tmp_path):
    src = write_csv(tmp_path / "p.csv", HEADER, MESSY_ROWS)
    with pytest.raises(ChoiceError, match=r"Unknown vintage 2016.*2017, 2018, 2019, 2020, 2021, 2022"):
        _bulk.lookup_file(src, "Patient Postcode", vintage=2016, progress=False)
    with pytest.raises(InputError, match=r"--sheet is for XLSX"):
        _bulk.lookup_file(src, "Patient Postcode", sheet="x", progress=False)
    with pytest.raises(InputError, match=r"Unknown encoding 'klingon'"):
        _bulk.lookup_file(src, "Patient Postcode", encoding="klingon", progress=False)
    with pytest.raises(InputError, match=r"Cannot tell the format of the output"):
        _bulk.lookup_file(src, "Patient Postcode", tmp_path / "out.json", progress=False)
    with pytest.raises(InputError, match=r"output folder .* does not exist"):
        _bulk.lookup_file(src, "Patient Postcode", tmp_path / "nowhere" / "out.csv", progress=False)


def test_output_may_not_be_the_input(no_work, tmp_path):
    src = write_csv(tmp_path / "p.csv", HEADER, MESSY_ROWS)
    before = src.read_bytes()
    with pytest.raises(InputError, match=r"is the input file.*never overwrites"):
        _bulk.lookup_file(src, "Patient Postcode", tmp_path / "." / "p.csv", progress=False)
    assert src.read_bytes() == before


def test_xlsx_output_row_limit(no_work, tmp_path, monkeypatch):
    monkeypatch.setattr(_bulk, "XLSX_MAX_ROWS", 9)
    src = write_csv(tmp_path / "p.csv", HEADER, MESSY_ROWS)
    with pytest.raises(InputError, match=r"has 10 rows; an XLSX sheet holds at most 9.*CSV or Parquet"):
        _bulk.lookup_file(src, "Patient Postcode", tmp_path / "p.xlsx", progress=False)
    pq.write_table(pa.table({"pc": ["NG1 5DT"] * 12}), tmp_path / "p.parquet")
    with pytest.raises(InputError, match=r"has 12 rows"):
        _bulk.lookup_file(tmp_path / "p.parquet", "pc", tmp_path / "p.xlsx", progress=False)
    assert not (tmp_path / "p.xlsx").exists()


def test_xlsx_limit_counts_records_not_lines(lk, tmp_path, monkeypatch):
    monkeypatch.setattr(_bulk, "XLSX_MAX_ROWS", 10)  # 10 records, 11 line breaks in values
    src = write_csv(tmp_path / "p.csv", HEADER, [r[:2] + ["two\nlines", r[3]] for r in MESSY_ROWS])
    s = _bulk.lookup_file(src, "Patient Postcode", tmp_path / "p.xlsx", progress=False)
    assert s["rows"] == 10


def test_non_text_parquet_column(no_work, tmp_path):
    pq.write_table(pa.table({"pc": [1, 2]}), tmp_path / "n.parquet")
    with pytest.raises(InputError, match=r"holds int64, not text"):
        _bulk.lookup_file(tmp_path / "n.parquet", "pc", progress=False)


def test_a_broken_row_leaves_no_output(lk, tmp_path):
    src = tmp_path / "ragged.csv"
    src.write_text("id,pc\n1,NG1 5DT\n" + "2,LS1 4AP\n" * 50 + "3,NG1 5DT,extra\n")
    out = tmp_path / "out.csv"
    out.write_text("previous run\n")
    with pytest.raises(InputError, match=r"not a regular table.*Expected 2 columns, got 3"):
        _bulk.lookup_file(src, "pc", out, chunk_rows=10, progress=False)
    assert out.read_text() == "previous run\n"  # written atomically: the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "ragged.csv"]  # no temporary file left


# ------------------------------------------------------------------ any text survives

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_cell = st.one_of(st.sampled_from(["", "NA", "007", "NG1 5DT", "zz993vz", "a,b", '"', "\r\n", " x "]),
                  st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12))


@settings(max_examples=int(os.environ.get("STPMAP_HYPOTHESIS_EXAMPLES", 30)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(width=st.integers(1, 3), rows=st.lists(st.lists(_cell, min_size=3, max_size=3), max_size=15),
       chunk=st.integers(1, 4))
def test_any_text_comes_back_exactly(lk, tmp_path_factory, width, rows, chunk):
    folder = tmp_path_factory.mktemp("prop")
    header = ["pc", "b", "c"][:width]
    rows = [r[:width] for r in rows]
    src = write_csv(folder / "in.csv", header, rows)
    s = _bulk.lookup_file(src, "pc", folder / "out.csv", chunk_rows=chunk, progress=False)
    got_header, got = read_csv_rows(folder / "out.csv")
    assert got_header == header + NAMES and [r[:width] for r in got] == rows and s["rows"] == len(rows)
    assert [r[width + 1] for r in got] == expected(lk, [r[0] for r in rows])["status"].astype(str).tolist()


# ------------------------------------------------------------------ compact output and fields


def test_message_only_where_the_status_is_not_ok(lk, tmp_path):
    src = write_csv(tmp_path / "p.csv", HEADER, MESSY_ROWS)
    _bulk.lookup_file(src, "Patient Postcode", tmp_path / "o.csv", progress=False)
    header, rows = read_csv_rows(tmp_path / "o.csv")
    status, message = header.index("status"), header.index("message")
    assert {r[status] for r in rows} > {"ok", "invalid"}
    for r in rows:
        assert (r[message] == "") == (r[status] == "ok"), r
    assert "pseudo-postcode" in rows[2][message]


def test_fields_choose_the_added_columns(lk, tmp_path):
    src = write_csv(tmp_path / "p.csv", HEADER, MESSY_ROWS)
    out = tmp_path / "o.parquet"
    s = _bulk.lookup_file(src, "Patient Postcode", out, fields=" Region,status , latitude", prefix="s_", progress=False)
    t = pq.read_table(out)
    assert s["fields"] == ["region", "status", "latitude"]
    assert t.column_names == HEADER + ["s_region", "s_status", "s_latitude"]
    assert_results_match(lk, t.to_pandas(), [r[1] for r in MESSY_ROWS], prefix="s_", fields=s["fields"])
    # a clash is only with the columns that are added
    clash = write_csv(tmp_path / "clash.csv", ["postcode", "region"], [["NG1 5DT", "x"]])
    s = _bulk.lookup_file(clash, "postcode", tmp_path / "c.csv", fields="status,footprint_code", progress=False)
    assert read_csv_rows(tmp_path / "c.csv")[0] == ["postcode", "region", "status", "footprint_code"]
    with pytest.warns(StpmapWarning, match=r"named 'region'.*stpmap_status, stpmap_region"):
        s = _bulk.lookup_file(clash, "postcode", tmp_path / "d.csv", fields="status,region", progress=False)
    assert s["prefix"] == "stpmap_"
    with pytest.raises(InputError, match=r"adds column\(s\) named 'region', which clash.csv already has.*--prefix"):
        _bulk.lookup_file(clash, "postcode", tmp_path / "e.csv", fields="status,region", prefix="", progress=False)


def test_unknown_fields_are_refused_before_any_work(no_work, tmp_path):
    src = write_csv(tmp_path / "p.csv", HEADER, MESSY_ROWS)
    with pytest.raises(ChoiceError, match=r"Unknown fields 'stp, lat'.*Valid choices: all, default, postcode"):
        _bulk.lookup_file(src, "Patient Postcode", fields="status,stp,lat", progress=False)
    assert not (tmp_path / "p-stpmap.csv").exists()


def test_fields_on_the_command_line(lk, cli, tmp_path):
    src = write_csv(tmp_path / "p.csv", HEADER, MESSY_ROWS)
    cli("lookup", "--input", str(src), "-c", "patient postcode", "-o", str(tmp_path / "o.csv"), "--fields",
        "status,footprint_name", "--no-progress")
    assert read_csv_rows(tmp_path / "o.csv")[0] == HEADER + ["status", "footprint_name"]
    r = cli("lookup", "--input", str(src), "-o", str(tmp_path / "x.csv"), "--fields", "status,nope", code=2)
    assert "Unknown field 'nope'" in r.stderr and "footprint_code" in r.stderr
    r = cli("lookup", "NG1 5DT", "--fields", "all", code=2)
    assert "--fields only apply to --input FILE" in r.stderr
    from stpmap.cli import lookup_cmd

    help_text = next(p.help for p in lookup_cmd.params if p.name == "fields")
    assert ", ".join(kernel.DEFAULT_FIELDS) in help_text  # the help names the default set


def test_a_bad_byte_far_into_the_file_stops_with_its_line(lk, tmp_path):
    rows = [[f"{i:06d}", "NG1 5DT", "plain"] for i in range(60_000)]  # past the start that is decoded first
    rows[54_321][2] = "Café"
    src = write_csv(tmp_path / "win.csv", ["id", "pc", "note"], rows, encoding="cp1252")
    out = tmp_path / "out.csv"
    out.write_text("previous run\n")
    with pytest.raises(InputError, match=r"not valid utf-8 text: byte 0xe9 at line 54323 .*--encoding cp1252"):
        _bulk.lookup_file(src, "pc", out, chunk_rows=10_000, progress=False)
    assert out.read_text() == "previous run\n"  # nothing published
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "win.csv"]


def test_xlsx_progress_line_says_it_is_slow(lk, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_bulk, "XLSX_SLOW_ROWS", 5)
    src = write_csv(tmp_path / "p.csv", HEADER, MESSY_ROWS)
    _bulk.lookup_file(src, "Patient Postcode", tmp_path / "o.xlsx", progress=True)
    assert "XLSX is slow by nature" in capsys.readouterr().err
    _bulk.lookup_file(src, "Patient Postcode", tmp_path / "o.parquet", progress=True)
    assert "XLSX" not in capsys.readouterr().err


def test_a_failing_write_stops_the_run_and_leaves_nothing(lk, tmp_path, monkeypatch):
    from stpmap.files import write

    calls = []

    def broken(self, chunk, results):
        calls.append(chunk.table.num_rows)
        if len(calls) == 2:
            raise OSError("disk full")

    monkeypatch.setattr(write.ParquetOutput, "write", broken)
    src = write_csv(tmp_path / "p.csv", ["id", "pc"], [[str(i), "NG1 5DT"] for i in range(50)])
    with pytest.raises(OSError, match="disk full"):
        _bulk.lookup_file(src, "pc", tmp_path / "o.parquet", chunk_rows=10, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv"] and len(calls) <= 4
