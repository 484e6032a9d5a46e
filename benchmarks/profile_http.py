"""Where the server's time goes over HTTP: uvicorn + one app under ``cProfile``.

Runs uvicorn (one worker, uvloop, httptools) inside this process under the
profiler, loads it with ``wrk`` for ``--duration`` seconds, and prints the CPU
time per request split by who spends it (uvicorn, asyncio/uvloop, the
framework, the rest) and the framework's most expensive functions. Compare two
frameworks on the same endpoint to see what one does cheaper:

    python profile_http.py micropie-core text
    python profile_http.py BlackSheep text

Profiling slows Python code several fold (C code less), so read the split and
the ranking, not the absolute figures.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import pstats
import subprocess
import threading
import time
from typing import Any

import uvicorn
import uvloop
from common import ENDPOINTS, FRAMEWORKS
from over_http import LOAD_CPU, free_port, pinned

GROUPS = {
    "uvicorn": ("uvicorn/",),
    "asyncio": ("asyncio/", "uvloop", "<built-in method _asyncio", "{method 'run_until"),
    "micropie-core": ("micropie_core/",),
    "MicroPie 0.32": ("micropie.py", "/micropie/"),
    "Starlette": ("starlette/",),
    "BlackSheep": ("blacksheep/",),
    "bare ASGI": ("apps/bare.py",),
}


def group_of(filename: str) -> str:
    for group, markers in GROUPS.items():
        if any(marker in filename for marker in markers):
            return group
    return "other (stdlib, C builtins)"


def main(framework: str, endpoint: str, duration: float, connections: int) -> None:
    module, attribute = FRAMEWORKS[framework].split(":")
    app: Any = getattr(importlib.import_module(module), attribute)
    path, query, _ = ENDPOINTS[endpoint]
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                            log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    profiler = cProfile.Profile()
    result: dict[str, int] = {}
    loop = uvloop.new_event_loop()

    def in_loop(action: Any) -> None:
        done = threading.Event()
        loop.call_soon_threadsafe(lambda: (action(), done.set()))
        done.wait(10)

    def load() -> None:
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}{path}" + (f"?{query}" if query else "")
        subprocess.run(pinned(LOAD_CPU, ["wrk", "-t1", f"-c{connections}", "-d1s", url]),
                       capture_output=True, timeout=60, check=True)  # warm-up
        # cProfile follows the thread that enables it: the server's loop thread.
        in_loop(profiler.enable)
        out = subprocess.run(pinned(LOAD_CPU, ["wrk", "-t1", f"-c{connections}",
                                               f"-d{duration:g}s", url]),
                             capture_output=True, text=True, timeout=duration + 60,
                             check=True).stdout
        in_loop(profiler.disable)
        result["requests"] = int(out.split(" requests in")[0].split()[-1])
        server.should_exit = True

    threading.Thread(target=load, daemon=True).start()
    loop.run_until_complete(server.serve())
    loop.close()
    stats = pstats.Stats(profiler)
    requests = max(1, result.get("requests", 1))
    by_group: dict[str, float] = {}
    ours: list[tuple[float, str]] = []
    for (filename, line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        own_time = row[2]
        group = group_of(filename)
        by_group[group] = by_group.get(group, 0.0) + own_time
        if group == framework:
            ours.append((own_time, f"{filename.rsplit('/', 1)[-1]}:{line} {function}"))
    total = sum(by_group.values())
    print(f"{framework}, {endpoint}: {requests:,} requests profiled, "
          f"{total / requests * 1e6:.1f} us of profiled CPU per request")
    for group, seconds in sorted(by_group.items(), key=lambda item: -item[1]):
        print(f"  {group:<28} {seconds / requests * 1e6:7.1f} us/req  {seconds / total:5.0%}")
    print(f"  {framework}'s costliest functions (own time per request):")
    for seconds, name in sorted(ours, reverse=True)[:12]:
        print(f"    {seconds / requests * 1e6:6.2f} us  {name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("framework", choices=list(FRAMEWORKS))
    parser.add_argument("endpoint", choices=list(ENDPOINTS))
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    main(args.framework, args.endpoint, args.duration, args.connections)
