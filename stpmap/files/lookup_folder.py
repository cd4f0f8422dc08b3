"""Looking up the postcodes of a folder of files with dask: many Parquet or CSV
files in, a folder of Parquet files out, one output file per input partition.

The postcode index is built (or loaded) once in the calling process before the
graph runs, so that workers, which inherit ``STPMAP_CACHE`` from the
environment, only load it from the cache. Works with any dask scheduler:
the default (threads), ``"processes"``, ``"synchronous"`` or a
``distributed.Client``.

>>> from stpmap.files.lookup_folder import lookup_folder
>>> from distributed import Client, LocalCluster                      # doctest: +SKIP
>>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
>>> s = lookup_folder("extracts/", "pcd", "extracts-stpmap/", prefix="stp_")  # doctest: +SKIP
>>> s["rows"], s["statuses"]["ok"]                                    # doctest: +SKIP
(52000000, 51120533)

CSV files are read with every column as text (``"007"`` stays ``"007"``,
``"NA"`` stays ``"NA"``), one partition per file (a file is never split, so
quoted line breaks are safe). Rows keep their order: partitions follow the
sorted file names, and output ``part.N.parquet`` files follow the partitions.
The Parquet files carry the licence attribution in their metadata
(``stpmap.attribution``, ``stpmap.vintage``).
"""

from __future__ import annotations

import glob
import os
import shutil
import time
from pathlib import Path

from stpmap.errors import InputError
from stpmap.files import kernel
from stpmap.files.read import file_format


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
        raise InputError(f"{where[0].upper()}{where[1:]} mixes file formats ({shown}). Give a glob that picks one, e.g. 'folder/*.parquet'.")
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


def _read_frames(files: list[Path], kind: str, delimiter: str | None, where: str):
    """The files as one dask DataFrame, a partition per file; CSV cells as text."""
    import dask.dataframe as dd

    paths = [str(f) for f in files]
    try:
        if kind == "parquet":
            return dd.read_parquet(paths)
        return dd.read_csv(paths, dtype=str, keep_default_na=False, na_filter=False, blocksize=None,
                           sep=delimiter, encoding="utf-8", compression="infer")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read the files of {where}: {exc}.") from None


def _postcode_column_name(frames, column, prefix: str, where: str) -> str:
    """The postcode column, checked to hold text, and no clash with the added names."""
    columns = list(frames.columns)
    name = columns[kernel.postcode_column(columns, column, where)]
    kernel.check_collisions(columns, kernel.result_names(prefix), where)
    dtype = frames._meta[name].dtype
    if dtype.kind not in "OUS" and str(dtype) not in ("str", "string", "category"):
        raise InputError(f"The column {name!r} of {where} holds {dtype}, not text. Postcodes are text; "
                         "choose the column that holds them with --column NAME.")
    return name


def _look_up_partition(partition, column: str, vintage: int, prefix: str):
    """One partition with the result columns added (runs on the workers)."""
    import pandas as pd

    frame = kernel.lookup_frame(partition[column].reset_index(drop=True), vintage)
    return pd.concat([partition, kernel.results_frame(frame, prefix, index=partition.index)], axis=1)


def _with_results(frames, column: str, vintage: int, prefix: str):
    """The lazy frame with the result columns added, its dtypes declared."""
    import pandas as pd

    meta_in = frames._meta
    meta = pd.concat([meta_in, kernel.empty_results_frame(prefix).set_axis(meta_in.index[:0])], axis=1)
    return frames.map_partitions(_look_up_partition, column=column, vintage=vintage, prefix=prefix, meta=meta)


def _write_folder(result, out: Path, status: str, custom_metadata: dict, where: str, scheduler):
    """Write the partitions as Parquet under a temporary name renamed at the end;
    return the status counts of every partition."""
    import dask
    import pandas as pd

    out_abs = out.resolve()
    tmp = out_abs.parent / f".{out_abs.name}.{os.getpid()}.stpmap-tmp"
    write = result.to_parquet(str(tmp), write_index=False, compute=False, custom_metadata=custom_metadata)
    # per-partition counts summed here: no shuffle, so any scheduler will do
    counts_graph = result[status].map_partitions(lambda s: s.astype(object).value_counts(dropna=False),
                                                 meta=pd.Series(dtype="int64", name="count"))
    try:
        try:
            _, counts = dask.compute(write, counts_graph, scheduler=scheduler)
        except UnicodeDecodeError as exc:
            raise InputError(f"A CSV file of {where} is not UTF-8 text ({exc}). The dask engine reads UTF-8: convert "
                             "the files, or look each one up with --engine pandas --encoding cp1252.") from None
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts


def lookup_folder(input, column, output, *, vintage=None, prefix: str = "", scheduler=None) -> dict:
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
    prefix : before the added column names, to avoid clashes (a clash is an error).
    scheduler : passed to ``dask.compute``; ``None`` uses dask's default, or
        the active ``distributed.Client``.

    Returns
    -------
    dict with ``input``, ``output``, ``files``, ``partitions``, ``column``,
    ``vintage``, ``rows``, ``statuses`` (a count for each status), ``seconds``
    and ``attribution``.
    """
    started = time.perf_counter()
    from stpmap.data.registry import registry
    from stpmap.postcodes import lookup as _lookup

    files, kind, delimiter, where = _input_files(input)
    out = _output_folder(input, output, files)
    vintage = registry().check_vintage(vintage)
    prefix = "" if prefix is None else str(prefix)
    frames = _read_frames(files, kind, delimiter, where)
    column_name = _postcode_column_name(frames, column, prefix, where)

    _lookup.index(vintage)  # built here once: the workers load it from the cache
    attribution = registry().attribution(postcodes=True)
    result = _with_results(frames, column_name, vintage, prefix)
    counts = _write_folder(result, out, f"{prefix}status", {b"stpmap.attribution": attribution.encode(),
                                                             b"stpmap.vintage": str(vintage).encode(),
                                                             b"stpmap.postcode_column": str(column_name).encode()},
                           where, scheduler)
    statuses = {s: 0 for s in _lookup.STATUSES}
    for s, n in counts.groupby(level=0).sum().items():
        statuses[str(s)] = statuses.get(str(s), 0) + int(n)
    return {
        "input": str(input), "output": str(out), "format": "parquet", "files": len(files),
        "partitions": result.npartitions, "column": str(column_name), "vintage": vintage,
        "rows": sum(statuses.values()), "statuses": statuses, "seconds": time.perf_counter() - started,
        "attribution": attribution,
    }
