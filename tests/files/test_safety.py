"""Bulk lookups that are safe to open in a spreadsheet and never refuse the
common file: XLSX cells are text, never formulas; CSV keeps the user's cells
(or escapes them on request); stpmap's own ``postcode`` column never echoes a
formula; cells cut to XLSX's limit are named; a ``postcode`` column of the
input gets the added columns a default prefix; file names keep their case."""

from __future__ import annotations

import csv
import sys
import warnings

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stpmap.errors import InputError, StpmapWarning
from stpmap.files import lookup_file as _bulk
from stpmap.files import lookup_folder as _bulk_dask
from stpmap.files.write import FORMULA_START, XLSX_MAX_CHARS
from stpmap.files.kernel import DEFAULT_FIELDS  # the result columns added unless told otherwise

#: Text a spreadsheet would run or misread, each a user's cell to keep exactly.
RISKY = ['=HYPERLINK("http://x","c")', "+44 115 000", "-1+2", "@SUM(A1:A9)", "\t=1+1", "\r=2", "#N/A",
         "=1", "'quoted", "=", "NG1 5DT"]


@pytest.fixture(scope="module")
def lk(atlas_cache):
    from stpmap.postcodes import lookup as _lookup

    _lookup.index(2017)
    return _lookup


def write_csv(path, header, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def risky_csv(path, postcode_header="pc"):
    """A file whose postcode and note columns hold text spreadsheets misread."""
    rows = [[f"{i:03d}", text, text] for i, text in enumerate(RISKY)]
    return write_csv(path, ["id", postcode_header, "note"], rows), rows


def no_stpmap_warnings(record):
    return [str(w.message) for w in record if issubclass(w.category, StpmapWarning)] == []


# ------------------------------------------------------------------ formulas


def _line_ends(text):
    """Text with a lone carriage return read as a line feed, as some XML readers do."""
    return text.replace("\r", "\n") if isinstance(text, str) else text


def test_xlsx_cells_are_text_never_formulas(lk, tmp_path):
    src, rows = risky_csv(tmp_path / "risky.csv")
    out = tmp_path / "risky.xlsx"
    _bulk.lookup_file(src, "pc", out, progress=False)
    ws = openpyxl.load_workbook(out).worksheets[0]  # not data_only: a formula would read back as one
    got = list(ws.iter_rows())
    header = [c.value for c in got[0]]
    assert header[:3] == ["id", "pc", "note"] and header[3:] == list(DEFAULT_FIELDS)
    for row, cells in zip(rows, got[1:]):
        # exactly the input's text (a lone carriage return may read back as a line feed: openpyxl
        # without lxml normalises line ends in XML text, with lxml it keeps them)
        assert [_line_ends(c.value) for c in cells[:3]] == [_line_ends(text) for text in row]
        assert all(c.data_type == "s" for c in cells[:3]), [(c.value, c.data_type) for c in cells[:3]]
        assert all(c.data_type != "f" for c in cells)
    echoed = [c[3] for c in got[1:]]  # stpmap's own postcode column
    assert all(c.value is None or (c.data_type == "s" and not c.value.startswith(FORMULA_START)) for c in echoed)
    assert [c.value for c in echoed][-1] == "NG1 5DT"


def test_xlsx_input_text_that_looks_like_a_formula_stays_text(lk, tmp_path):
    src = tmp_path / "in.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["=Total", "postcode"])
    for text in ("=1+1", "#DIV/0!"):
        ws.append([text, "NG1 5DT"])
        ws.cell(ws.max_row, 1).data_type = "s"  # a text cell, as Excel stores '=1+1
    ws.cell(1, 1).data_type = "s"
    wb.save(src)
    out = tmp_path / "out.xlsx"
    _bulk.lookup_file(src, "postcode", out, prefix="stp_", progress=False)
    got = list(openpyxl.load_workbook(out).worksheets[0].iter_rows())
    assert (got[0][0].value, got[0][0].data_type) == ("=Total", "s")
    assert [(r[0].value, r[0].data_type) for r in got[1:]] == [("=1+1", "s"), ("#DIV/0!", "s")]


def test_csv_keeps_user_cells_byte_for_byte(lk, tmp_path):
    src, rows = risky_csv(tmp_path / "risky.csv", postcode_header="postcode")  # the most common file
    out = tmp_path / "out.csv"
    with pytest.warns(StpmapWarning):  # the added columns get a prefix
        _bulk.lookup_file(src, "postcode", out, progress=False)
    header, got = read_csv(out)
    assert header[:3] == ["id", "postcode", "note"] and [r[:3] for r in got] == rows
    raw = out.read_bytes()
    assert b'"=HYPERLINK(""http://x"",""c"")","=HYPERLINK(""http://x"",""c"")"' in raw
    assert b"'=" not in raw  # nothing escaped unless asked


@pytest.mark.parametrize("ext", ["csv", "xlsx", "parquet"])
def test_postcode_result_never_echoes_formula_like_text(lk, tmp_path, ext):
    src, rows = risky_csv(tmp_path / "risky.csv")
    out = tmp_path / f"out.{ext}"
    _bulk.lookup_file(src, "pc", out, progress=False)
    if ext == "csv":
        header, got = read_csv(out)
        echoed = [r[header.index("postcode")] for r in got]
        status = [r[header.index("status")] for r in got]
    elif ext == "xlsx":
        got = list(openpyxl.load_workbook(out).worksheets[0].iter_rows(values_only=True))
        echoed = [r[got[0].index("postcode")] or "" for r in got[1:]]
        status = [r[got[0].index("status")] for r in got[1:]]
    else:
        t = pq.read_table(out)
        echoed = [v or "" for v in t.column("postcode").to_pylist()]
        status = t.column("status").to_pylist()
    assert not [p for p in echoed if p.startswith(FORMULA_START)]
    formula_rows = [i for i, text in enumerate(RISKY) if text.startswith(FORMULA_START)]
    assert all(echoed[i] == "" and status[i] == "invalid" for i in formula_rows)
    # other invalid text is still echoed, valid postcodes are canonical
    assert echoed[RISKY.index("#N/A")] == "#N/A" and echoed[RISKY.index("NG1 5DT")] == "NG1 5DT"


def test_escape_formulas_prefixes_every_csv_text_column(lk, tmp_path):
    src = write_csv(tmp_path / "risky.csv", ["id", "pc", "=note"],
                    [[f"{i:03d}", text, text] for i, text in enumerate(RISKY)])
    out = tmp_path / "out.csv"
    _bulk.lookup_file(src, "pc", out, progress=False, escape_formulas=True, fields="all")  # numbers too
    header, got = read_csv(out)
    assert header[:3] == ["id", "pc", "'=note"]  # the header is a row of cells too

    def escaped(text):
        return "'" + text if text.startswith(FORMULA_START) else text

    assert [r[1:3] for r in got] == [[escaped(t), escaped(t)] for t in RISKY]
    assert got[RISKY.index("'quoted")][1] == "'quoted" and got[RISKY.index("#N/A")][1] == "#N/A"
    numbers = {header.index(k) for k in ("easting", "northing", "latitude", "longitude", "distance_m")}
    assert all(not cell.startswith(FORMULA_START) for r in got for i, cell in enumerate(r) if i not in numbers)
    assert got[-1][header.index("longitude")].startswith("-1.")  # a number stays a number


def test_escape_formulas_leaves_numbers_as_numbers(lk, tmp_path):
    src = tmp_path / "typed.parquet"
    pq.write_table(pa.table({"n": pa.array([-5, 3], pa.int64()), "pc": ["-1", "NG1 5DT"]}), src)
    out = tmp_path / "typed.csv"
    _bulk.lookup_file(src, "pc", out, progress=False, escape_formulas=True)
    header, got = read_csv(out)
    assert [r[:2] for r in got] == [["-5", "'-1"], ["3", "NG1 5DT"]]


def test_escape_formulas_in_xlsx_marks_text_and_keeps_it(lk, tmp_path):
    src, rows = risky_csv(tmp_path / "risky.csv")
    out = tmp_path / "out.xlsx"
    _bulk.lookup_file(src, "pc", out, progress=False, escape_formulas=True)
    got = list(openpyxl.load_workbook(out).worksheets[0].iter_rows())[1:]
    assert [[_line_ends(c.value) for c in r[:3]] for r in got] == [[_line_ends(t) for t in row] for row in rows]
    assert [r[2].quotePrefix for r in got] == [t.startswith(FORMULA_START) for t in RISKY]


def test_escape_formulas_is_refused_for_parquet(lk, tmp_path):
    src, _ = risky_csv(tmp_path / "risky.csv")
    with pytest.raises(InputError, match=r"--escape-formulas is for CSV and XLSX output; out.parquet is Parquet"):
        _bulk.lookup_file(src, "pc", tmp_path / "out.parquet", progress=False, escape_formulas=True)
    assert not (tmp_path / "out.parquet").exists()


# ------------------------------------------------------------------ XLSX cell limit


def test_xlsx_cut_cells_are_named(lk, tmp_path):
    long_rows = {0, 2, 3, 4, 5, 6, 8}  # seven, more than the warning lists
    rows = [[f"{i:03d}", "NG1 5DT", "x" * (XLSX_MAX_CHARS + 10 if i in long_rows else XLSX_MAX_CHARS if i == 1 else 5),
             "y" * 40_000 if i == 8 else ""] for i in range(10)]
    src = write_csv(tmp_path / "long.csv", ["id", "pc", "note", "extra"], rows)
    out = tmp_path / "long.xlsx"
    with pytest.warns(StpmapWarning) as record:
        _bulk.lookup_file(src, "pc", out, progress=False)
    messages = [str(w.message) for w in record if issubclass(w.category, StpmapWarning)]
    assert len(messages) == 1
    m = messages[0]
    assert m.startswith(f"8 cells were longer than the {XLSX_MAX_CHARS:,} characters an XLSX cell holds")
    assert "column 'note': 7 cells, sheet rows 2, 4, 5, 6, 7, ..." in m  # sheet row = data row + 1 (header)
    assert "column 'extra': 1 cell, sheet row 10)" in m
    assert "CSV or Parquet" in m
    got = list(openpyxl.load_workbook(out).worksheets[0].iter_rows(values_only=True))
    assert len(got[1][2]) == XLSX_MAX_CHARS and len(got[2][2]) == XLSX_MAX_CHARS and got[8][2] == "xxxxx"
    assert "sheet rows 2, 3" not in m  # a cell of exactly the limit is whole


# ------------------------------------------------------------------ a postcode column


def test_postcode_column_gets_default_prefix(lk, tmp_path):
    src, rows = risky_csv(tmp_path / "patients.csv", postcode_header="postcode")
    with pytest.warns(StpmapWarning, match=r"^patients\.csv already has column\(s\) named 'postcode'.*"
                                           r"stpmap_postcode, stpmap_status.*--prefix") as record:
        s = _bulk.lookup_file(src, "postcode", progress=False)
    assert s["prefix"] == "stpmap_" and s["column"] == "postcode"
    header, got = read_csv(tmp_path / "patients-stpmap.csv")
    assert header == ["id", "postcode", "note"] + [f"stpmap_{k}" for k in DEFAULT_FIELDS]
    assert [r[:3] for r in got] == rows  # the user's columns byte for byte
    assert got[-1][header.index("stpmap_postcode")] == "NG1 5DT" and got[-1][header.index("stpmap_status")] == "ok"
    assert len([w for w in record if issubclass(w.category, StpmapWarning)]) == 1


def test_no_prefix_and_no_warning_without_a_clash(lk, tmp_path):
    src, _ = risky_csv(tmp_path / "p.csv")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        s = _bulk.lookup_file(src, "pc", progress=False)
    assert s["prefix"] == "" and no_stpmap_warnings(record)
    assert read_csv(tmp_path / "p-stpmap.csv")[0][3] == "postcode"


def test_default_prefix_taken_too_moves_on(lk, tmp_path):
    src = write_csv(tmp_path / "again.csv", ["postcode", "stpmap_status"], [["NG1 5DT", "mine"]])
    with pytest.warns(StpmapWarning, match="stpmap2_postcode"):
        s = _bulk.lookup_file(src, "postcode", progress=False)
    header, got = read_csv(tmp_path / "again-stpmap.csv")
    assert s["prefix"] == "stpmap2_" and header[:3] == ["postcode", "stpmap_status", "stpmap2_postcode"]
    assert got[0][:2] == ["NG1 5DT", "mine"]


@pytest.mark.parametrize("prefix, clash", [("", "'postcode'"), ("x_", "'x_status'")])
def test_a_given_prefix_that_clashes_is_an_error(lk, tmp_path, prefix, clash):
    src = write_csv(tmp_path / "patients.csv", ["postcode", "x_status"], [["NG1 5DT", "1"]])
    with pytest.raises(InputError) as e:
        _bulk.lookup_file(src, "postcode", prefix=prefix, progress=False)
    msg = str(e.value)
    assert f"The lookup adds column(s) named {clash}, which patients.csv already has" in msg
    assert "--prefix stpmap_" in msg and "prefix='stpmap_'" in msg
    assert not (tmp_path / "patients-stpmap.csv").exists()


def test_file_names_keep_their_case_in_messages(lk, tmp_path):
    src = write_csv(tmp_path / "patients.csv", ["postcode"], [["NG1 5DT"]])
    with pytest.raises(InputError) as e:
        _bulk.lookup_file(src, "postcode", prefix="", progress=False)
    assert "patients.csv" in str(e.value) and "Patients.csv" not in str(e.value)
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_csv(folder / "a.csv", ["pcd"], [["NG1 5DT"]])
    pq.write_table(pa.table({"pcd": ["NG1 5DT"]}), folder / "b.parquet")
    with pytest.raises(InputError) as e:
        _bulk_dask.lookup_folder(str(folder / "*"), "pcd", tmp_path / "out")
    assert f"mixes file formats: the pattern {str(folder / '*')!r} holds" in str(e.value)


# ------------------------------------------------------------------ the dask engine


def test_dask_postcode_column_gets_default_prefix(lk, tmp_path):
    folder = tmp_path / "extracts"
    folder.mkdir()
    pq.write_table(pa.table({"id": ["1", "2", "3"], "postcode": ["NG1 5DT", "=1+1", "-x"]}), folder / "a.parquet")
    with pytest.warns(StpmapWarning, match=r"already has column\(s\) named 'postcode'.*stpmap_postcode"):
        s = _bulk_dask.lookup_folder(folder, "postcode", tmp_path / "out", scheduler="sync")
    assert s["prefix"] == "stpmap_"
    t = pq.read_table(tmp_path / "out")
    assert t.column("postcode").to_pylist() == ["NG1 5DT", "=1+1", "-x"]
    assert t.column("stpmap_postcode").to_pylist() == ["NG1 5DT", None, None]
    assert t.column("stpmap_status").to_pylist() == ["ok", "invalid", "invalid"]
    with pytest.raises(InputError, match=r"The lookup adds column\(s\) named 'postcode'.*--prefix stpmap_"):
        _bulk_dask.lookup_folder(folder, "postcode", tmp_path / "out2", prefix="", scheduler="sync")


def test_dask_missing_names_the_extra(lk, tmp_path, monkeypatch):
    folder = tmp_path / "extracts"
    folder.mkdir()
    pq.write_table(pa.table({"pcd": ["NG1 5DT"]}), folder / "a.parquet")
    monkeypatch.setitem(sys.modules, "dask", None)  # import dask fails, as when it is not installed
    monkeypatch.setitem(sys.modules, "dask.dataframe", None)
    with pytest.raises(InputError, match=r"needs dask .*pip install 'stpmap\[dask\]'"):
        _bulk_dask.lookup_folder(folder, "pcd", tmp_path / "out")
    assert not (tmp_path / "out").exists()
