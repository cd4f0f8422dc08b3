"""Looking up every postcode in a file: CSV, XLSX or Parquet in, any of them out.

Every input row is kept, in order, with its columns untouched: CSV cells are
read as text exactly as written (``"007"``, ``"01/02/2020"``, ``""`` and
``"NA"`` come back as they were), Parquet columns keep their types and XLSX
cells their values. The lookup result columns (the *fields*: by default
:data:`stpmap.files.kernel.DEFAULT_FIELDS`, or any keys of
:data:`stpmap.postcodes.lookup.RESULT_KEYS`), optionally with a prefix, are
added after the input's columns: compact, text from small tables
dictionary-encoded and ``message`` only where the status is not ``ok``. When
one of their names is already an input column's and no prefix is given, they
are all named with the prefix ``stpmap_`` (a :class:`~stpmap.errors.StpmapWarning`
says so), so that the input's columns keep their names. In a CSV of
one column a blank line is a row (an empty postcode, status ``invalid``); in
a CSV of several columns it is not a row, as in pandas.

CSV and Parquet are streamed in chunks (pyarrow, read once, in parallel
blocks) and written chunk by chunk in a background thread while the next chunk
is looked up, so a file of tens of millions of rows runs fast and in bounded
memory. XLSX is read and written whole by openpyxl: slow by nature (the
progress line says so for big files). Everything that
can be checked is checked before any work (the file, its format, the column,
name clashes, the fields, the vintage, the XLSX row limit, the encoding of the
file's start); the output is written to a temporary file renamed at the end,
so a failed run (a byte further on that does not decode, a ragged row) leaves
nothing half-written. The readers are in :mod:`stpmap.files.read`, the writers
in :mod:`stpmap.files.write` and the lookup of a chunk in :mod:`stpmap.files.kernel`.

>>> from stpmap.files.lookup_file import lookup_file
>>> summary = lookup_file("patients.csv", "postcode", prefix="stp_")  # doctest: +SKIP
>>> summary["output"], summary["statuses"]["ok"]                      # doctest: +SKIP
('patients-stpmap.csv', 9812)

Written CSV quotes every text cell (pyarrow's CSV writer); read it back with
any CSV reader, e.g. ``pandas.read_csv(path, dtype=str, keep_default_na=False)``.
CSV keeps the input's cells byte for byte, even text a spreadsheet would run
as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
return); ``escape_formulas=True`` puts a ``'`` before such text in every
column (OWASP's advice for CSV opened in spreadsheets). XLSX cells holding
text are always text cells, never formulas; text longer than the 32,767
characters of an XLSX cell is cut, with a warning naming the cells. The
``postcode`` result column never echoes formula-like input: such an invalid
postcode is left empty (its status stays ``invalid``).
CSV files carry no comment lines: the licence attribution is in the summary
(and printed by ``stpmap lookup``), in Parquet file metadata
(``stpmap.attribution``, ``stpmap.vintage``) and in an ``attribution`` sheet
and the document properties of XLSX files.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from stpmap.errors import InputError
from stpmap.files import kernel
from stpmap.files.read import FileFormat, InputFile, file_format, open_input
from stpmap.files.write import WRITERS, open_output, replaced_at_end

#: Most data rows one XLSX sheet holds (1,048,576 rows less the header).
XLSX_MAX_ROWS = 1_048_575
#: From this many rows, the progress line warns that XLSX is slow, with an estimate of the time.
XLSX_SLOW_ROWS = 50_000
XLSX_ROWS_PER_SECOND = 20_000  # openpyxl, reading or writing, roughly
#: Threads looking up chunks while the next is read and the last written (writing is the slower step).
LOOKUP_THREADS = 1


def default_output(path) -> Path:
    """``<input stem>-stpmap.<ext>`` beside the input.

    >>> default_output("data/patients.csv.gz").as_posix()
    'data/patients-stpmap.csv.gz'
    """
    path = Path(path)
    suffix = file_format(path).suffix
    stem_end = len(path.name) - len(suffix)
    return path.with_name(path.name[:stem_end] + "-stpmap" + path.name[stem_end:])


@dataclass
class _Plan:
    """A lookup checked and ready to run: the opened input and where the results go."""

    source: InputFile
    output: Path
    output_format: FileFormat
    column: int  # position of the postcode column
    prefix: str
    vintage: int
    chunk_rows: int
    fields: tuple[str, ...]
    attribution: str = ""
    escape_formulas: bool = False

    @property
    def column_name(self) -> str:
        return str(self.source.header[self.column])


# ------------------------------------------------------------------ checks, before any work


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _check_paths(input, output) -> tuple[Path, FileFormat, Path, FileFormat]:
    """The input (checked to be a file of a known format) and the output, with their formats."""
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
    return path, in_fmt, out, out_fmt


def _check_xlsx_rows(source: InputFile, out: Path) -> None:
    rows = source.rows if source.rows is not None else source.count_rows()  # an XLSX is slow to write anyway
    if rows > XLSX_MAX_ROWS:
        raise InputError(f"{source.path.name} has {rows:,} rows; an XLSX sheet holds at most {XLSX_MAX_ROWS:,}. "
                         f"Write CSV or Parquet instead (--output {out.name.rsplit('.', 1)[0]}.csv or .parquet).")


def _plan(input, column, output, *, vintage, prefix, chunk_rows, encoding, sheet, fields, escape_formulas=False) -> _Plan:
    """Everything that can be checked, checked: the paths, the options, the
    column, name clashes, the start of the encoding, the vintage and the XLSX row limit."""
    from stpmap.data.registry import registry

    path, in_fmt, out, out_fmt = _check_paths(input, output)
    if sheet is not None and in_fmt.kind != "xlsx":
        raise InputError(f"--sheet is for XLSX input; {path.name} is {in_fmt.kind.upper()}.")
    if int(chunk_rows) < 1:
        raise InputError(f"chunk_rows must be at least 1, not {chunk_rows}.")
    if escape_formulas and not WRITERS[out_fmt.kind].spreadsheet:
        raise InputError(f"--escape-formulas is for CSV and XLSX output; {out.name} is {out_fmt.kind.capitalize()}, whose "
                         "cells no spreadsheet runs as formulas. Leave the option out, or write .csv or .xlsx.")
    vintage = registry().check_vintage(vintage)
    fields = kernel.choose_fields(fields)
    source = open_input(path, encoding=encoding, sheet=sheet, fmt=in_fmt)
    position = kernel.postcode_column(source.header, column, source.where)
    prefix = kernel.result_prefix(source.header, prefix, source.where, fields)
    source.check_postcode_column(position)
    WRITERS[out_fmt.kind].check_input(source.schema, source.path.name)
    if out_fmt.kind == "xlsx":
        _check_xlsx_rows(source, out)
    return _Plan(source, out, out_fmt, position, prefix, vintage, int(chunk_rows), fields,
                 escape_formulas=bool(escape_formulas))


# ------------------------------------------------------------------ work


def _output_schema(source: InputFile, prefix: str, fields):
    """The input's fields (dictionaries as their values) and the result fields;
    the input's schema metadata is kept for the writer to use."""
    import pyarrow as pa

    columns = [f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in source.schema]
    return pa.schema(columns + kernel.result_fields(prefix, fields), metadata=source.schema.metadata)


