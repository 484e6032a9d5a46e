"""Static files over HTTP: micropie-static vs Starlette's ``StaticFiles``, side by side.

Both apps serve the same directory under ``/static`` on uvicorn (one worker,
uvloop, httptools) pinned to CPU 0, loaded by ``wrk`` pinned to CPU 1, for a
4 KiB and a 1 MiB file. Each round starts each app's server in turn and runs
every file (interleaved rounds, so drift in machine speed hits both alike);
the median round is reported with its spread, and the ratio is taken within
each round. Every load run is bounded by ``--duration``.

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


def main(duration: float, rounds: int, connections: int) -> list[Sample]:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is required: apt-get install wrk")
    directory = Path(tempfile.mkdtemp(prefix="static-bench-"))
    make_files(directory)
    os.environ["STATIC_BENCH_DIR"] = str(directory)
    rates: dict[tuple[str, str], list[float]] = {}
    try:
        for round_number in range(rounds):
            for name, target in APPS.items():
                server = Server(target)
                try:
                    for label, (filename, _size) in FILES.items():
                        path = f"/static/{filename}"
                        server.wait(path, b"")
                        wrk(server.url + path, 1, connections)  # warm-up, not recorded
                        rate = wrk(server.url + path, duration, connections)
                        rates.setdefault((name, label), []).append(rate)
                finally:
                    server.stop()
            print(f"round {round_number + 1}/{rounds} done", file=sys.stderr)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return [Sample(name, label, values) for (name, label), values in rates.items()]


def report(samples: list[Sample], title: str) -> str:
    by_key = {(s.framework, s.endpoint): s for s in samples}
    mine, peer = APPS
    lines = [f"### {title}", "",
             "| file | " + " | ".join(f"{name} req/s" for name in APPS)
             + " | ratio (median of rounds) | ratio min-max |",
             "|---|" + "---:|" * (len(APPS) + 2)]
    for label in FILES:
        ours, theirs = by_key[(mine, label)], by_key[(peer, label)]
        ratios = [a / b for a, b in zip(ours.rates, theirs.rates, strict=True)]
        lines.append(
            f"| {label} | {ours.median:,.0f} ±{ours.spread:.0%} | "
            f"{theirs.median:,.0f} ±{theirs.spread:.0%} | {statistics.median(ratios):.2f}x | "
            f"{min(ratios):.2f}-{max(ratios):.2f} |")
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
