"""Writing looked-up tables: one writer per format (CSV, Parquet, XLSX), written
through a temporary file renamed at the end so that a failed run leaves nothing
half-written.

Every writer is made from the output's Arrow schema and the run's metadata
(``attribution``, ``vintage``, ``postcode column``, ``source``) and takes
:class:`~stpmap.files.read.Chunk` objects with the added result columns.
The temporary file is named ``.NAME.PID.stpmap-tmp`` after the process
writing it; one that a dead process left (killed, or the machine stopped) is
removed by the next write into the same folder, and SIGTERM (the default
``kill``) ends a write as an exception does, removing it at once.

CSV is pyarrow's writer (every text cell quoted; a UTF-8 BOM kept if the input
had one); Parquet is zstd-compressed, keeps the result columns dictionary-encoded
and carries the metadata as ``stpmap.*`` keys; XLSX has an ``attribution``
sheet and document properties.

Spreadsheet safety: an XLSX cell holding text is always a text cell, never a
formula (``=...``) nor an error code (``#N/A``), and text longer than an XLSX
cell holds is cut with a :class:`~stpmap.errors.StpmapWarning` naming the
cells. CSV keeps the input's cells as they were unless ``escape_formulas``
asks for OWASP's escape (a ``'`` before text starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return). stpmap's own ``postcode`` column never
echoes such text (:func:`stpmap.files.kernel.result_arrays` leaves such an
invalid postcode empty).
"""

from __future__ import annotations

import os
import re
import signal
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

from stpmap import _cache
from stpmap.errors import InputError, StpmapWarning
from stpmap.files.read import UTF8_BOM, FileFormat

#: First characters that make a spreadsheet read text as a formula (OWASP, "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: The same, as a regular expression character class (Python re and RE2 alike).
FORMULA_PATTERN = "[=+\\-@\t\r]"
#: Most characters an XLSX cell holds; longer text is cut to this.
XLSX_MAX_CHARS = 32_767
#: Rows named in a warning about cut cells, per column.
_ROWS_SHOWN = 5


#: The ending of temporary outputs: ``.NAME.PID.stpmap-tmp``.
TEMP_SUFFIX = ".stpmap-tmp"
_TEMP_NAME = re.compile(r"\..+\.(?P<pid>\d+)" + re.escape(TEMP_SUFFIX))


def temp_path(target: Path) -> Path:
    """The temporary name of an output being written by this process."""
    return target.with_name(f".{target.name}.{os.getpid()}{TEMP_SUFFIX}")


def remove_stale_temps(folder: Path) -> list[Path]:
    """Remove the temporary outputs (files or folders) that dead processes left
    in ``folder``; a running process's are kept (see :func:`stpmap._cache.remove_dead_temps`)."""
    return _cache.remove_dead_temps(Path(folder), _TEMP_NAME)


class Terminated(SystemExit):
    """SIGTERM arrived while an output was being written (exit status 143)."""


def _raise_terminated(signum, frame):
    raise Terminated(128 + signum)


@contextmanager
def _terminate_as_exit():
    """While the block runs (in the main thread, where SIGTERM has its default
    action), SIGTERM raises :class:`Terminated`, so that ``finally`` blocks
    run and remove temporary files instead of the process just ending."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def replaced_at_end(target: Path):
    """A temporary path beside ``target``, renamed to it when the block succeeds
    and removed when it fails (or SIGTERM arrives); the temporary outputs dead
    processes left beside it are removed first."""
    remove_stale_temps(target.parent)
    tmp = temp_path(target)
    with _terminate_as_exit():
        try:
            yield tmp
            os.replace(tmp, target)
        except BaseException:
            if tmp.exists():
                tmp.unlink()
            raise


def _output_table(chunk, results: list[pa.Array], schema: pa.Schema) -> pa.Table:
    """The chunk's columns as read (not copied; dictionaries decoded) and the result columns."""
    columns = [column if not pa.types.is_dictionary(column.type) else column.cast(column.type.value_type)
               for column in chunk.table.columns]
    return pa.Table.from_arrays(columns + results, schema=schema)


