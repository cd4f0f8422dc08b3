"""Atlas benchmarks (issue: geodata pipeline).

* build of each vintage's atlas, 2017 to 2022, from the mirror (``stpmap data
  build --vintage V``, fresh process, empty atlas cache; the source files
  found in the mirror); target ≤ 15 s each
* loading every 2017 layer from the cache (in process, after import)
* ``stpmap footprints --format csv`` from a cold start (fresh process)

Run: ``python benchmarks/bench_atlas.py`` (uses STPMAP_MIRROR or ../shared/geodata-src;
builds into a temporary cache, never the user's).
"""

from __future__ import annotations

import shutil
import sys
import tempfile

from _common import environment, median, report, wall

#: Every vintage stpmap knows, each built in turn.
VINTAGES = (2017, 2018, 2019, 2020, 2021, 2022)
# the installed console script, as a user runs it
STPMAP = [shutil.which("stpmap")] if shutil.which("stpmap") else [sys.executable, "-m", "stpmap.cli"]


def as_built(vintage: int, cache: str) -> dict:
    """What the build of ``vintage`` in ``cache`` holds: features per layer,
    England's population, and the April 2017 CCGs it had to split."""
    import os

    from stpmap.data import atlas

    os.environ["STPMAP_CACHE"] = cache
    m = atlas.manifest(vintage)
    population = int(atlas.table("stp", vintage, columns=["population"])["population"].sum())
    return {"layers": {k: n for k, n in m["layers"].items() if k in ("stp", "ccg", "lad", "region", "nhs_region")},
            "england_population": population,
            "split_ccgs": [(a["ccg_2017"], a["drawn_with"], a["moved"]["lsoas"], a["moved"]["population"])
                           for a in m["approximations"]]}


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = environment(cache)
        builds = {v: wall(STPMAP + ["data", "build", "--vintage", str(v)], env)[0] for v in VINTAGES}
        built = {v: as_built(v, cache) for v in VINTAGES}
        load_code = (
            "import time, stpmap.data.atlas as a, geopandas;"
            "names = a.available_layers(2017); a._read.cache_clear();"
            "t = time.perf_counter(); [a.layer(n, 2017) for n in names];"
            "print(time.perf_counter() - t)"
        )
        import subprocess

        loads = [
            float(subprocess.run([sys.executable, "-c", load_code], env=env, check=True, capture_output=True, text=True).stdout)
            for _ in range(5)
        ]
        csv = wall(STPMAP + ["footprints", "--format", "csv"], env, repeat=7)
    figures = {
        f"build_{v}_from_mirror_s": {"value": seconds, "unit": "s", "target": 15.0,
                                     "command": f"stpmap data build --vintage {v} (fresh process, empty atlas cache)",
                                     "built": built[v]}
        for v, seconds in builds.items()
    }
    report(
        "atlas",
        {
            **figures,
            "load_all_2017_layers_s": {"value": median(loads), "unit": "s", "target": 0.3,
                                       "command": "stpmap.data.atlas.layer(name) for every 2017 layer, median of 5 fresh processes"},
            "footprints_csv_cold_s": {"value": median(csv), "unit": "s", "target": 1.5,
                                      "command": "stpmap footprints --format csv, median of 7 fresh processes",
                                      "runs": csv},
        },
    )


if __name__ == "__main__":
    main()
