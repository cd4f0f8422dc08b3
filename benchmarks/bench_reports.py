"""Benchmark: writing reports (`stpmap report`), Word and PowerPoint, for one
group and with a page per footprint; each in a fresh process (imports
included), median of 3. Run: python3 benchmarks/bench_reports.py"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import environment, median, report, wall  # noqa: E402

STPMAP = [sys.executable, "-m", "stpmap.cli"]
GROUP = ["--group", "East of England", "--colour-by", "population"]


def main() -> None:
    own_cache = not os.environ.get("STPMAP_CACHE")
    cache = tempfile.mkdtemp() if own_cache else os.environ["STPMAP_CACHE"]
    env = environment(cache)
    figures = {}
    try:
        if own_cache:
            subprocess.run(STPMAP + ["data", "build", "--vintage", "2017"], env=env, check=True, stdout=subprocess.DEVNULL)
        with tempfile.TemporaryDirectory() as out:
            for fmt in ("docx", "pptx"):
                for per in (False, True):
                    name = f"east_of_england_{fmt}{'_per_footprint' if per else ''}_s"
                    cmd = STPMAP + ["report", *GROUP, "-o", f"{out}/r.{fmt}"] + (["--per-footprint"] if per else [])
                    runs = wall(cmd, env, repeat=3)
                    size = Path(f"{out}/r.{fmt}").stat().st_size
                    figures[name] = {"value": median(runs), "unit": "s", "runs": runs, "bytes": size,
                                     "command": "stpmap report " + " ".join(cmd[len(STPMAP) + 1:]).replace(out, ".")
                                                + " (fresh process, median of 3)"}
    finally:
        if own_cache:
            shutil.rmtree(cache, ignore_errors=True)
    report("reports", figures)


if __name__ == "__main__":
    main()
