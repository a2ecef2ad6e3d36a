"""The load client, in its own processes: wrk when it is installed, a Python client otherwise.

Both cycle through a list of paths with fixed headers for a fixed time and report
requests, errors and latency percentiles in the same shape. wrk costs the machine
far less CPU than Python does, which matters on two cores: with the Python client
the constant floor is bounded by the client, and the report says which one ran.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

_LUA = """
local paths = {paths}
local i = 0
{headers}
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nBENCH {{"requests": %d, "seconds": %f, "errors": %d, "non_2xx": %d, '
    .. '"p50_ms": %f, "p99_ms": %f, "mean_ms": %f, "max_ms": %f}}\\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000, latency.max / 1000))
end
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def client_name() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def run(base: str, paths: list[str], headers: dict[str, str], *, seconds: float, connections: int) -> dict:
    if shutil.which("wrk"):
        return _wrk(base, paths, headers, seconds=seconds, connections=connections)
    return _python(base, paths, headers, seconds=seconds, connections=connections)


def _wrk(base: str, paths: list[str], headers: dict[str, str], *, seconds: float, connections: int) -> dict:
    script = _LUA.format(
        paths="{" + ", ".join(_lua_string(p) for p in paths) + "}",
        headers="\n".join(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()),
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s"]
    try:
        out = subprocess.run(
            [*command, "-s", handle.name, base],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        Path(handle.name).unlink()
    line = next(line for line in out.splitlines() if line.startswith("BENCH "))
    result = json.loads(line.removeprefix("BENCH "))
    result["rps"] = result["requests"] / result["seconds"] if result["seconds"] else 0.0
    return result


def sequential(
    base: str,
    paths: list[str],
    headers: dict[str, str],
    *,
    seconds: float,
    at_least: int,
    inspect: Callable[[bytes], None] | None = None,
) -> dict:
    """One request after another, for pages that take seconds: at least `at_least`, then until
    time is up; `inspect` is given each answer's body, outside the time measured."""
    host, port = base.removeprefix("http://").rstrip("/").split(":")
    latencies, errors, non_2xx = [], 0, 0
    began = time.perf_counter()
    n = 0
    while n < at_least or time.perf_counter() - began < seconds:
        path = paths[n % len(paths)]
        n += 1
        start = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=600)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            conn.close()
        except OSError:
            errors += 1
            continue
        latencies.append(time.perf_counter() - start)
        non_2xx += not 200 <= response.status < 400
        if inspect:
            inspect(body)
    elapsed = time.perf_counter() - began
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count,
        "seconds": elapsed,
        "rps": count / elapsed if elapsed else 0.0,
        "errors": errors,
        "non_2xx": non_2xx,
        "p50_ms": latencies[count // 2] * 1000 if count else 0.0,
        "p99_ms": latencies[min(count - 1, int(0.99 * count))] * 1000 if count else 0.0,
        "mean_ms": sum(latencies) / count * 1000 if count else 0.0,
        "max_ms": latencies[-1] * 1000 if count else 0.0,
    }


def _worker(args) -> tuple[list[float], int, int]:
    """One process: `threads` connections, each sending requests one after another until the deadline."""
    host, port, paths, headers, seconds, threads, offset = args
    deadline = time.time() + seconds  # from this process's start, so spawning costs no measured time
    latencies: list[float] = []
    counts = {"errors": 0, "non_2xx": 0}
    lock = threading.Lock()

    def loop(n: int) -> None:
        mine, i = [], n + offset
        conn = None
        while time.time() < deadline:
            path = paths[i % len(paths)]
            i += threads
            began = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=30)
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = 200 <= response.status < 400
                if response.getheader("Connection", "").lower() == "close" or response.will_close:
                    conn.close()
                    conn = None
            except OSError:
                with lock:
                    counts["errors"] += 1
                if conn is not None:
                    conn.close()
                conn = None
                continue
            mine.append(time.perf_counter() - began)
            if not ok:
                with lock:
                    counts["non_2xx"] += 1
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return latencies, counts["errors"], counts["non_2xx"]


def _python(base: str, paths: list[str], headers: dict[str, str], *, seconds: float, connections: int) -> dict:
    host, port = base.removeprefix("http://").rstrip("/").split(":")
    processes = min(2, connections)
    per = max(1, connections // processes)
    began = time.time()
    jobs = [(host, int(port), paths, headers, seconds, per, n * per) for n in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        parts = pool.map(_worker, jobs)
    elapsed = time.time() - began
    latencies = sorted(x for part in parts for x in part[0])
    count = len(latencies)

    def pct(p: float) -> float:
        return latencies[min(count - 1, int(p / 100 * count))] * 1000 if count else 0.0

    return {
        "requests": count,
        "seconds": min(elapsed, seconds),
        "rps": count / seconds,
        "errors": sum(part[1] for part in parts),
        "non_2xx": sum(part[2] for part in parts),
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "mean_ms": sum(latencies) / count * 1000 if count else 0.0,
        "max_ms": latencies[-1] * 1000 if count else 0.0,
    }
