"""Looking up every postcode in a file: CSV, XLSX or Parquet in, any of them out.

Every input row is kept, in order, with its columns untouched: CSV cells are
read as text exactly as written (``"007"``, ``"01/02/2020"``, ``""`` and
``"NA"`` come back as they were), Parquet columns keep their types and XLSX
cells their values. The lookup result columns (:data:`stpmap.postcodes.lookup.RESULT_KEYS`,
optionally with a prefix) are added after the input's columns. In a CSV of
one column a blank line is a row (an empty postcode, status ``invalid``); in
a CSV of several columns it is not a row, as in pandas.

CSV and Parquet are streamed in chunks (pyarrow) and written chunk by chunk,
so a file of tens of millions of rows runs in bounded memory. Everything that
can be checked is checked before any work (the file, its format, the column,
name clashes, the encoding, the vintage, the XLSX row limit), and the output
is written to a temporary file renamed at the end, so a failed run leaves
nothing half-written.

>>> from stpmap.files.lookup_file import lookup_file
>>> summary = lookup_file("patients.csv", "postcode", prefix="stp_")  # doctest: +SKIP
>>> summary["output"], summary["statuses"]["ok"]                      # doctest: +SKIP
('patients-stpmap.csv', 9812)

Written CSV quotes every text cell (pyarrow's CSV writer); read it back with
any CSV reader, e.g. ``pandas.read_csv(path, dtype=str, keep_default_na=False)``.
CSV files carry no comment lines: the licence attribution is in the summary
(and printed by ``stpmap lookup``), in Parquet file metadata
(``stpmap.attribution``, ``stpmap.vintage``) and in an ``attribution`` sheet
and the document properties of XLSX files.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from stpmap.errors import ChoiceError, InputError

#: File name endings stpmap reads and writes, and what they are.
EXTENSIONS = {
    ".csv": ("csv", ","), ".csv.gz": ("csv", ","),
    ".tsv": ("csv", "\t"), ".tsv.gz": ("csv", "\t"),
    ".txt": ("csv", "\t"), ".txt.gz": ("csv", "\t"),
    ".xlsx": ("xlsx", None),
    ".parquet": ("parquet", None),
}
#: Most data rows one XLSX sheet holds (1,048,576 rows less the header).
XLSX_MAX_ROWS = 1_048_575
#: Words in a header that say a column holds postcodes (for guessing the column).
POSTCODE_HINTS = ("postcode", "pcd")

_BOM = b"\xef\xbb\xbf"


# ------------------------------------------------------------------ formats


@dataclass(frozen=True)
class FileFormat:
    """What a file name says about its contents."""

    kind: str  # "csv", "xlsx" or "parquet"
    delimiter: str | None = None
    gzip: bool = False
    suffix: str = ""


def file_format(path, role: str = "input") -> FileFormat:
    """The format of ``path`` from its extension, or an error listing the ones known.

    >>> file_format("a.csv.gz")
    FileFormat(kind='csv', delimiter=',', gzip=True, suffix='.csv.gz')
    >>> file_format("a.xlsx").kind
    'xlsx'
    """
    name = Path(path).name.lower()
    for suffix in sorted(EXTENSIONS, key=len, reverse=True):
        if name.endswith(suffix) and len(name) > len(suffix):
            kind, delimiter = EXTENSIONS[suffix]
            return FileFormat(kind, delimiter, suffix.endswith(".gz"), suffix)
    known = ", ".join(EXTENSIONS)
    hint = " Save old .xls workbooks as .xlsx (or CSV) first." if name.endswith(".xls") else ""
    raise InputError(f"Cannot tell the format of the {role} file {str(path)!r} from its name. "
                     f"Use one of these endings: {known}.{hint}")


def default_output(path) -> Path:
    """``<input stem>-stpmap.<ext>`` beside the input.

    >>> default_output("data/patients.csv.gz").as_posix()
    'data/patients-stpmap.csv.gz'
    """
    path = Path(path)
    suffix = file_format(path).suffix
    return path.with_name(path.name[: len(path.name) - len(suffix)] + "-stpmap" + path.name[len(path.name) - len(suffix):])


# ------------------------------------------------------------------ columns


def _norm(name) -> str:
    return str(name if name is not None else "").strip().casefold()


def _listing(columns) -> str:
    return ", ".join(repr(str(c)) for c in columns) if len(columns) else "(none)"


def resolve_column(columns, column, where: str = "the input") -> int:
    """Position of ``column`` in ``columns``: the exact name, else the one name
    equal to it ignoring case and surrounding spaces. Errors list the columns.

    >>> resolve_column(["id", "Postcode"], "postcode")
    1
    """
    columns = [str(c) if c is not None else "" for c in columns]
    exact = [i for i, c in enumerate(columns) if c == column]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise InputError(f"The column {column!r} appears {len(exact)} times in {where}. "
                         "Rename the copies so that each header is unique.")
    loose = [i for i, c in enumerate(columns) if _norm(c) == _norm(column)]
    if len(loose) == 1:
        return loose[0]
    if len(loose) > 1:
        raise InputError(f"Several columns of {where} match {column!r} ignoring case: "
                         f"{_listing([columns[i] for i in loose])}. Give the exact name.")
    raise InputError(f"No column {column!r} in {where}. Its columns are: {_listing(columns)}. "
                     "Give one of them with --column NAME.")


def guess_column(columns, where: str = "the input") -> int:
    """Position of the one column whose header mentions postcodes ("postcode", "pcd").

    >>> guess_column(["id", "Patient Post Code", "gp"])
    1
    """
    columns = [str(c) if c is not None else "" for c in columns]
    keys = [_norm(c).replace(" ", "").replace("_", "").replace("-", "") for c in columns]
    hits = [i for i, k in enumerate(keys) if any(h in k for h in POSTCODE_HINTS)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise InputError(f"No column of {where} looks like postcodes (a header containing 'postcode' or 'pcd'). "
                         f"Its columns are: {_listing(columns)}. Say which with --column NAME.")
    raise InputError(f"Several columns of {where} could hold the postcodes: {_listing([columns[i] for i in hits])}. "
                     "Say which with --column NAME.")


def result_names(prefix: str = "") -> list[str]:
    """Names of the columns the lookup adds, ``RESULT_KEYS`` with ``prefix``."""
    from stpmap.postcodes import lookup as _lookup

    return [f"{prefix}{k}" for k in _lookup.RESULT_KEYS]


def check_collisions(columns, names, where: str = "the input") -> None:
    """Error if a result column would take the name of an input column."""
    taken = {str(c) for c in columns}
    clash = [n for n in names if n in taken]
    if clash:
        raise InputError(f"{where[0].upper()}{where[1:]} already has column(s) named {_listing(clash)}, which the lookup "
                         "adds. Give the added columns a prefix, e.g. --prefix stp_ (prefix='stp_' in Python).")


# ------------------------------------------------------------------ results


def result_types(vintage: int) -> dict[str, str]:
    """``{key: "float" | "string"}`` for the result columns, as lookup_many returns them."""
    from stpmap.postcodes import lookup as _lookup

    probe = _lookup.lookup_many(["NG1 5DT"], vintage=vintage)
    return {k: ("float" if probe[k].dtype.kind == "f" else "string") for k in _lookup.RESULT_KEYS}


def results_frame(df, types: dict[str, str], prefix: str = "", index=None):
    """``lookup_many``'s frame with plain dtypes (text as pandas "str", numbers
    float64) and prefixed names, for pandas and dask outputs."""
    import pandas as pd

    cols = {}
    for key, kind in types.items():
        s = df[key]
        cols[f"{prefix}{key}"] = s.to_numpy(dtype="float64", na_value=float("nan")) if kind == "float" else s.astype("str").array
    return pd.DataFrame(cols, index=index if index is not None else df.index)


def _arrow_results(df, types: dict[str, str], names: list[str]):
    import pyarrow as pa

    arrays = []
    for key, kind in types.items():
        arr = pa.Array.from_pandas(df[key])
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        arrays.append(arr.cast(pa.float64() if kind == "float" else pa.string()))
    return arrays


def _arrow_result_fields(types, names):
    import pyarrow as pa

    return [pa.field(n, pa.float64() if kind == "float" else pa.string()) for n, kind in zip(names, types.values())]


def _python_results(df, types):
    """Result columns as lists of Python values, None for missing."""
    cols = []
    for key, kind in types.items():
        s = df[key]
        if kind == "float":
            cols.append([None if v != v else float(v) for v in s.tolist()])
        else:
            cols.append([None if (v is None or v != v) else str(v) for v in s.astype(object).tolist()])
    return cols


# ------------------------------------------------------------------ reading


def _open_binary(path: Path, gz: bool):
    if gz:
        import gzip

        return gzip.open(path, "rb")
    return open(path, "rb")


def _codec(encoding: str | None) -> str:
    if encoding is None:
        return "utf-8"
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"Unknown encoding {encoding!r}. Give a Python codec name, e.g. utf-8, cp1252 or latin-1.") from None


def _scan_text(path: Path, fmt: FileFormat, codec: str) -> tuple[int, bool]:
    """Check the whole file decodes with ``codec``, before any work.

    Returns (number of line breaks, starts with a UTF-8 BOM)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig" if codec in ("utf-8", "utf-8-sig") else codec)()
    newlines = done = 0
    bom = False
    try:
        with _open_binary(path, fmt.gzip) as f:
            first = True
            while True:
                block = f.read(1 << 24)
                if first:
                    bom = block.startswith(_BOM)
                    first = False
                try:
                    decoder.decode(block, final=not block)
                except UnicodeDecodeError as exc:
                    at = done + max(exc.start, 0)
                    line = newlines + block[: max(exc.start, 0)].count(b"\n") + 1
                    bad = block[exc.start: exc.start + 1].hex() if 0 <= exc.start < len(block) else "end of file"
                    if codec in ("utf-8", "utf-8-sig"):
                        fix = ("It is probably in a Windows encoding (Excel's 'CSV' rather than 'CSV UTF-8'): "
                               "give it with --encoding cp1252 (encoding='cp1252' in Python).")
                    else:
                        fix = "Give the file's real encoding with --encoding (e.g. utf-8, cp1252, latin-1)."
                    raise InputError(f"{path.name} is not valid {codec} text: byte 0x{bad} at line {line} "
                                     f"(byte {at:,}). {fix}") from None
                if not block:
                    break
                newlines += block.count(b"\n")
                done += len(block)
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc}. Check the file is a readable"
                         f"{' gzip-compressed' if fmt.gzip else ''} text file.") from None
    return newlines, bom