def formula_like(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` as a formula.

    >>> formula_like('=HYPERLINK("http://x")'), formula_like("-1"), formula_like("NG1 5DT")
    (True, True, False)
    """
    return text[:1] in FORMULA_START


def _text(array: pa.Array) -> pa.Array | None:
    """``array`` as pyarrow text the compute functions take, or None if it is not text."""
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return array
    if getattr(pa.types, "is_string_view", lambda _: False)(kind):
        return array.cast(pa.string())
    return None


def without_formulas(array: pa.Array) -> pa.Array:
    """``array`` (text) with its formula-like values made null."""
    import pyarrow.compute as pc

    array = array if _text(array) is array else array.cast(pa.string())
    risky = pc.fill_null(pc.match_substring_regex(array, "^" + FORMULA_PATTERN), False)
    return pc.if_else(risky, pa.scalar(None, array.type), array)


def with_formulas_escaped(array: pa.Array) -> pa.Array:
    """Text cells starting like a formula with a ``'`` put in front (OWASP);
    columns of other types as they are."""
    import pyarrow.compute as pc

    text = _text(array)
    if text is None:  # numbers, dates...: a spreadsheet never reads them as formulas
        return array
    escaped = pc.replace_substring_regex(text, pattern=f"^({FORMULA_PATTERN})", replacement="'\\1")
    return escaped.cast(array.type) if escaped.type != array.type else escaped


class OutputFile:
    """A writer; used as a context manager, it is closed at the end of the block,
    and what it has to say about the cells (:attr:`notes`) is then given as
    :class:`~stpmap.errors.StpmapWarning`."""

    #: Whether spreadsheets open this format, so that its text could be read as formulas.
    spreadsheet = True

    def __init__(self, path: Path, fmt: FileFormat, schema: pa.Schema, meta: dict, *, bom: bool = False,
                 sheet_title: str | None = None, escape_formulas: bool = False):
        raise NotImplementedError

    @classmethod
    def check_input(cls, schema: pa.Schema, where: str) -> None:
        """Error if this format cannot hold columns of ``schema``."""

    def write(self, chunk, results: list[pa.Array]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    @property
    def notes(self) -> list[str]:
        """What the user should know about the cells written (e.g. cut ones)."""
        return []

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is None:
            self.close()
            for note in self.notes:
                warnings.warn(note, StpmapWarning, stacklevel=4)  # the caller of lookup_file
            return
        try:
            self.close()
        except Exception:  # the first error is the one to report
            pass


class CsvOutput(OutputFile):
    def __init__(self, path, fmt, schema, meta, *, bom=False, sheet_title=None, escape_formulas=False):
        import pyarrow.csv as pacsv

        self.stream = pa.CompressedOutputStream(str(path), "gzip") if fmt.gzip else pa.OSFile(str(path), "wb")
        if bom:
            self.stream.write(UTF8_BOM)
        # pyarrow writes plain text faster than dictionaries: result columns are decoded first
        schema = pa.schema([f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema],
                           metadata=schema.metadata)
        self.escape = escape_formulas
        if escape_formulas:  # the header is a row of cells too
            schema = pa.schema([f.with_name("'" + f.name if formula_like(f.name) else f.name) for f in schema],
                               metadata=schema.metadata)
        self.schema = schema
        self.writer = pacsv.CSVWriter(self.stream, schema, write_options=pacsv.WriteOptions(delimiter=fmt.delimiter))

    @classmethod
    def check_input(cls, schema, where):
        for f in schema:
            t = f.type
            if pa.types.is_nested(t) or pa.types.is_dictionary(t) and pa.types.is_nested(t.value_type):
                raise InputError(f"The column {f.name!r} of {where} holds {t}, which CSV cannot hold. "
                                 "Write Parquet instead (--output FILE.parquet).")

    def write(self, chunk, results):
        results = [a.dictionary_decode() if pa.types.is_dictionary(a.type) else a for a in results]
        table = _output_table(chunk, results, self.schema)
        if self.escape:
            table = pa.Table.from_arrays([with_formulas_escaped(c) for c in table.columns], schema=self.schema)
        self.writer.write_table(table)

    def close(self):
        self.writer.close()
        if not self.stream.closed:
            self.stream.close()


class ParquetOutput(OutputFile):
    spreadsheet = False

    def __init__(self, path, fmt, schema, meta, *, bom=False, sheet_title=None, escape_formulas=False):
        import pyarrow.parquet as pq

        kept = dict(schema.metadata or {})
        kept.pop(b"pandas", None)  # it would not describe the added columns
        kept[b"stpmap.attribution"] = meta["attribution"].encode()
        kept[b"stpmap.vintage"] = meta["vintage"].encode()
        kept[b"stpmap.postcode_column"] = meta["postcode column"].encode()
        self.schema = schema.with_metadata(kept)
        # zstd: postcodes in input order compress to about 2/3 of what snappy gives, as fast.
        # No statistics for the dictionary-encoded result columns (the input's dictionaries are
        # decoded): every row group holds every value, so they would filter nothing, and they
        # cost more than writing the dictionaries.
        plain = [f.name for f in self.schema if not pa.types.is_dictionary(f.type)]
        self.writer = pq.ParquetWriter(str(path), self.schema, compression="zstd", compression_level=1,
                                       write_statistics=plain or False)

    def write(self, chunk, results):
        self.writer.write_table(_output_table(chunk, results, self.schema), row_group_size=max(chunk.table.num_rows, 1))

    def close(self):
        self.writer.close()


def xlsx_value(value):
    """A Python value (from Arrow) as openpyxl can store it."""
    import datetime as dt
    import decimal

    if value is None or isinstance(value, (str, bool, int, float, decimal.Decimal)):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.tzinfo is not None else value
    if isinstance(value, (dt.date, dt.time, dt.timedelta)):
        return value
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


#: First characters of text that openpyxl, left to itself, would not store as
#: text: formulas (``=``) and error codes (``#N/A``); and the rest of FORMULA_START,
#: which ``escape_formulas`` marks.
_XLSX_RISKY_START = frozenset(FORMULA_START) | {"#"}


def text_cell(sheet, text: str, *, quote_prefix: bool = False):
    """An openpyxl cell of ``sheet`` that holds ``text`` (cut to
    :data:`XLSX_MAX_CHARS`) as text, whatever it looks like; ``quote_prefix``
    also marks it as Excel marks text typed after a ``'``."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, text[:XLSX_MAX_CHARS])
    cell.data_type = "s"  # openpyxl would make "=..." a formula and "#N/A" an error
    if quote_prefix:
        cell.quotePrefix = True
    return cell


class XlsxOutput(OutputFile):
    """One sheet of data (input cells kept as they were when the input is XLSX)
    and an ``attribution`` sheet. Text is always stored as text."""

    def __init__(self, path, fmt, schema, meta, *, bom=False, sheet_title=None, escape_formulas=False):
        import openpyxl

        self.path = path
        self.escape = escape_formulas
        self.names = list(schema.names)
        self.cut: dict[int, list] = {}  # column -> [cells cut, first sheet rows]
        self.workbook = openpyxl.Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(sheet_title or "lookup")
        self.row = 1
        self.sheet.append(self._cells(list(self.names)))
        self.meta = meta

    def _cells(self, values: list) -> list:
        """A row's values, text that openpyxl would not store as text (or would
        cut) given as text cells; cut cells are counted."""
        for i, value in enumerate(values):
            if isinstance(value, str) and (value[:1] in _XLSX_RISKY_START or len(value) > XLSX_MAX_CHARS):
                if len(value) > XLSX_MAX_CHARS:
                    seen = self.cut.setdefault(i, [0, []])
                    seen[0] += 1
                    if len(seen[1]) < _ROWS_SHOWN:
                        seen[1].append(self.row)
                values[i] = text_cell(self.sheet, value, quote_prefix=self.escape and formula_like(value))
        return values

    def write(self, chunk, results):
        from openpyxl.utils.exceptions import IllegalCharacterError

        if chunk.cells is not None:
            base = chunk.cells
        else:
            columns = [[xlsx_value(v) for v in column.to_pylist()] for column in chunk.table.columns]
            base = list(zip(*columns)) if columns else [()] * chunk.table.num_rows
        added = zip(*(a.to_pylist() for a in results))
        for cells, values in zip(base, added):
            self.row += 1
            try:
                self.sheet.append(self._cells(list(cells) + list(values)))
            except IllegalCharacterError:
                raise InputError(f"Row {self.row} holds a control character, which XLSX cannot store. "
                                 "Write CSV or Parquet instead (--output FILE.csv).") from None

    @property
    def notes(self) -> list[str]:
        if not self.cut:
            return []
        total = sum(n for n, _ in self.cut.values())
        where = "; ".join(f"column {self.names[i]!r}: {n:,} cell{'s' if n > 1 else ''}, sheet row"
                          f"{'s' if n > 1 else ''} {', '.join(map(str, rows))}{', ...' if n > len(rows) else ''}"
                          for i, (n, rows) in sorted(self.cut.items()))
        return [f"{total:,} cell{'s were' if total > 1 else ' was'} longer than the {XLSX_MAX_CHARS:,} characters an "
                f"XLSX cell holds, and cut to that length ({where}). Write CSV or Parquet to keep them whole "
                "(--output FILE.csv)."]

    def close(self):
        about = self.workbook.create_sheet("attribution" if self.sheet.title != "attribution" else "stpmap attribution")
        for key, value in self.meta.items():
            about.append([key, text_cell(about, value) if isinstance(value, str) else value])
        self.workbook.properties.creator = "stpmap"
        self.workbook.properties.description = self.meta["attribution"]
        self.workbook.properties.subject = f"STP footprint lookup, vintage {self.meta['vintage']}"
        self.workbook.save(str(self.path))


#: The writer of each kind of file.
WRITERS = {"csv": CsvOutput, "parquet": ParquetOutput, "xlsx": XlsxOutput}


def open_output(path: Path, fmt: FileFormat, schema: pa.Schema, meta: dict, *, bom: bool = False,
                sheet_title: str | None = None, escape_formulas: bool = False) -> OutputFile:
    """The writer of ``fmt`` writing ``path``; ``escape_formulas`` (CSV and
    XLSX) marks text that a spreadsheet could read as a formula."""
    return WRITERS[fmt.kind](path, fmt, schema, meta, bom=bom, sheet_title=sheet_title,
                             escape_formulas=escape_formulas)
