"""Static files over HTTP: micropie-static vs Starlette's ``StaticFiles``, side by side.

Both apps serve the same directory under ``/static`` on uvicorn (one worker,
uvloop, httptools) pinned to CPU 0, loaded by ``wrk`` pinned to CPU 1, for a
4 KiB and a 1 MiB file. Both servers stay up; in each round every file is
loaded on one app, then at once on the other (so drift in machine speed hits
both alike), and the ratio is taken within each round; the median round is
reported with its spread. Every load run is bounded by ``--duration``.

    benchmarks/.venv/bin/python benchmarks/static_bench.py [--duration 5] [--rounds 3]

Needs ``wrk``, ``starlette``, ``uvicorn`` and ``micropie-static`` (``bash
benchmarks/run.sh`` builds that environment).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from common import Sample, save
from over_http import Server, wrk

APPS = {"micropie-static": "apps.static_micropie:app",
        "Starlette StaticFiles": "apps.static_starlette:app"}
FILES = {"4 KiB": ("small.css", 4 * 1024), "1 MiB": ("large.bin", 1024 * 1024)}


def make_files(directory: Path) -> None:
    for name, size in FILES.values():
        (directory / name).write_bytes(os.urandom(size))


#: Server CPU microseconds per request and p99 latency (ms), per (app, file): on a
#: machine shared with other work, CPU time per request is steadier than requests/s.
CPU_PER_REQUEST: dict[tuple[str, str], list[float]] = {}
P99: dict[tuple[str, str], list[float]] = {}


def main(duration: float, rounds: int, connections: int) -> list[Sample]:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is required: apt-get install wrk")
    directory = Path(tempfile.mkdtemp(prefix="static-bench-"))
    make_files(directory)
    os.environ["STATIC_BENCH_DIR"] = str(directory)
    rates: dict[tuple[str, str], list[float]] = {}
    cpu = CPU_PER_REQUEST
    # Both servers run for the whole benchmark (pinned to the same CPU, only one under
    # load at a time), so the two measurements of a file in a round are back to back.
    servers = {name: Server(target) for name, target in APPS.items()}
    try:
        for server in servers.values():
            for filename, _size in FILES.values():
                server.wait(f"/static/{filename}", b"")
        for round_number in range(rounds):
            for label, (filename, _size) in FILES.items():
                for name, server in servers.items():
                    url = f"{server.url}/static/{filename}"
                    wrk(url, 1, connections)  # warm-up, not recorded
                    load = wrk(url, duration, connections, server_pid=server.process.pid)
                    rates.setdefault((name, label), []).append(load.rate)
                    cpu.setdefault((name, label), []).append(load.latencies["cpu us"])
                    P99.setdefault((name, label), []).append(load.latencies["p99"])
            print(f"round {round_number + 1}/{rounds} done", file=sys.stderr)
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)
    return [Sample(name, label, values) for (name, label), values in rates.items()]


def report(samples: list[Sample], title: str) -> str:
    by_key = {(s.framework, s.endpoint): s for s in samples}
    mine, peer = APPS
    lines = [f"### {title}", "",
             "| file | " + " | ".join(f"{name} req/s" for name in APPS)
             + " | ratio (median of rounds) | ratio min-max | server CPU per request | p99 |",
             "|---|" + "---:|" * (len(APPS) + 4)]
    for label in FILES:
        ours, theirs = by_key[(mine, label)], by_key[(peer, label)]
        ratios = [a / b for a, b in zip(ours.rates, theirs.rates, strict=True)]
        lines.append(
            f"| {label} | {ours.median:,.0f} ±{ours.spread:.0%} | "
            f"{theirs.median:,.0f} ±{theirs.spread:.0%} | {statistics.median(ratios):.2f}x | "
            f"{min(ratios):.2f}-{max(ratios):.2f} | "
            + " vs ".join(f"{statistics.median(CPU_PER_REQUEST[(n, label)]):,.0f} us"
                          for n in APPS) + " | "
            + " vs ".join(f"{statistics.median(P99[(n, label)]):.1f} ms" for n in APPS) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    samples = main(args.duration, args.rounds, args.connections)
    print(report(samples, f"Static files over uvicorn, wrk -t1 -c{args.connections} "
                          f"{args.duration:g}s x {args.rounds} rounds"))
    print(f"saved {save('static', samples)}")
