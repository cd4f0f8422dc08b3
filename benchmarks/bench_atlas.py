"""Atlas benchmarks (issue: geodata pipeline).

* build of the 2017 atlas from the mirror (``stpmap data build``, fresh process, empty cache)
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

# the installed console script, as a user runs it
STPMAP = [shutil.which("stpmap")] if shutil.which("stpmap") else [sys.executable, "-m", "stpmap.cli"]


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = environment(cache)
        build = wall(STPMAP + ["data", "build", "--vintage", "2017"], env)[0]
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
    report(
        "atlas",
        {
            "build_2017_from_mirror_s": {"value": build, "unit": "s", "target": 20.0,
                                         "command": "stpmap data build --vintage 2017 (fresh process, empty cache)"},
            "load_all_2017_layers_s": {"value": median(loads), "unit": "s", "target": 0.3,
                                       "command": "stpmap.data.atlas.layer(name) for the 9 layers, median of 5 fresh processes"},
            "footprints_csv_cold_s": {"value": median(csv), "unit": "s", "target": 1.5,
                                      "command": "stpmap footprints --format csv, median of 7 fresh processes",
                                      "runs": csv},
        },
    )


if __name__ == "__main__":
    main()
