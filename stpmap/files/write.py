"""Writing looked-up tables: one writer per format (CSV, Parquet, XLSX), written
through a temporary file renamed at the end so that a failed run leaves nothing
half-written.

Every writer is made from the output's Arrow schema and the run's metadata
(``attribution``, ``vintage``, ``postcode column``, ``source``) and takes
:class:`~stpmap.files.read.Chunk` objects with the added result columns.
CSV is pyarrow's writer (every text cell quoted; a UTF-8 BOM kept if the input
had one); Parquet is zstd-compressed, keeps the result columns dictionary-encoded
and carries the metadata as ``stpmap.*`` keys; XLSX has an ``attribution``
sheet and document properties.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

from stpmap.errors import InputError
from stpmap.files.read import UTF8_BOM, FileFormat


@contextmanager
def replaced_at_end(target: Path):
    """A temporary path beside ``target``, renamed to it when the block succeeds
    and removed when it fails."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.stpmap-tmp")
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


class OutputFile:
    """A writer; used as a context manager, it is closed at the end of the block."""

    def __init__(self, path: Path, fmt: FileFormat, schema: pa.Schema, meta: dict, *, bom: bool = False,
                 sheet_title: str | None = None):
        raise NotImplementedError

    @classmethod
    def check_input(cls, schema: pa.Schema, where: str) -> None:
        """Error if this format cannot hold columns of ``schema``."""

    def write(self, chunk, results: list[pa.Array]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is None:
            self.close()
            return
        try:
            self.close()
        except Exception:  # the first error is the one to report
            pass


class CsvOutput(OutputFile):
    def __init__(self, path, fmt, schema, meta, *, bom=False, sheet_title=None):
        import pyarrow.csv as pacsv

        self.stream = pa.CompressedOutputStream(str(path), "gzip") if fmt.gzip else pa.OSFile(str(path), "wb")
        if bom:
            self.stream.write(UTF8_BOM)
        # pyarrow writes plain text faster than dictionaries: result columns are decoded first
        schema = pa.schema([f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema])
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
        self.writer.write_table(_output_table(chunk, results, self.schema))

    def close(self):
        self.writer.close()
        if not self.stream.closed:
            self.stream.close()


class ParquetOutput(OutputFile):
    def __init__(self, path, fmt, schema, meta, *, bom=False, sheet_title=None):
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


class XlsxOutput(OutputFile):
    """One sheet of data (input cells kept as they were when the input is XLSX)
    and an ``attribution`` sheet."""

    def __init__(self, path, fmt, schema, meta, *, bom=False, sheet_title=None):
        import openpyxl

        self.path = path
        self.workbook = openpyxl.Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(sheet_title or "lookup")
        self.sheet.append(list(schema.names))
        self.meta = meta
        self.row = 1

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
                self.sheet.append(list(cells) + list(values))
            except IllegalCharacterError:
                raise InputError(f"Row {self.row} holds a control character, which XLSX cannot store. "
                                 "Write CSV or Parquet instead (--output FILE.csv).") from None

    def close(self):
        about = self.workbook.create_sheet("attribution" if self.sheet.title != "attribution" else "stpmap attribution")
        for key, value in self.meta.items():
            about.append([key, value])
        self.workbook.properties.creator = "stpmap"
        self.workbook.properties.description = self.meta["attribution"]
        self.workbook.properties.subject = f"STP footprint lookup, vintage {self.meta['vintage']}"
        self.workbook.save(str(self.path))


#: The writer of each kind of file.
WRITERS = {"csv": CsvOutput, "parquet": ParquetOutput, "xlsx": XlsxOutput}


def open_output(path: Path, fmt: FileFormat, schema: pa.Schema, meta: dict, *, bom: bool = False,
                sheet_title: str | None = None) -> OutputFile:
    """The writer of ``fmt`` writing ``path``."""
    return WRITERS[fmt.kind](path, fmt, schema, meta, bom=bom, sheet_title=sheet_title)