def _csv_header(path: Path, fmt: FileFormat, codec: str) -> list[str]:
    enc = "utf-8-sig" if codec in ("utf-8", "utf-8-sig") else codec
    try:
        with _open_binary(path, fmt.gzip) as raw:
            text = io.TextIOWrapper(raw, encoding=enc, newline="")
            header = next(csv.reader(text, delimiter=fmt.delimiter), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"Cannot read the header of {path}: {exc}.") from None
    if not header:
        raise InputError(f"{path} is empty: it needs a header row naming its columns, then one row per postcode.")
    return header


@dataclass
class _Source:
    """An opened input: its column names, row count when known, and chunks."""

    path: Path
    fmt: FileFormat
    columns: list
    rows: int | None = None  # exact when known
    rows_estimate: int | None = None
    bom: bool = False
    codec: str = "utf-8"
    schema: object = None  # pyarrow schema (CSV, Parquet)
    sheet_title: str | None = None
    data: list = field(default_factory=list)  # XLSX rows

    @property
    def arrow(self) -> bool:
        return self.fmt.kind != "xlsx"


def _open_csv_reader(src: _Source, include=None):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [str(c) for c in src.columns]
    read = pacsv.ReadOptions(block_size=1 << 23, use_threads=True,
                             encoding=src.codec if src.codec not in ("utf-8", "utf-8-sig") else "utf8")
    parse = pacsv.ParseOptions(delimiter=src.fmt.delimiter, newlines_in_values=True,
                               ignore_empty_lines=len(names) > 1)
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                                   include_columns=include)
    return pacsv.open_csv(src.path, read_options=read, parse_options=parse, convert_options=convert)


