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
from stpmap.files.lookup_file import check_collisions, file_format, guess_column, resolve_column, result_names, result_types, results_frame


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
    vintage : 2017 (default) or 2021.
    prefix : before the added column names, to avoid clashes (a clash is an error).
    scheduler : passed to ``dask.compute``; ``None`` uses dask's default, or
        the active ``distributed.Client``.

    Returns
    -------
    dict with ``input``, ``output``, ``files``, ``partitions``, ``column``,
    ``vintage``, ``rows``, ``statuses`` (a count for each status), ``seconds``
    and ``attribution``.
    """
    t0 = time.perf_counter()
    import dask
    import dask.dataframe as dd

    from stpmap.postcodes import lookup as _lookup
    from stpmap import settings as _settings
    from stpmap.data.registry import registry

    files, kind, delimiter, where = _input_files(input)
    if output is None:
        src = Path(str(input))
        if not src.is_dir():
            raise InputError("Give the output folder with --output FOLDER (output=...) when the input is a glob or a file.")
        output = src.parent / f"{src.name}-stpmap"
    out = Path(output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"The output {str(out)!r} already exists and is not an empty folder. "
                         "Give a new folder name, or remove it first.")
    out_abs = out.resolve()
    homes = {f.resolve().parent for f in files}
    inside = Path(str(input)).resolve() if Path(str(input)).is_dir() else None
    for home in homes:
        if out_abs == home or out_abs in home.parents or (inside is not None and inside in out_abs.parents):
            raise InputError(f"The output folder {str(out)!r} is inside, or holds, the input folder {str(home)!r}. "
                             "Give a folder outside the input, so that the input stays as it was.")
    if not out_abs.parent.exists():
        raise InputError(f"The folder {str(out.parent)!r} does not exist. Create it first or give another --output.")
    v = registry().check_vintage(vintage)
    prefix = "" if prefix is None else str(prefix)

    paths = [str(f) for f in files]
    try:
        if kind == "parquet":
            ddf = dd.read_parquet(paths)
        else:
            ddf = dd.read_csv(paths, dtype=str, keep_default_na=False, na_filter=False, blocksize=None,
                              sep=delimiter, encoding="utf-8", compression="infer")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read the files of {where}: {exc}.") from None
    columns = list(ddf.columns)
    col = columns[resolve_column(columns, column, where) if column is not None else guess_column(columns, where)]
    names = result_names(prefix)
    check_collisions(columns, names, where)
    dtype = ddf._meta[col].dtype
    if dtype.kind not in "OUS" and str(dtype) not in ("str", "string", "category"):
        raise InputError(f"The column {col!r} of {where} holds {dtype}, not text. Postcodes are text; "
                         "choose the column that holds them with --column NAME.")

    _lookup.index(v)  # built here once: the workers load it from the cache
    types = result_types(v)
    attribution = registry().attribution(postcodes=True)

    def part(pdf, col=col, v=v, types=types, prefix=prefix):
        import pandas as pd

        from stpmap.postcodes import lookup as _lookup

        res = _lookup.lookup_many(pdf[col].reset_index(drop=True), vintage=v)
        if len(res) != len(pdf):
            raise RuntimeError(f"lookup_many returned {len(res)} rows for {len(pdf)} postcodes")
        return pd.concat([pdf, results_frame(res, types, prefix, index=pdf.index)], axis=1)

    import pandas as pd

    meta_in = ddf._meta
    meta_res = results_frame(_lookup.lookup_many(["NG1 5DT"], vintage=v), types, prefix).iloc[:0]
    meta = pd.concat([meta_in, meta_res.set_axis(meta_in.index[:0])], axis=1)
    result = ddf.map_partitions(part, meta=meta)

    tmp = out_abs.parent / f".{out_abs.name}.{os.getpid()}.stpmap-tmp"
    status = f"{prefix}status"
    write = result.to_parquet(str(tmp), write_index=False, compute=False,
                              custom_metadata={b"stpmap.attribution": attribution.encode(),
                                               b"stpmap.vintage": str(v).encode(),
                                               b"stpmap.postcode_column": str(col).encode()})
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
    statuses = {s: 0 for s in _lookup.STATUSES}
    for s, n in counts.groupby(level=0).sum().items():
        statuses[str(s)] = statuses.get(str(s), 0) + int(n)
    return {
        "input": str(input), "output": str(out), "format": "parquet", "files": len(files),
        "partitions": result.npartitions, "column": str(col), "vintage": v, "rows": sum(statuses.values()),
        "statuses": statuses, "seconds": time.perf_counter() - t0, "attribution": attribution,
    }
