"""Reading the tables users give stpmap: CSV (also TSV, gzip-compressed), XLSX and Parquet.

One reader per format, behind one interface: :func:`open_input` checks the
file, reads its header and gives an :class:`InputFile` whose
:meth:`~InputFile.tables` are pyarrow tables of a given number of rows, in
file order. CSV cells are read as text exactly as written; Parquet columns
keep their types; XLSX cells are read whole (openpyxl) and given as text.

Text files are UTF-8 (with or without a BOM) unless the caller gives another
encoding, and are read once, by pyarrow: the start (the header) is decoded
when the file is opened, and a byte further on that does not decode stops the
reading (:class:`TextEncodingError`) with a message naming its line and the
option that fixes it; only then is the file decoded again, to find that line.

>>> from stpmap.files.read import open_input
>>> src = open_input("patients.csv")                 # doctest: +SKIP
>>> src.header, next(src.tables(1000)).num_rows      # doctest: +SKIP
(['id', 'postcode'], 1000)
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from stpmap.errors import ChoiceError, InputError

#: File name endings stpmap reads and writes, and what they are.
EXTENSIONS = {
    ".csv": ("csv", ","), ".csv.gz": ("csv", ","),
    ".tsv": ("csv", "\t"), ".tsv.gz": ("csv", "\t"),
    ".txt": ("csv", "\t"), ".txt.gz": ("csv", "\t"),
    ".xlsx": ("xlsx", None),
    ".parquet": ("parquet", None),
}
UTF8_BOM = b"\xef\xbb\xbf"
_SCAN_BLOCK = 1 << 24  # bytes decoded at a time to find a bad byte
_HEAD_BLOCK = 1 << 20  # bytes read to find the header and estimate the rows
_ARROW_BLOCK = 1 << 23  # bytes pyarrow parses at a time
_SNIFFED_DELIMITERS = ",;\t|"


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


def fold_case(name) -> str:
    """A name compared ignoring case and surrounding spaces."""
    return str(name if name is not None else "").strip().casefold()


def cell_text(value) -> str:
    """An XLSX cell as CSV/Parquet text: numbers as written, dates in ISO form."""
    import datetime as dt

    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def rebatch(batches, rows: int):
    """pyarrow record batches regrouped, without copying, as tables of exactly
    ``rows`` rows (the last fewer)."""
    parts, size = [], 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - size, batch.num_rows)
            parts.append(batch.slice(0, take))
            size += take
            batch = batch.slice(take)
            if size == rows:
                yield pa.Table.from_batches(parts)
                parts, size = [], 0
    if size:
        yield pa.Table.from_batches(parts)


@dataclass
class Chunk:
    """Consecutive input rows: a pyarrow table, the postcodes to look up, and for
    XLSX input the cells as read (so that an XLSX output keeps their types)."""

    table: pa.Table
    postcodes: object  # pyarrow string array, or a list of str | None
    cells: list | None = None


class InputFile:
    """An opened input: its header, Arrow schema, row count and chunks."""

    def __init__(self, path: Path, fmt: FileFormat, header: list[str], schema: pa.Schema, *, rows=None,
                 rows_estimate=None, bom: bool = False, sheet_title: str | None = None):
        self.path, self.fmt, self.header, self.schema = path, fmt, header, schema
        self.rows = rows  # exact, when known without reading the data
        self.rows_estimate = rows if rows is not None else rows_estimate
        self.bom = bom  # a CSV that starts with a UTF-8 BOM (the output keeps it)
        self.sheet_title = sheet_title

    @property
    def where(self) -> str:
        """The input as named in messages."""
        return self.path.name + (f" (sheet {self.sheet_title!r})" if self.sheet_title else "")

    def tables(self, rows: int):
        """The data as pyarrow tables of ``rows`` rows (the last fewer), in order."""
        raise NotImplementedError

    def chunks(self, rows: int, postcode_column: int):
        """:class:`Chunk` objects of ``rows`` rows with the postcodes of ``postcode_column``."""
        for table in self.tables(rows):
            postcodes = table.column(postcode_column)
            if not pa.types.is_string(postcodes.type):
                postcodes = postcodes.cast(pa.string())
            yield Chunk(table, postcodes.combine_chunks())

    def count_rows(self) -> int:
        """The exact number of data rows (may read the whole file)."""
        return self.rows

    def check_postcode_column(self, index: int) -> None:
        """Error if the column at ``index`` cannot hold postcodes."""


# ------------------------------------------------------------------ CSV


def codec_name(encoding: str | None) -> str:
    """Python's name for ``encoding`` (default UTF-8), or an error naming common ones."""
    if encoding is None:
        return "utf-8"
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"Unknown encoding {encoding!r}. Give a Python codec name, "
                         "e.g. utf-8, cp1252 or latin-1.") from None