def _arrow_error(src: _Source, exc) -> InputError:
    msg = str(exc).strip()
    if "Expected" in msg and "columns" in msg:
        return InputError(f"{src.path.name} is not a regular table: {msg}. Every row needs as many fields as the header "
                          f"has columns ({len(src.columns)}); check for unquoted delimiters or stray quotes.")
    return InputError(f"Cannot read {src.path.name}: {msg}.")


def _open_source(path: Path, fmt: FileFormat, *, encoding=None, sheet=None) -> _Source:
    if fmt.kind == "csv":
        codec = _codec(encoding)
        newlines, bom = _scan_text(path, fmt, codec)
        header = _csv_header(path, fmt, codec)
        src = _Source(path, fmt, header, rows_estimate=max(newlines - 1, 0), bom=bom, codec=codec)
        import pyarrow as pa

        try:
            reader = _open_csv_reader(src)
        except pa.ArrowInvalid as exc:
            raise _arrow_error(src, exc) from None
        if reader.schema.names != [str(c) for c in header]:  # pragma: no cover - a header both parsers read
            raise InputError(f"Cannot read the header of {path.name} consistently ({reader.schema.names} "
                             f"vs {header}). Check its quoting.")
        src.schema = reader.schema
        return src
    if fmt.kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"Cannot read {path} as Parquet: {exc}. Check it is a Parquet file.") from None
        schema = pf.schema_arrow
        return _Source(path, fmt, list(schema.names), rows=pf.metadata.num_rows, schema=schema)
    return _open_xlsx(path, fmt, sheet)


