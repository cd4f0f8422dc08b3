"""Lineage benchmarks (issue 13: carrying tables between vintages).

* ``stpmap.lineage(oldest, newest)`` in a new process: the first call (cold:
  the two LSOA tables read from the atlas) and the calls after it (warm);
* the slowest warm ``stpmap.lineage`` over every ordered pair of vintages
  (footprints and CCGs);
* ``stpmap.crosswalk`` of a 42-row table (a CSV of the 2021 footprints with a
  count and a rate) to 2017: cold (first call in a new process) and warm;
* ``stpmap crosswalk`` on the command line, a fresh process, as a user runs it.

Run: ``python benchmarks/bench_lineage.py`` (uses STPMAP_MIRROR or
../shared/geodata-src and builds every vintage into a temporary cache), or
``python benchmarks/bench_lineage.py --cache DIR`` to use a cache already built.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import environment, median, report

STPMAP = [shutil.which("stpmap")] if shutil.which("stpmap") else [sys.executable, "-m", "stpmap.cli"]
TARGET_S = 1.0
PROCESSES = 5

# One new process: the first lineage call (cold), then the median of 5 more (warm).
LINEAGE_CODE = """
import json, statistics, sys, time
t = time.perf_counter()
import stpmap
from stpmap.data import lineage
imported = time.perf_counter() - t
a, b = int(sys.argv[1]), int(sys.argv[2])
t = time.perf_counter(); lineage.lineage(a, b); cold = time.perf_counter() - t
warm = []
for _ in range(5):
    t = time.perf_counter(); lineage.lineage(a, b); warm.append(time.perf_counter() - t)
print(json.dumps({"import": imported, "cold": cold, "warm": statistics.median(warm)}))
"""

# One process: every ordered pair of vintages, at both levels, warm (median of 3 each).
PAIRS_CODE = """
import json, statistics, time
from stpmap.data import lineage
from stpmap.data.registry import registry
vs = registry().vintages
worst = (0.0, None)
for layer in ("stp", "ccg"):
    for a in vs:
        for b in vs:
            lineage.lineage(a, b, layer)
            runs = []
            for _ in range(3):
                t = time.perf_counter(); lineage.lineage(a, b, layer); runs.append(time.perf_counter() - t)
            worst = max(worst, (statistics.median(runs), f"{a}->{b} {layer}"))
print(json.dumps({"worst": worst[0], "pair": worst[1], "pairs": 2 * len(vs) ** 2}))
"""

# One new process: crosswalk of the 42-row CSV, first call (cold) then warm.
CROSSWALK_CODE = """
import json, statistics, sys, time
t = time.perf_counter()
import stpmap
from stpmap.data import crosswalk
imported = time.perf_counter() - t
def run():
    return crosswalk.crosswalk(sys.argv[1], 2021, 2017, value=["beds", "rate"], how="sum")
t = time.perf_counter(); out = run(); cold = time.perf_counter() - t
warm = []
for _ in range(5):
    t = time.perf_counter(); run(); warm.append(time.perf_counter() - t)
assert len(out) == 44
print(json.dumps({"import": imported, "cold": cold, "warm": statistics.median(warm)}))
"""


def _python(code: str, args: list[str], env: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _quiet_wall(cmd: list[str], env: dict) -> list[float]:
    """Wall-clock seconds of ``cmd`` in fresh processes, its output (CSV, notes) discarded."""
    times = []
    for _ in range(PROCESSES):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return times


def _prepare(env: dict, folder: Path) -> tuple[list[int], Path]:
    """Build every vintage's atlas (if needed) and write the 42-row table."""
    vintages = json.loads(subprocess.run(
        [sys.executable, "-c", "import json; from stpmap.data.registry import registry; print(json.dumps(registry().vintages))"],
        env=env, check=True, capture_output=True, text=True).stdout)
    for v in vintages:
        subprocess.run(STPMAP + ["data", "build", "--vintage", str(v)], env=env, check=True, stdout=subprocess.DEVNULL)
    table = folder / "beds-2021.csv"
    subprocess.run([sys.executable, "-c", (
        "import sys; from stpmap.data import atlas; t = atlas.table('stp', 2021, columns=['code', 'name', 'population']);"
        "t['beds'] = t['population'] // 400; t['rate'] = 0.25; t.to_csv(sys.argv[1], index=False)"), str(table)],
        env=env, check=True)
    return vintages, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default=None, help="an stpmap cache to use (default: a new temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = environment(args.cache or tmp)
        vintages, table = _prepare(env, Path(tmp))
        a, b = str(vintages[0]), str(vintages[-1])
        lin = [_python(LINEAGE_CODE, [a, b], env) for _ in range(PROCESSES)]
        pairs = _python(PAIRS_CODE, [], env)
        cw = [_python(CROSSWALK_CODE, [str(table)], env) for _ in range(PROCESSES)]
        cli = _quiet_wall(STPMAP + ["crosswalk", str(table), "--from", "2021", "--to", "2017", "--value", "beds"], env)
    m = {k: median(r[k] for r in lin) for k in ("import", "cold", "warm")}
    c = {k: median(r[k] for r in cw) for k in ("import", "cold", "warm")}
    how = f"median of {PROCESSES} new processes"
    report("lineage", {
        "lineage_cold_s": {"value": m["cold"], "unit": "s", "target": TARGET_S,
                           "command": f"stpmap.lineage({a}, {b}), first call in a new process (after import), {how}"},
        "lineage_warm_s": {"value": m["warm"], "unit": "s", "target": TARGET_S,
                           "command": f"stpmap.lineage({a}, {b}), later calls (median of 5), {how}"},
        "lineage_import_s": {"value": m["import"], "unit": "s",
                             "command": f"import stpmap.data.lineage in a new process, {how}"},
        "lineage_worst_pair_warm_s": {"value": pairs["worst"], "unit": "s", "target": TARGET_S,
                                      "command": f"slowest of {pairs['pairs']} warm stpmap.lineage(a, b, layer) over every "
                                                 f"ordered pair of {vintages} at stp and ccg level: {pairs['pair']}"},
        "crosswalk_42_rows_cold_s": {"value": c["cold"], "unit": "s", "target": TARGET_S,
                                     "command": f"stpmap.crosswalk(42-row CSV, 2021, 2017, 2 values), first call, {how}"},
        "crosswalk_42_rows_warm_s": {"value": c["warm"], "unit": "s", "target": TARGET_S,
                                     "command": "stpmap.crosswalk(42-row CSV, 2021, 2017, 2 values), later calls"},
        "crosswalk_cli_s": {"value": median(cli), "unit": "s",
                            "command": f"stpmap crosswalk beds-2021.csv --from 2021 --to 2017 --value beds, "
                                       f"whole fresh process, median of {PROCESSES}", "runs": cli},
    })


if __name__ == "__main__":
    main()