def _is_utf8(codec: str) -> bool:
    return codec in ("utf-8", "utf-8-sig")


def _open_binary(path: Path, gz: bool):
    if gz:
        import gzip

        return gzip.open(path, "rb")
    return open(path, "rb")


class TextEncodingError(InputError):
    """A text file has a byte that its encoding cannot decode (the message says where)."""


def _decode_error(path: Path, codec: str, exc: UnicodeDecodeError, block: bytes, done: int, newlines: int,
                  encoding_option: str) -> TextEncodingError:
    at = done + max(exc.start, 0)
    line = newlines + block[: max(exc.start, 0)].count(b"\n") + 1
    bad = block[exc.start: exc.start + 1].hex() if 0 <= exc.start < len(block) else "end of file"
    if _is_utf8(codec):
        fix = ("It is probably in a Windows encoding (Excel's 'CSV' rather than 'CSV UTF-8'): "
               f"give it with {encoding_option} cp1252 (encoding='cp1252' in Python).")
    else:
        fix = f"Give the file's real encoding with {encoding_option} (e.g. utf-8, cp1252, latin-1)."
    return TextEncodingError(f"{path.name} is not valid {codec} text: byte 0x{bad} at line {line} (byte {at:,}). {fix}")


def _scan_text(path: Path, gz: bool, codec: str, encoding_option: str) -> None:
    """Decode the whole file with ``codec``, raising an :class:`InputError` naming the
    line of the first byte that does not decode. Only run when reading failed on
    the encoding, to say where: a file that decodes is read once, by pyarrow."""
    decoder = codecs.getincrementaldecoder("utf-8-sig" if _is_utf8(codec) else codec)()
    newlines = done = 0
    with _open_binary(path, gz) as f:
        while True:
            block = f.read(_SCAN_BLOCK)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                raise _decode_error(path, codec, exc, block, done, newlines, encoding_option) from None
            if not block:
                return
            newlines += block.count(b"\n")
            done += len(block)


@dataclass
class _Head:
    text: str  # the decoded text of the start of the file, where the header is
    bom: bool
    rows_estimate: int | None  # from the length of its lines and the file's size; None for gzip


def _read_head(path: Path, gz: bool, codec: str, encoding_option: str) -> _Head:
    """Decode the start of the file (at least its first line): the header, whether it
    has a BOM, and an estimate of its rows. A bad byte there is reported at once."""
    decoder = codecs.getincrementaldecoder("utf-8-sig" if _is_utf8(codec) else codec)()
    raw = b""
    try:
        with _open_binary(path, gz) as f:
            while True:
                block = f.read(_HEAD_BLOCK)
                raw += block
                if not block or b"\n" in raw:
                    break
            end = not block or len(block) < _HEAD_BLOCK and not f.read(1)
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc}. Check the file is a readable"
                         f"{' gzip-compressed' if gz else ''} text file.") from None
    try:
        text = decoder.decode(raw, final=end)
    except UnicodeDecodeError as exc:
        raise _decode_error(path, codec, exc, raw, 0, 0, encoding_option) from None
    lines = raw.count(b"\n")
    if end:
        estimate = lines + (0 if raw.endswith(b"\n") else 1) - 1
    elif gz or not lines:
        estimate = None
    else:
        estimate = int(path.stat().st_size * lines / len(raw)) - 1
    return _Head(text, raw.startswith(UTF8_BOM), None if estimate is None else max(estimate, 0))