def _open_xlsx(path: Path, fmt: FileFormat, sheet) -> _Source:
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as exc:
        raise InputError(f"Cannot read {path} as an XLSX workbook ({exc}). Save it from Excel as .xlsx, or as CSV.") from None
    try:
        names = wb.sheetnames
        if sheet is None:
            ws = wb.worksheets[0]
        else:
            hit = [n for n in names if n == str(sheet)] or [n for n in names if _norm(n) == _norm(sheet)]
            if len(hit) != 1:
                raise ChoiceError("sheet", sheet, names, f"in {path.name}")
            ws = wb[hit[0]]
        if hasattr(ws, "reset_dimensions"):  # some writers record wrong dimensions
            ws.reset_dimensions()
        rows = ws.iter_rows(values_only=True)
        header = list(next(rows, None) or [])
        while header and header[-1] is None:
            header.pop()
        if not header:
            raise InputError(f"The sheet {ws.title!r} of {path.name} is empty: it needs a header row naming its "
                             "columns, then one row per postcode.")
        width = len(header)
        data = []
        for number, row in enumerate(rows, start=2):
            row = list(row)
            if len(row) > width:
                extra = [v for v in row[width:] if v is not None]
                if extra:
                    from openpyxl.utils import get_column_letter

                    col = width + next(i for i, v in enumerate(row[width:]) if v is not None) + 1
                    raise InputError(f"Row {number} of sheet {ws.title!r} has a value in column {get_column_letter(col)}, "
                                     "which has no header. Give that column a heading (or delete the stray cell).")
                row = row[:width]
            elif len(row) < width:
                row += [None] * (width - len(row))
            data.append(row)
        while data and all(v is None for v in data[-1]):  # formatting below the table, not rows
            data.pop()
        title = ws.title
    finally:
        wb.close()
    header = ["" if h is None else (h if isinstance(h, str) else str(h)) for h in header]
    return _Source(path, fmt, header, rows=len(data), sheet_title=title, data=data)


def _rebatch(batches, n: int):
    """pyarrow record batches regrouped as tables of exactly ``n`` rows (the last fewer)."""
    import pyarrow as pa

    buf, size = [], 0
    for b in batches:
        if b.num_rows == 0:
            continue
        buf.append(b)
        size += b.num_rows
        while size >= n:
            t = pa.Table.from_batches(buf)
            yield t.slice(0, n)
            rest = t.slice(n).combine_chunks() if size > n else None
            buf = rest.to_batches() if rest is not None else []
            size -= n
    if size:
        yield pa.Table.from_batches(buf)


def _chunks(src: _Source, chunk_rows: int):
    """Chunks of the input: pyarrow tables (CSV, Parquet) or lists of rows (XLSX)."""
    if src.fmt.kind == "xlsx":
        for i in range(0, len(src.data), chunk_rows):
            yield src.data[i: i + chunk_rows]
        return
    import pyarrow as pa

    if src.fmt.kind == "parquet":
        import pyarrow.parquet as pq

        batches = pq.ParquetFile(src.path).iter_batches(batch_size=chunk_rows, use_threads=True)
        yield from _rebatch(batches, chunk_rows)
        return
    reader = _open_csv_reader(src)
    it = _rebatch(reader, chunk_rows)
    while True:
        try:
            t = next(it)
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            raise _arrow_error(src, exc) from None
        yield t


