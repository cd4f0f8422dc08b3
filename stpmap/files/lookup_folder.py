"""Looking up the postcodes of a folder of files with dask: many Parquet or CSV
files in, a folder of Parquet files out, one output file per input file.

Each file is one dask task running the same lookup as a single file
(:func:`stpmap.files.lookup_file.lookup_file`: pyarrow readers, the shared
kernel of :mod:`stpmap.files.kernel`, Parquet written chunk by chunk), so the
folder's results are the file lookup's, column for column, and a file of any
size runs in bounded memory on its worker. Every file's header is checked (the
postcode column, name clashes, the same columns in every file) before any work,
and the postcode index is built (or loaded) once in the calling process before
the tasks run, so that workers, which inherit ``STPMAP_CACHE`` from the
environment, only load it from the cache. Works with any dask scheduler: the
default (threads), ``"processes"``, ``"synchronous"`` or a ``distributed.Client``.

>>> from stpmap.files.lookup_folder import lookup_folder
>>> from distributed import Client, LocalCluster                      # doctest: +SKIP
>>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
>>> s = lookup_folder("extracts/", "pcd", "extracts-stpmap/", prefix="stp_")  # doctest: +SKIP
>>> s["rows"], s["statuses"]["ok"]                                    # doctest: +SKIP
(52000000, 51120533)

CSV files are read with every column as text (``"007"`` stays ``"007"``,
``"NA"`` stays ``"NA"``), in UTF-8. Rows keep their order: the files are taken
in sorted order and ``part.N.parquet`` is the N-th file's rows, in order. The
Parquet files carry the licence attribution in their metadata
(``stpmap.attribution``, ``stpmap.vintage``).
"""

from __future__ import annotations

import glob
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from stpmap.errors import InputError
from stpmap.files import kernel
from stpmap.files.read import TextEncodingError, file_format, open_input


def _input_files(input) -> tuple[list[Path], str, str | None, str]:
    text = str(input)
    p = Path(text)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith((".", "_")))
        where = f"the folder {text!r}"
    elif any(ch in text for ch in "*?["):
        files = sorted(Path(f) for f in glob.glob(text) if Path(f).is_file())
        where = f"the pattern {text!r}"
    elif p.is_file():
        files, where = [p], repr(text)
    else:
        raise InputError(f"{text!r} is neither a folder, a file nor a glob pattern that exists. Check the path.")
    kinds = {}
    for f in files:
        try:
            fmt = file_format(f)
        except InputError:
            continue
        if fmt.kind in ("parquet", "csv"):
            kinds.setdefault((fmt.kind, fmt.delimiter), []).append(f)
    if not kinds:
        raise InputError(f"No Parquet or CSV files in {where}. The dask engine reads .parquet, .csv, .csv.gz, .tsv and .txt files.")
    if len(kinds) > 1:
        shown = ", ".join(f"{len(v)} {k[0]}" + (" (tab)" if k[1] == "\t" else "") for k, v in kinds.items())
        raise InputError(f"The input mixes file formats: {where} holds {shown}. Give a glob that picks one, "
                         "e.g. 'folder/*.parquet'.")
    (kind, delimiter), files = next(iter(kinds.items()))
    return files, kind, delimiter, where


def _output_folder(input, output, files: list[Path]) -> Path:
    """The output folder, checked: new or empty, and neither inside nor holding the input."""
    if output is None:
        given = Path(str(input))
        if not given.is_dir():
            raise InputError("Give the output folder with --output FOLDER (output=...) when the input is a glob or a file.")
        output = given.parent / f"{given.name}-stpmap"
    out = Path(output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"The output {str(out)!r} already exists and is not an empty folder. "
                         "Give a new folder name, or remove it first.")
    out_abs = out.resolve()
    inside = Path(str(input)).resolve() if Path(str(input)).is_dir() else None
    for home in {f.resolve().parent for f in files}:
        if out_abs == home or out_abs in home.parents or (inside is not None and inside in out_abs.parents):
            raise InputError(f"The output folder {str(out)!r} is inside, or holds, the input folder {str(home)!r}. "
                             "Give a folder outside the input, so that the input stays as it was.")
    if not out_abs.parent.exists():
        raise InputError(f"The folder {str(out.parent)!r} does not exist. Create it first or give another --output.")
    return out


@contextmanager
def _utf8_only(where: str):
    """A CSV file that does not decode: the dask engine reads UTF-8 only, and says so."""
    try:
        yield
    except TextEncodingError as exc:
        raise InputError(f"A CSV file of {where} is not UTF-8 text ({exc}). The dask engine reads UTF-8: convert "
                         "the files, or look each one up with --engine pandas --encoding cp1252.") from None