def _comment_lines(text: str) -> int:
    """How many lines at the start of ``text`` are ``#`` comments."""
    count = pos = 0
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        if not text[pos:end].lstrip().startswith("#"):
            break
        count += 1
        pos = end + 1
    return count


class CsvInput(InputFile):
    """A delimited text file, read as text with pyarrow (once, in parallel blocks),
    every column a string.

    Only the start is decoded before the work (the header, a first check of the
    encoding); a byte further on that does not decode stops the reading with the
    line it is on, before any output is published."""

    def __init__(self, path: Path, fmt: FileFormat, *, encoding=None, encoding_option="--encoding",
                 skip_comments=False, sniff_delimiter=False, **_):
        self.codec = codec_name(encoding)
        self.encoding_option = encoding_option
        head = _read_head(path, fmt.gzip, self.codec, encoding_option)
        self.skip_rows = _comment_lines(head.text) if skip_comments else 0
        text = head.text.split("\n", self.skip_rows)[-1] if self.skip_rows else head.text
        self.delimiter = _sniff(text, fmt.delimiter) if sniff_delimiter else fmt.delimiter
        try:
            header = next(csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter), None)
        except csv.Error as exc:
            raise InputError(f"Cannot read the header of {path}: {exc}.") from None
        if not header:
            raise InputError(f"{path} is empty: it needs a header row naming its columns, then one row per postcode.")
        estimate = None if head.rows_estimate is None else max(head.rows_estimate - self.skip_rows, 0)
        super().__init__(path, fmt, header, None, rows_estimate=estimate, bom=head.bom)
        self._reader = self._open_reader()
        if self._reader.schema.names != header:  # pragma: no cover - a header both parsers read
            raise InputError(f"Cannot read the header of {path.name} consistently ({self._reader.schema.names} "
                             f"vs {header}). Check its quoting.")
        self.schema = self._reader.schema

    def _open_reader(self, include=None):
        import pyarrow.csv as pacsv

        read = pacsv.ReadOptions(block_size=_ARROW_BLOCK, use_threads=True, skip_rows=self.skip_rows,
                                 encoding="utf8" if _is_utf8(self.codec) else self.codec)
        parse = pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True,
                                   ignore_empty_lines=len(self.header) > 1)
        convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in self.header},
                                       strings_can_be_null=False, include_columns=include)
        try:
            return pacsv.open_csv(self.path, read_options=read, parse_options=parse, convert_options=convert)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise self._arrow_error(exc) from None

    def _arrow_error(self, exc) -> InputError:
        msg = str(exc).strip()
        if isinstance(exc, UnicodeDecodeError) or "UTF8" in msg or "decode" in msg:
            _scan_text(self.path, self.fmt.gzip, self.codec, self.encoding_option)  # raises, naming the line
        if "Expected" in msg and "columns" in msg:
            return InputError(f"{self.path.name} is not a regular table: {msg}. Every row needs as many fields as the "
                              f"header has columns ({len(self.header)}); check for unquoted delimiters or stray quotes.")
        return InputError(f"Cannot read {self.path.name}: {msg}.")

    def tables(self, rows: int):
        reader, self._reader = self._reader or self._open_reader(), None  # the open reader serves the first pass
        parts = rebatch(reader, rows)
        while True:
            try:
                table = next(parts)
            except StopIteration:
                return
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise self._arrow_error(exc) from None
            yield table

    def count_rows(self) -> int:
        try:
            return sum(b.num_rows for b in self._open_reader(include=[self.header[0]]))
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise self._arrow_error(exc) from None


def _sniff(head: str, default: str) -> str:
    """The delimiter of the header line (``,``, ``;``, tab or ``|``), else ``default``."""
    line = head.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(line, delimiters=_SNIFFED_DELIMITERS).delimiter
    except csv.Error:
        return default