def _progress_bar(progress, plan: _Plan):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm import tqdm

    source, name = plan.source, plan.source.path.name
    total = source.rows_estimate
    if "xlsx" in (source.fmt.kind, plan.output_format.kind) and (total or 0) >= XLSX_SLOW_ROWS:
        minutes = max(1, round(total / XLSX_ROWS_PER_SECOND / 60))
        name += f" (XLSX is slow by nature: about {minutes} min; CSV or Parquet takes seconds)"
    return tqdm(total=total, unit=" rows", unit_scale=True, file=sys.stderr, desc=name, leave=False)


class _Stage:
    """Runs ``work`` on each item put in, in ``workers`` background threads, at most
    ``depth`` items ahead, and hands the results to ``then`` in the order put in.
    Stages overlap reading, looking up and writing (pyarrow's readers and writers,
    its compute functions and NumPy let go of the GIL while they work)."""

    def __init__(self, work, then=None, *, workers: int = 1, depth: int = 2):
        from concurrent.futures import ThreadPoolExecutor

        self.work, self.then, self.depth, self.pending = work, then, depth, []
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stpmap")

    def put(self, *args) -> None:
        self.pending.append(self.pool.submit(self.work, *args))
        while len(self.pending) > self.depth:
            self._hand_on()

    def _hand_on(self) -> None:
        result = self.pending.pop(0).result()  # raises the work's error here
        if self.then is not None:
            self.then(result)

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        try:
            if kind is None:
                while self.pending:
                    self._hand_on()
        finally:
            for future in self.pending:
                future.cancel()
            self.pool.shutdown(wait=True)


