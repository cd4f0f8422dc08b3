"""Helpers shared by the benchmarks: timing, environment and writing results."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_MIRROR = ROOT.parent / "shared" / "geodata-src"


def environment(cache: str | None = None) -> dict:
    env = dict(os.environ)
    env.setdefault("STPMAP_MIRROR", str(DEFAULT_MIRROR))
    if cache:
        env["STPMAP_CACHE"] = cache
    return env


def wall(cmd: list[str], env: dict, repeat: int = 1) -> list[float]:
    """Wall-clock seconds of a command in a fresh process, ``repeat`` times."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return times


def median(xs) -> float:
    return float(statistics.median(xs))


def report(topic: str, figures: dict) -> Path:
    """Print ``figures`` ({name: {value, unit, target, ...}}) and write them as JSON."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{topic}.json"
    doc = {
        "topic": topic,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"python": sys.version.split()[0], "cpus": os.cpu_count(), "platform": platform.platform()},
        "figures": figures,
    }
    out.write_text(json.dumps(doc, indent=2) + "\n")
    width = max(map(len, figures))
    for name, f in figures.items():
        target = f.get("target")
        verdict = ""
        if target is not None:
            ok = f["value"] <= target if f.get("better", "lower") == "lower" else f["value"] >= target
            verdict = f"  target {'≤' if f.get('better', 'lower') == 'lower' else '≥'} {target} {f['unit']}: {'met' if ok else 'MISSED'}"
        print(f"{name:{width}}  {f['value']:.3f} {f['unit']}{verdict}")
    print(f"written to {out}")
    return out