# ------------------------------------------------------------------ Parquet


class ParquetInput(InputFile):
    """A Parquet file: columns keep their types; read a row group at a time."""

    def __init__(self, path: Path, fmt: FileFormat, **_):
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"Cannot read {path} as Parquet: {exc}. Check it is a Parquet file.") from None
        schema = self._file.schema_arrow
        super().__init__(path, fmt, list(schema.names), schema, rows=self._file.metadata.num_rows)

    def tables(self, rows: int):
        yield from rebatch(self._file.iter_batches(batch_size=rows, use_threads=True), rows)

    def check_postcode_column(self, index: int) -> None:
        kind = self.schema.field(index).type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)
                or getattr(pa.types, "is_string_view", lambda _: False)(kind)):
            raise InputError(f"The column {self.header[index]!r} of {self.path.name} holds {kind}, not text. "
                             "Postcodes are text; choose the column that holds them with --column NAME.")


# ------------------------------------------------------------------ XLSX


class XlsxInput(InputFile):
    """One sheet of an XLSX workbook, read whole (openpyxl); cells keep their
    values in :attr:`Chunk.cells` and are text in the tables."""

    def __init__(self, path: Path, fmt: FileFormat, *, sheet=None, **_):
        header, self.cells, title = _read_sheet(path, sheet)
        schema = pa.schema([pa.field(name, pa.string()) for name in header])
        super().__init__(path, fmt, header, schema, rows=len(self.cells), sheet_title=title)

    def _table(self, cells: list) -> pa.Table:
        columns = [pa.array([cell_text(row[i]) for row in cells], pa.string()) for i in range(len(self.header))]
        return pa.Table.from_arrays(columns, schema=self.schema)

    def tables(self, rows: int):
        for start in range(0, len(self.cells), rows):
            yield self._table(self.cells[start: start + rows])

    def chunks(self, rows: int, postcode_column: int):
        for start in range(0, len(self.cells), rows):
            cells = self.cells[start: start + rows]
            postcodes = [None if row[postcode_column] is None else cell_text(row[postcode_column]) for row in cells]
            yield Chunk(self._table(cells), postcodes, cells)


def _read_sheet(path: Path, sheet) -> tuple[list[str], list[list], str]:
    """(header, rows of cells as wide as the header, sheet title) of one sheet."""
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as exc:
        raise InputError(f"Cannot read {path} as an XLSX workbook ({exc}). Save it from Excel as .xlsx, or as CSV.") from None
    try:
        ws = _choose_sheet(workbook, sheet, path)
        if hasattr(ws, "reset_dimensions"):  # some writers record wrong dimensions
            ws.reset_dimensions()
        rows = ws.iter_rows(values_only=True)
        header = list(next(rows, None) or [])
        while header and header[-1] is None:
            header.pop()
        if not header:
            raise InputError(f"The sheet {ws.title!r} of {path.name} is empty: it needs a header row naming its "
                             "columns, then one row per postcode.")
        cells = [_fit_row(list(row), len(header), number, ws.title) for number, row in enumerate(rows, start=2)]
        while cells and all(v is None for v in cells[-1]):  # formatting below the table, not rows
            cells.pop()
        title = ws.title
    finally:
        workbook.close()
    return ["" if h is None else (h if isinstance(h, str) else str(h)) for h in header], cells, title


def _choose_sheet(workbook, sheet, path: Path):
    if sheet is None:
        return workbook.worksheets[0]
    names = workbook.sheetnames
    hit = [n for n in names if n == str(sheet)] or [n for n in names if fold_case(n) == fold_case(sheet)]
    if len(hit) != 1:
        raise ChoiceError("sheet", sheet, names, f"in {path.name}")
    return workbook[hit[0]]


def _fit_row(row: list, width: int, number: int, title: str) -> list:
    """A sheet row cut or padded to the header's width; a value beyond it is an error."""
    if len(row) > width:
        extra = [i for i, v in enumerate(row[width:]) if v is not None]
        if extra:
            from openpyxl.utils import get_column_letter

            raise InputError(f"Row {number} of sheet {title!r} has a value in column {get_column_letter(width + extra[0] + 1)}, "
                             "which has no header. Give that column a heading (or delete the stray cell).")
        return row[:width]
    return row + [None] * (width - len(row))