def _check_files(files: list[Path], column, prefix: str | None, fields, where: str) -> tuple[str, str]:
    """The postcode column's name, checked in every file's header before any work
    (present and text, the same columns in each file), and the prefix of the
    added names (:func:`kernel.result_prefix`)."""
    with _utf8_only(where):
        first = open_input(files[0])
    name = first.header[kernel.postcode_column(first.header, column, where)]
    prefix = kernel.result_prefix(first.header, prefix, where, fields)
    for f in files:
        with _utf8_only(where):
            source = first if f == files[0] else open_input(f)
        if source.header != first.header:
            raise InputError(f"{f.name} has other columns than {files[0].name} ({_shown(source.header)} vs "
                             f"{_shown(first.header)}). Every file of {where} needs the same columns.")
        source.check_postcode_column(source.header.index(name))
    return name, prefix


def _require_dask() -> None:
    """A clear error, naming the extra to install, when dask is missing."""
    import importlib

    try:
        importlib.import_module("dask")
    except ImportError as exc:
        raise InputError(f"The dask engine (--engine dask, lookup_folder) needs dask ({exc}). "
                         "Install it: pip install 'stpmap[dask]'") from None


def _shown(columns) -> str:
    return ", ".join(repr(c) for c in columns)


def _look_up_one(path: Path, column: str, target: Path, vintage: int, prefix: str, fields, where: str) -> dict:
    """One file looked up into ``target`` (runs on the workers): its rows and status counts."""
    from stpmap.files.lookup_file import lookup_file

    with _utf8_only(where):
        summary = lookup_file(path, column, target, vintage=vintage, prefix=prefix, progress=False, fields=fields)
    return {"rows": summary["rows"], "statuses": summary["statuses"]}


def _write_folder(files: list[Path], out: Path, column: str, vintage: int, prefix: str, fields, where: str,
                  scheduler) -> list[dict]:
    """Every file looked up as one dask task into a temporary folder, renamed to
    ``out`` at the end (removed if a task fails)."""
    import dask

    out_abs = out.resolve()
    tmp = out_abs.parent / f".{out_abs.name}.{os.getpid()}.stpmap-tmp"
    tmp.mkdir()
    try:
        tasks = [dask.delayed(_look_up_one, pure=False)(f, column, tmp / f"part.{i}.parquet", vintage, prefix, fields,
                                                        where) for i, f in enumerate(files)]
        done = dask.compute(*tasks, scheduler=scheduler)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return list(done)


def lookup_folder(input, column, output, *, vintage=None, prefix: str | None = None, scheduler=None,
                  fields=None) -> dict:
    """Look up the postcodes in ``column`` of every Parquet or CSV file of a folder
    (or glob) and write them, with the result columns added, as a folder of Parquet files.

    Parameters
    ----------
    input : a folder, a glob (``"data/2024-*.csv"``) or one file.
    column : the postcode column (exact, or the one matching ignoring case);
        ``None`` guesses the one header containing "postcode" or "pcd".
    output : a folder that does not exist yet (or is empty); written under a
        temporary name and renamed at the end.
    vintage : 2017 (default) to 2022.
    prefix : before the added column names. ``None`` (default): none, unless
        a name clashes with an input column; then ``stpmap_`` (said in a
        StpmapWarning). A prefix given (``""`` too) that still clashes is an error.
        The ``postcode`` result never echoes formula-like input (left empty).
    scheduler : passed to ``dask.compute``; ``None`` uses dask's default, or
        the active ``distributed.Client``.
    fields : the result columns to add, as for :func:`~stpmap.files.lookup_file.lookup_file`.

    Returns
    -------
    dict with ``input``, ``output``, ``files``, ``partitions`` (one per file),
    ``column``, ``prefix``, ``vintage``, ``fields``, ``rows``, ``statuses`` (a count for each
    status), ``seconds`` and ``attribution``.
    """
    started = time.perf_counter()
    from stpmap.data.registry import registry
    from stpmap.postcodes import lookup as _lookup

    _require_dask()
    files, _, _, where = _input_files(input)
    out = _output_folder(input, output, files)
    vintage = registry().check_vintage(vintage)
    fields = kernel.choose_fields(fields)
    column_name, prefix = _check_files(files, column, prefix, fields, where)

    _lookup.index(vintage)  # built here once: the workers load it from the cache
    done = _write_folder(files, out, column_name, vintage, prefix, fields, where, scheduler)
    statuses = {s: 0 for s in _lookup.STATUSES}
    for part in done:
        for s, n in part["statuses"].items():
            statuses[s] = statuses.get(s, 0) + n
    return {
        "input": str(input), "output": str(out), "format": "parquet", "files": len(files), "partitions": len(files),
        "column": str(column_name), "prefix": prefix, "vintage": vintage, "fields": list(fields), "rows": sum(p["rows"] for p in done),
        "statuses": statuses, "seconds": time.perf_counter() - started,
        "attribution": registry().attribution(postcodes=True),
    }