def _count_csv_rows(src: _Source) -> int:
    import pyarrow as pa

    try:
        return sum(b.num_rows for b in _open_csv_reader(src, include=[str(src.columns[0])]))
    except pa.ArrowInvalid as exc:
        raise _arrow_error(src, exc) from None


# ------------------------------------------------------------------ cells


def _cell_text(v) -> str:
    """An XLSX cell as CSV/Parquet text: numbers as written, dates in ISO form."""
    import datetime as dt

    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time(0) and v.tzinfo is None else v.isoformat(sep=" ")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    return str(v)


def _xlsx_value(v):
    """A Python value (from Arrow or XLSX) as openpyxl can store it."""
    import datetime as dt
    import decimal

    if v is None or isinstance(v, (str, bool, int, float, decimal.Decimal)):
        return v
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ") if v.tzinfo is not None else v
    if isinstance(v, (dt.date, dt.time, dt.timedelta)):
        return v
    if isinstance(v, bytes):
        return v.hex()
    return str(v)


# ------------------------------------------------------------------ writing


class _CsvSink:
    def __init__(self, path: Path, fmt: FileFormat, schema, bom: bool):
        import pyarrow as pa
        import pyarrow.csv as pacsv

        self.stream = pa.CompressedOutputStream(str(path), "gzip") if fmt.gzip else pa.OSFile(str(path), "wb")
        if bom:
            self.stream.write(_BOM)
        self.schema = schema
        self.writer = pacsv.CSVWriter(self.stream, schema, write_options=pacsv.WriteOptions(delimiter=fmt.delimiter))

    def write(self, table):
        self.writer.write_table(table)

    def close(self):
        self.writer.close()
        if not self.stream.closed:
            self.stream.close()


class _ParquetSink:
    def __init__(self, path: Path, schema):
        import pyarrow.parquet as pq

        self.schema = schema
        self.writer = pq.ParquetWriter(str(path), schema)

    def write(self, table):
        self.writer.write_table(table)

    def close(self):
        self.writer.close()


class _XlsxSink:
    def __init__(self, path: Path, header: list, title: str | None, meta: dict):
        import openpyxl

        self.path = path
        self.wb = openpyxl.Workbook(write_only=True)
        self.ws = self.wb.create_sheet(title or "lookup")
        self.ws.append(header)
        self.meta = meta
        self.row = 1

    def write_rows(self, rows):
        from openpyxl.utils.exceptions import IllegalCharacterError

        for row in rows:
            self.row += 1
            try:
                self.ws.append(row)
            except IllegalCharacterError:
                raise InputError(f"Row {self.row} holds a control character, which XLSX cannot store. "
                                 "Write CSV or Parquet instead (--output FILE.csv).") from None

    def close(self):
        about_title = "attribution" if self.ws.title != "attribution" else "stpmap attribution"
        about = self.wb.create_sheet(about_title)
        for k, v in self.meta.items():
            about.append([k, v])
        self.wb.properties.creator = "stpmap"
        self.wb.properties.description = self.meta["attribution"]
        self.wb.properties.subject = f"STP footprint lookup, vintage {self.meta['vintage']}"
        self.wb.save(str(self.path))


