"""Hex cartogram benchmarks (issue 17: hex cartograms of the footprints).

For every vintage and layer (footprints, CCGs):

* recall: the share of pairs of areas that share a border (boundaries within
  50 m, point contacts included) which are hex neighbours in the generated layout
* hex neighbours that do not share a border
* the time to generate the layout (borders, centroids and the generator; no
  cache), wall clock and CPU seconds (the generator is single-threaded, so on
  a busy machine the CPU time is what it costs)

and, side by side, the recall of Open Innovations' hand-made ICB 2022 layout
(``odileeds-hexmaps/nhs-icb-2022.hexjson`` in the mirror) measured the same
way on the 2021 boundaries, its hexes mapped to the 2021 footprints by ODS
code (the key) or, failing that, STP21CD.

Run: ``python benchmarks/bench_hexes.py`` (uses STPMAP_CACHE if set, else a
temporary cache built from STPMAP_MIRROR or ../shared/geodata-src).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import DEFAULT_MIRROR, report

OI_LAYOUTS = {"oi_icb2022": "odileeds-hexmaps/nhs-icb-2022.hexjson",
              "oi_icb2022_richardi7": "odileeds-hexmaps/nhs-icb-2022-richardi7.hexjson"}
GOALS = {(2017, "stp"): 0.75}
SECONDS = {"stp": 5.0, "ccg": 60.0}  # aims: a few seconds per footprint layer, under a minute for CCGs


def generated(vintage: int, layer: str) -> dict:
    from stpmap.maps import hexes as HX
    from stpmap.maps import hexlayout as H

    gdf = HX.areas(vintage, layer)
    import scipy.optimize  # noqa: F401  (imported before the clock starts, as in a warm session)

    t, cpu = time.perf_counter(), time.process_time()
    cells, recall, npairs = HX._generate(gdf)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    pairs = HX.border_pairs(gdf.geometry.values)
    return {"areas": len(gdf), "pairs": npairs, "recall": recall, "seconds": seconds, "cpu": cpu,
            "false": H.false_neighbours(cells, pairs, HX.LAYOUT)}


def open_innovations(path: Path) -> dict:
    """Recall of a hand-made HexJSON layout of the 42 ICBs on the 2021 boundaries."""
    import stpmap
    from stpmap.maps import hexes as HX
    from stpmap.maps import hexlayout as H

    doc = json.loads(path.read_text())
    fp = stpmap.footprints(2021)
    by_ods = dict(zip(fp["ods_code"], fp["code"]))
    known = set(fp["code"])
    where, unmapped = {}, []
    for key, h in doc["hexes"].items():
        code = by_ods.get(key) or (h.get("STP21CD") if h.get("STP21CD") in known else None)
        if code is None:
            unmapped.append(key)
        else:
            where[code] = (int(h["q"]), int(h["r"]))
    pairs = HX.border_pairs(fp.geometry.values)
    codes = list(fp["code"])
    kept = [(a, b) for a, b in pairs if codes[a] in where and codes[b] in where]
    cells = {i: where[c] for i, c in enumerate(codes) if c in where}
    hits = sum(H.are_neighbours(cells[a], cells[b], doc["layout"]) for a, b in kept)
    return {"recall": hits / len(pairs), "hexes": len(doc["hexes"]), "unmapped": unmapped,
            "footprints_without_hex": sorted(known - set(where))}


def main() -> None:
    own_cache = not os.environ.get("STPMAP_CACHE")
    cache = tempfile.mkdtemp() if own_cache else os.environ["STPMAP_CACHE"]
    os.environ["STPMAP_CACHE"] = cache
    os.environ.setdefault("STPMAP_MIRROR", str(DEFAULT_MIRROR))
    mirror = Path(os.environ["STPMAP_MIRROR"])
    figures = {"load_average_1min": {"value": os.getloadavg()[0], "unit": "",
                                     "command": f"os.getloadavg() at the start, {os.cpu_count()} cpus (a busy machine runs slower)"}}
    try:
        from stpmap.data.registry import registry

        oi = {name: open_innovations(mirror / rel) for name, rel in OI_LAYOUTS.items() if (mirror / rel).exists()}
        for name, r in oi.items():
            figures[f"recall_{name}_on_2021"] = {
                "value": r["recall"], "unit": "", "better": "higher",
                "command": f"{OI_LAYOUTS[name]}: {r['hexes']} hexes, {len(r['unmapped'])} not mapped to a 2021 footprint"
                           f" {r['unmapped']}, footprints without a hex {r['footprints_without_hex']}"}
        for vintage in registry().vintages:
            for layer in ("stp", "ccg"):
                g = generated(vintage, layer)
                target = GOALS.get((vintage, layer))
                if (vintage, layer) == (2021, "stp") and "oi_icb2022" in oi:
                    target = round(oi["oi_icb2022"]["recall"], 3)
                what = f"stpmap.maps.hexes, {g['areas']} areas, {g['pairs']} bordering pairs"
                figures[f"recall_{vintage}_{layer}"] = {"value": g["recall"], "unit": "", "better": "higher",
                                                        "command": what, **({"target": target} if target else {})}
                figures[f"false_neighbours_{vintage}_{layer}"] = {
                    "value": g["false"], "unit": "pairs", "command": "hex neighbours that do not share a border"}
                figures[f"generate_{vintage}_{layer}_s"] = {"value": g["seconds"], "unit": "s", "target": SECONDS[layer],
                                                            "command": "borders + centroids + layout, one run, no cache (wall clock)"}
                figures[f"generate_{vintage}_{layer}_cpu_s"] = {
                    "value": g["cpu"], "unit": "s", "target": SECONDS[layer],
                    "command": "the same in CPU seconds of this process (single-threaded: the wall time on an idle machine)"}
    finally:
        if own_cache:
            shutil.rmtree(cache, ignore_errors=True)
    report("hexes", figures)


if __name__ == "__main__":
    sys.exit(main())