def _look_up_and_write(plan: _Plan, progress) -> tuple[int, dict[str, int]]:
    """Look up every chunk and write it, in order: chunks are read in this thread,
    looked up in another and written in a third; return the rows done and the
    status counts."""
    from stpmap.postcodes import lookup as _lookup

    source = plan.source
    counts = {status: 0 for status in _lookup.STATUSES}
    meta = {"attribution": plan.attribution, "vintage": str(plan.vintage), "postcode column": plan.column_name,
            "source": source.path.name}
    done = [0]
    bar = _progress_bar(progress, plan)
    schema = _output_schema(source, plan.prefix, plan.fields)

    def look_up(chunk):
        found = kernel.look_up(chunk.postcodes, plan.vintage)
        return chunk, found.status_counts(), kernel.result_arrays(found, plan.fields)

    try:
        with replaced_at_end(plan.output) as tmp:
            with open_output(tmp, plan.output_format, schema, meta, bom=source.bom, sheet_title=source.sheet_title,
                             escape_formulas=plan.escape_formulas) as writer, _Stage(writer.write) as writes:

                def deliver(looked_up):
                    chunk, statuses, results = looked_up
                    for status, n in statuses.items():
                        counts[status] += n
                    writes.put(chunk, results)
                    done[0] += len(chunk.postcodes)
                    if bar is not None:
                        bar.update(len(chunk.postcodes))

                with _Stage(look_up, deliver, workers=LOOKUP_THREADS) as lookups:
                    for chunk in source.chunks(plan.chunk_rows, plan.column):
                        lookups.put(chunk)
    finally:
        if bar is not None:
            bar.close()
    return done[0], counts


def lookup_file(input, column=None, output=None, *, vintage=None, prefix: str | None = None, chunk_rows: int = 500_000,
                progress=None, encoding=None, sheet=None, escape_formulas: bool = False, fields=None) -> dict:
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
    vintage : 2017 (default) to 2022.
    prefix : put before the names of the added columns. ``None`` (default): no
        prefix, unless a name clashes with an input column; then ``stpmap_``
        (said in a StpmapWarning). A prefix given (``""`` too) that still
        clashes is an error.
    chunk_rows : rows looked up and written at a time (CSV and Parquet stream).
    progress : a progress bar on standard error; ``None``: when it is a terminal.
    encoding : of a CSV input (default UTF-8, with or without BOM), e.g. "cp1252".
    sheet : of an XLSX input (default the first).
    escape_formulas : CSV and XLSX output: put a ``'`` before text starting
        with ``=``, ``+``, ``-``, ``@``, tab or carriage return in every text
        column of a CSV (XLSX: mark such cells as Excel marks text typed after
        a ``'``, keeping the text as it is). Default: cells as they were.
    fields : the result columns to add: ``None`` for
        :data:`~stpmap.files.kernel.DEFAULT_FIELDS`, ``"all"`` for every key of
        ``RESULT_KEYS``, or their names (a list, or text separated by commas).

    Returns
    -------
    dict with ``input``, ``output``, ``format``, ``column``, ``prefix`` (of the
    added columns), ``vintage``, ``fields``, ``rows``, ``statuses`` (a count for
    each of ``_lookup.STATUSES``),
    ``seconds`` and ``attribution``.

    Examples
    --------
    >>> s = lookup_file("gp-list.xlsx", "Postcode", "gp-list.parquet", prefix="stp_")  # doctest: +SKIP
    >>> s["rows"], s["statuses"]["ok"], s["output"]                                    # doctest: +SKIP
    (7012, 6998, 'gp-list.parquet')
    """
    started = time.perf_counter()
    from stpmap.data.registry import registry
    from stpmap.postcodes import lookup as _lookup

    plan = _plan(input, column, output, vintage=vintage, prefix=prefix, chunk_rows=chunk_rows, encoding=encoding,
                 sheet=sheet, fields=fields, escape_formulas=escape_formulas)
    plan.attribution = registry().attribution(postcodes=True)
    _lookup.index(plan.vintage)
    rows, counts = _look_up_and_write(plan, progress)
    return {
        "input": str(Path(input)), "output": str(plan.output), "format": plan.output_format.kind,
        "column": plan.column_name, "prefix": plan.prefix, "vintage": plan.vintage, "fields": list(plan.fields),
        "rows": rows,
        "statuses": counts,
        "seconds": time.perf_counter() - started, "attribution": plan.attribution,
    }