# ------------------------------------------------------------------ opening

#: The reader of each kind of file.
READERS = {"csv": CsvInput, "parquet": ParquetInput, "xlsx": XlsxInput}


def open_input(path, *, encoding=None, sheet=None, fmt: FileFormat | None = None, encoding_option: str = "--encoding",
               skip_comments: bool = False, sniff_delimiter: bool = False) -> InputFile:
    """Open ``path`` with the reader of its format; its header is read and
    checked, and a text file's encoding checked, before this returns.

    ``encoding`` is for text files (default UTF-8, with or without BOM);
    ``encoding_option`` is how messages name the way to give it (a CLI flag).
    ``sheet`` picks an XLSX sheet (default the first). ``fmt`` overrides the
    format the name says. ``skip_comments`` skips leading ``#`` lines of a
    text file; ``sniff_delimiter`` takes the delimiter from its header line.
    """
    path = Path(path)
    fmt = fmt or file_format(path, "input")
    if encoding is not None and fmt.kind != "csv":
        raise InputError(f"{encoding_option} is for CSV input; {path.name} is {fmt.kind.upper()}, "
                         "which records its own encoding.")
    return READERS[fmt.kind](path, fmt, encoding=encoding, sheet=sheet, encoding_option=encoding_option,
                             skip_comments=skip_comments, sniff_delimiter=sniff_delimiter)


def open_figures(path, *, encoding=None, sheet=None, encoding_option: str = "--encoding") -> InputFile:
    """Open a table of figures to map: CSV (also with no extension) or XLSX
    (also .xlsm) by its name; a text file's leading ``#`` comment lines (as in
    stpmap's own CSV output) are skipped and, but for .tsv, its delimiter is
    taken from the header line."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in ("", ".xlsm"):
        fmt = FileFormat("csv", ",") if suffix == "" else FileFormat("xlsx")
    else:
        try:
            fmt = file_format(path)
        except InputError:
            fmt = None
        if fmt is None or fmt.kind == "parquet":
            raise InputError(f"Data file {path}: cannot read {suffix!r} files. Save it as CSV or XLSX.")
    sniff = fmt.kind == "csv" and not fmt.suffix.startswith(".tsv")
    return open_input(path, encoding=encoding, sheet=sheet, fmt=fmt, encoding_option=encoding_option,
                      skip_comments=True, sniff_delimiter=sniff)


def read_table(path, sheet=None, *, encoding=None, encoding_option: str = "--encoding"):
    """Read a CSV (leading ``#`` comment lines skipped, as in stpmap's own CSV
    output; the delimiter taken from the header line) or an XLSX workbook as
    text columns, empty cells missing.

    Text is UTF-8 (with or without BOM) unless ``encoding`` says otherwise
    (e.g. "cp1252"); ``encoding_option`` is how the error for a file that does
    not decode names the way to give it (the CLI flag). Raises
    :class:`InputError` naming the file and the problem.
    """
    import pyarrow.compute as pc

    path = Path(path)
    if not path.exists():
        raise InputError(f"Data file {path} does not exist. Give the path of a CSV or XLSX file.")
    source = open_figures(path, encoding=encoding, sheet=sheet, encoding_option=encoding_option)
    table = pa.concat_tables([source.schema.empty_table(), *source.tables(1 << 20)])
    missing = pa.scalar(None, pa.string())
    columns = [pc.if_else(pc.equal(c, ""), missing, c) for c in table.columns]  # empty cells are missing
    df = pa.Table.from_arrays(columns, names=table.column_names).to_pandas()
    if df.empty or len(df.columns) == 0:
        raise InputError(f"Data file {path} has no rows. It needs a header row and one row per area.")
    df.columns = [str(c).strip() for c in df.columns]
    return df