# ------------------------------------------------------------------ main


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def lookup_file(input, column=None, output=None, *, vintage=None, prefix: str = "", chunk_rows: int = 500_000,
                progress=None, encoding=None, sheet=None) -> dict:
    """Look up the postcodes in one column of a file and write the file again
    with the result columns added.

    Parameters
    ----------
    input : path of a .csv, .csv.gz, .tsv, .txt (tab), .xlsx or .parquet file.
    column : the postcode column: its exact name or the one matching ignoring
        case; ``None`` guesses the one header containing "postcode" or "pcd".
    output : where to write; the format follows its extension and may differ
        from the input's. Default ``<input stem>-stpmap.<ext>`` beside the input.
        Written through a temporary file renamed at the end; never the input.
    vintage : 2017 (default) or 2021.
    prefix : put before the names of the added columns (``RESULT_KEYS``), to
        avoid clashes with the input's columns (a clash is an error).
    chunk_rows : rows looked up and written at a time (CSV and Parquet stream).
    progress : a progress bar on standard error; ``None``: when it is a terminal.
    encoding : of a CSV input (default UTF-8, with or without BOM), e.g. "cp1252".
    sheet : of an XLSX input (default the first).

    Returns
    -------
    dict with ``input``, ``output``, ``format``, ``column``, ``vintage``,
    ``rows``, ``statuses`` (a count for each of ``_lookup.STATUSES``),
    ``seconds`` and ``attribution``.

    Examples
    --------
    >>> s = lookup_file("gp-list.xlsx", "Postcode", "gp-list.parquet", prefix="stp_")  # doctest: +SKIP
    >>> s["rows"], s["statuses"]["ok"], s["output"]                                    # doctest: +SKIP
    (7012, 6998, 'gp-list.parquet')
    """
    t0 = time.perf_counter()
    from stpmap.postcodes import lookup as _lookup
    from stpmap import settings as _settings
    from stpmap.data.registry import registry

    # ---- checks, before any work
    path = Path(input)
    if not path.exists():
        raise InputError(f"The input file {str(path)!r} does not exist. Check the path.")
    if path.is_dir():
        raise InputError(f"{str(path)!r} is a folder. Give one file, or use --engine dask for a folder of files.")
    in_fmt = file_format(path, "input")
    out = Path(output) if output is not None else default_output(path)
    out_fmt = file_format(out, "output")
    if out.is_dir():
        raise InputError(f"The output {str(out)!r} is a folder. Give a file name, e.g. {str(out / default_output(path).name)!r}.")
    if _same_file(path, out) or path.resolve() == out.resolve():
        raise InputError(f"The output {str(out)!r} is the input file. Give another --output; stpmap never overwrites its input.")
    if not out.parent.exists() and str(out.parent) not in ("", "."):
        raise InputError(f"The output folder {str(out.parent)!r} does not exist. Create it first or give another --output.")
    if encoding is not None and in_fmt.kind != "csv":
        raise InputError(f"--encoding is for CSV input; {path.name} is {in_fmt.kind.upper()}, which records its own encoding.")
    if sheet is not None and in_fmt.kind != "xlsx":
        raise InputError(f"--sheet is for XLSX input; {path.name} is {in_fmt.kind.upper()}.")
    if int(chunk_rows) < 1:
        raise InputError(f"chunk_rows must be at least 1, not {chunk_rows}.")
    chunk_rows = int(chunk_rows)
    v = registry().check_vintage(vintage)
    prefix = "" if prefix is None else str(prefix)

    src = _open_source(path, in_fmt, encoding=encoding, sheet=sheet)
    where = f"{path.name}" + (f" (sheet {src.sheet_title!r})" if src.sheet_title else "")
    col = resolve_column(src.columns, column, where) if column is not None else guess_column(src.columns, where)
    names = result_names(prefix)
    check_collisions(src.columns, names, where)
    if in_fmt.kind == "parquet":
        _check_parquet_column(src, col)
        if out_fmt.kind == "csv":
            _check_csv_types(src)
    if out_fmt.kind == "xlsx":
        rows = src.rows
        if rows is None:
            rows = src.rows_estimate if src.rows_estimate <= XLSX_MAX_ROWS else _count_csv_rows(src)
        if rows > XLSX_MAX_ROWS:
            raise InputError(f"{path.name} has {rows:,} rows; an XLSX sheet holds at most {XLSX_MAX_ROWS:,}. "
                             f"Write CSV or Parquet instead (--output {out.name.rsplit('.', 1)[0]}.csv or .parquet).")

    attribution = registry().attribution(postcodes=True)
    _lookup.index(v)
    types = result_types(v)

    # ---- work
    counts = {s: 0 for s in _lookup.STATUSES}
    tmp = out.with_name(f".{out.name}.{os.getpid()}.stpmap-tmp")
    meta = {"attribution": attribution, "vintage": str(v), "postcode column": str(src.columns[col]),
            "source": path.name}
    sink = None
    n = 0
    bar = None
    try:
        if out_fmt.kind == "xlsx":
            sink = _XlsxSink(tmp, list(src.columns) + names, src.sheet_title, meta)
        else:
            schema = _output_schema(src, types, names, out_fmt, meta)
            sink = _ParquetSink(tmp, schema) if out_fmt.kind == "parquet" else _CsvSink(tmp, out_fmt, schema, src.bom)
        total = src.rows if src.rows is not None else src.rows_estimate
        if progress is None:
            progress = sys.stderr.isatty()
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total, unit=" rows", unit_scale=True, file=sys.stderr, desc=path.name, leave=False)
        for chunk in _chunks(src, chunk_rows):
            if src.arrow:
                pcs = chunk.column(col)
                pcs = pcs.cast("string") if not _is_plain_string(pcs.type) else pcs
                pcs = pcs.combine_chunks()
            else:
                pcs = [None if r[col] is None else (r[col] if isinstance(r[col], str) else _cell_text(r[col])) for r in chunk]
            k = len(pcs)
            df = _lookup.lookup_many(pcs, vintage=v)
            if len(df) != k:  # never lose or reorder rows silently
                raise RuntimeError(f"lookup_many returned {len(df)} rows for {k} postcodes")
            for s, c in df["status"].value_counts().items():
                counts[str(s)] = counts.get(str(s), 0) + int(c)
            _write_chunk(sink, chunk, df, types, names, src, out_fmt)
            n += k
            if bar is not None:
                bar.update(k)
        sink.close()
        sink = None
        os.replace(tmp, out)
    except BaseException:
        if sink is not None:
            try:
                sink.close()
            except Exception:
                pass
        if tmp.exists():
            tmp.unlink()
        raise
    finally:
        if bar is not None:
            bar.close()
    return {
        "input": str(path), "output": str(out), "format": out_fmt.kind, "column": str(src.columns[col]),
        "vintage": v, "rows": n, "statuses": counts, "seconds": time.perf_counter() - t0,
        "attribution": attribution,
    }


