"""Map benchmarks (issue: maps for reports).

* national static PNG as ``stpmap map -o n.png`` writes it (200 dpi), each
  time in a new process with a warm cache: wall-clock minimum and median of
  5, and the process's CPU time (user + system, less noisy on a shared
  machine), beside the anchor of 2.5 s and the load average
* national static PNG at 300 dpi: ``stpmap map --dpi 300`` in a fresh process
  (imports included), and ``stpmap.plot()`` + save in a warm process
* national HTML with the CCG overlay: ``stpmap map --format html --overlay ccg``
  in a fresh process, and ``stpmap.explore(overlay="ccg")`` + save in a warm
  process; the file's size (online and ``--offline``)
* both again in a warm process with no simplified layers cached (the first
  map after an atlas build)
* for comparison: ``geopandas.explore`` of the same two layers (footprints and
  CCGs, as stored in the atlas), its size and time

Run: ``python benchmarks/bench_maps.py`` (uses STPMAP_CACHE if set, else a
temporary cache built from STPMAP_MIRROR or ../shared/geodata-src).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import environment, median, report, wall


def _stpmap() -> list[str]:
    """The installed ``stpmap`` script of this interpreter, as a user runs it
    (not a version manager's shim, which adds its own start-up)."""
    script = Path(sys.executable).with_name("stpmap")
    return [str(script)] if script.exists() else [sys.executable, "-m", "stpmap.cli"]


STPMAP = _stpmap()
MB = 1024 * 1024
NEW_PROCESS_ANCHOR_S = 2.5  # the national PNG from a new CLI process


def wall_and_cpu(cmd: list[str], env: dict, repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (user + system) seconds of a command, each run in a new process."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus

WARM = r"""
import json, sys, time, tempfile, os
from pathlib import Path
import stpmap, geopandas, matplotlib, folium
from stpmap.data import atlas as _atlas
from stpmap.maps import prepare as _mapdata
from stpmap.maps.static import save as save_png
from stpmap.maps.html import save as save_html
out = Path(tempfile.mkdtemp())
stpmap.footprints(2017)  # the atlas is read once per process, as in any session
res = {}
def clear():
    _mapdata._simplified.cache_clear()
t = []
for i in range(3):
    clear(); s = time.perf_counter(); save_png(stpmap.plot(dpi=300), out / "n.png", dpi=300); t.append(time.perf_counter() - s)
res["png"] = t
t = []
for i in range(3):
    clear(); s = time.perf_counter(); save_html(stpmap.explore(overlay="ccg"), out / "n.html"); t.append(time.perf_counter() - s)
res["html"] = t
# the same with no simplified layers cached (first map after an atlas build)
real_from, real_to = _mapdata._from_disk, _mapdata._to_disk
_mapdata._from_disk = lambda *a: None
_mapdata._to_disk = lambda *a: None
clear(); s = time.perf_counter(); save_png(stpmap.plot(dpi=300), out / "c.png", dpi=300); res["png_nocache"] = time.perf_counter() - s
clear(); s = time.perf_counter(); save_html(stpmap.explore(overlay="ccg"), out / "c.html"); res["html_nocache"] = time.perf_counter() - s
_mapdata._from_disk, _mapdata._to_disk = real_from, real_to
res["png_bytes"] = (out / "n.png").stat().st_size
res["html_bytes"] = (out / "n.html").stat().st_size
save_html(stpmap.explore(overlay="ccg", offline=True), out / "o.html")
res["offline_bytes"] = (out / "o.html").stat().st_size
s = time.perf_counter()
stp, ccg = stpmap.footprints(2017), stpmap.ccgs(2017)
m = stp.explore(column="region", tooltip=["code", "name", "population", "region"], name="STP footprints")
ccg.explore(m=m, style_kwds={"fill": False, "color": "#425563", "weight": 0.8}, name="CCGs",
            tooltip=["code", "ods_code", "name", "population", "stp_name"])
folium.LayerControl().add_to(m)
m.save(out / "gpd.html")
res["gpd_s"] = time.perf_counter() - s
res["gpd_bytes"] = (out / "gpd.html").stat().st_size
print(json.dumps(res))
"""


def main() -> None:
    own_cache = not os.environ.get("STPMAP_CACHE")
    cache = tempfile.mkdtemp() if own_cache else os.environ["STPMAP_CACHE"]
    env = environment(cache)
    try:
        subprocess.run(STPMAP + ["data", "build", "--vintage", "2017"], env=env, check=True, stdout=subprocess.DEVNULL) \
            if own_cache else None
        with tempfile.TemporaryDirectory() as out:
            national = STPMAP + ["map", "-o", f"{out}/n.png"]
            subprocess.run(national, env=env, check=True, stdout=subprocess.DEVNULL)  # warm: simplified layers cached
            load = os.getloadavg()[0]
            png_new, png_cpu = wall_and_cpu(national, env, repeat=5)
            load = max(load, os.getloadavg()[0])
            png = wall(STPMAP + ["map", "--dpi", "300", "-o", f"{out}/n.png"], env, repeat=5)
            html = wall(STPMAP + ["map", "--format", "html", "--overlay", "ccg", "-o", f"{out}/n.html"], env, repeat=5)
            # how fast this machine is now: the libraries a static map needs, imported and nothing else
            imports = wall([sys.executable, "-c", "import geopandas, matplotlib.figure, matplotlib.backends.backend_agg"],
                           env, repeat=5)
            html_size = Path(f"{out}/n.html").stat().st_size
        import json

        warm = json.loads(subprocess.run([sys.executable, "-c", WARM], env=env, check=True, capture_output=True,
                                         text=True).stdout.strip().splitlines()[-1])
    finally:
        if own_cache:
            shutil.rmtree(cache, ignore_errors=True)
    new_process = "stpmap map -o n.png (200 dpi), a new process each time, warm cache, 5 runs"
    figures = {
        "national_png_new_process_median_s": {"value": median(png_new), "unit": "s", "target": NEW_PROCESS_ANCHOR_S,
                                              "runs": png_new, "command": new_process + ": median wall-clock"},
        "national_png_new_process_min_s": {"value": min(png_new), "unit": "s", "target": NEW_PROCESS_ANCHOR_S,
                                           "runs": png_new, "command": new_process + ": fastest wall-clock"},
        "national_png_new_process_cpu_s": {"value": median(png_cpu), "unit": "s", "target": NEW_PROCESS_ANCHOR_S,
                                           "runs": png_cpu, "command": new_process + ": median CPU time (user + system)"},
        "load_average_1min": {"value": load, "unit": "", "cpus": os.cpu_count(),
                              "command": "1-minute load average before/after the new-process runs (the higher)"},
        "national_png_300dpi_cli_s": {"value": median(png), "unit": "s", "target": 3.0, "runs": png,
                                      "command": "stpmap map --dpi 300 -o n.png (fresh process, imports included), median of 5"},
        "imports_geopandas_matplotlib_s": {"value": median(imports), "unit": "s", "runs": imports,
                                           "command": "python -c 'import geopandas, matplotlib.figure, "
                                                      "matplotlib.backends.backend_agg' (machine speed; median of 5)"},
        "national_png_300dpi_warm_s": {"value": median(warm["png"]), "unit": "s", "target": 3.0, "runs": warm["png"],
                                       "command": "stpmap.plot(dpi=300) + save(dpi=300) in a warm process, median of 3"},
        "national_png_300dpi_nocache_s": {"value": warm["png_nocache"], "unit": "s", "target": 3.0,
                                          "command": "as warm, but simplifying the layers afresh (no maps cache)"},
        "national_png_300dpi_size_mb": {"value": warm["png_bytes"] / MB, "unit": "MB"},
        "national_html_ccg_cli_s": {"value": median(html), "unit": "s", "target": 2.0, "runs": html,
                                    "command": "stpmap map --format html --overlay ccg -o n.html (fresh process), median of 5"},
        "national_html_ccg_warm_s": {"value": median(warm["html"]), "unit": "s", "target": 2.0, "runs": warm["html"],
                                     "command": "stpmap.explore(overlay='ccg') + save in a warm process, median of 3"},
        "national_html_ccg_nocache_s": {"value": warm["html_nocache"], "unit": "s", "target": 2.0,
                                        "command": "as warm, but simplifying the layers afresh (no maps cache)"},
        "national_html_ccg_size_mb": {"value": html_size / MB, "unit": "MB", "target": 1.5,
                                      "command": "size of n.html (OpenStreetMap basemap, Leaflet from its CDN)"},
        "national_html_ccg_offline_size_mb": {"value": warm["offline_bytes"] / MB, "unit": "MB", "target": 1.5,
                                              "command": "stpmap.explore(overlay='ccg', offline=True): Leaflet inlined"},
        "geopandas_explore_same_layers_size_mb": {"value": warm["gpd_bytes"] / MB, "unit": "MB",
                                                  "command": "GeoDataFrame.explore of the atlas's footprints + CCGs, saved"},
        "geopandas_explore_same_layers_s": {"value": warm["gpd_s"], "unit": "s",
                                            "command": "the same, warm process, one run"},
    }
    figures["size_ratio_geopandas_over_stpmap"] = {
        "value": warm["gpd_bytes"] / html_size, "unit": "x", "better": "higher",
        "command": "geopandas.explore size / stpmap HTML size, same two layers"}
    report("maps", figures)


if __name__ == "__main__":
    main()