def _is_plain_string(t) -> bool:
    import pyarrow as pa

    return pa.types.is_string(t)


def _check_parquet_column(src: _Source, col: int) -> None:
    import pyarrow as pa

    t = src.schema.field(col).type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)
            or getattr(pa.types, "is_string_view", lambda _: False)(t)):
        raise InputError(f"The column {str(src.columns[col])!r} of {src.path.name} holds {t}, not text. "
                         "Postcodes are text; choose the column that holds them with --column NAME.")


def _check_csv_types(src: _Source) -> None:
    import pyarrow as pa

    for f in src.schema:
        t = f.type
        if pa.types.is_nested(t) or pa.types.is_dictionary(t) and pa.types.is_nested(t.value_type):
            raise InputError(f"The column {f.name!r} of {src.path.name} holds {t}, which CSV cannot hold. "
                             "Write Parquet instead (--output FILE.parquet).")


def _output_schema(src: _Source, types, names, out_fmt: FileFormat, meta: dict):
    import pyarrow as pa

    if src.arrow:
        fields = [f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in src.schema]
    else:
        fields = [pa.field(str(c), pa.string()) for c in src.columns]
    fields += _arrow_result_fields(types, names)
    if out_fmt.kind != "parquet":
        return pa.schema(fields)
    old = dict(src.schema.metadata or {}) if src.arrow and src.fmt.kind == "parquet" else {}
    old.pop(b"pandas", None)  # it would not describe the added columns
    old[b"stpmap.attribution"] = meta["attribution"].encode()
    old[b"stpmap.vintage"] = meta["vintage"].encode()
    old[b"stpmap.postcode_column"] = meta["postcode column"].encode()
    return pa.schema(fields, metadata=old)


def _write_chunk(sink, chunk, df, types, names, src: _Source, out_fmt: FileFormat) -> None:
    import pyarrow as pa

    if out_fmt.kind == "xlsx":
        if src.arrow:
            cols = [[_xlsx_value(x) for x in c.to_pylist()] for c in chunk.columns]
            base = list(zip(*cols)) if cols else [()] * chunk.num_rows
        else:
            base = chunk
        res = _python_results(df, types)
        sink.write_rows([list(b) + list(r) for b, r in zip(base, zip(*res))])
        return
    if src.arrow:
        arrays = [c.combine_chunks() for c in chunk.columns]
        arrays = [a.dictionary_decode() if pa.types.is_dictionary(a.type) else a for a in arrays]
    else:
        arrays = [pa.array([_cell_text(r[i]) for r in chunk], pa.string()) for i in range(len(src.columns))]
    arrays += _arrow_results(df, types, names)
    sink.write(pa.Table.from_arrays(arrays, schema=sink.schema))
