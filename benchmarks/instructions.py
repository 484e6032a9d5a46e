"""Instructions per request, counted by valgrind: a speed comparison that noise cannot move.

Requests/second on a shared machine moves by ±15-40 % between rounds; the
number of CPU instructions a request executes does not (callgrind counts the
same total whatever else the machine is doing). Each framework's app runs in
its own ``valgrind --tool=callgrind`` process, driven in-process exactly as
``inprocess.py`` drives it. Between the endpoints the child calls
``os.getppid()``, and ``--dump-before=os_getppid`` makes callgrind write one
profile per stretch, so each endpoint's total is read from its own dump.

Instructions are not time (cache misses and branch mispredictions are not
counted), so this complements the timed harnesses; it does not replace them.

    python instructions.py [--requests 1000] [--only micropie-core BlackSheep]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import BASELINE, ENDPOINTS, FRAMEWORKS, PEER, save
from inprocess import Lifespan, load, run_endpoint

MARKER_FUNCTION = "os_getppid"  # the C function behind os.getppid() in CPython
WARM_UP = 300


async def child(target: str, requests: int) -> None:
    """Run inside callgrind: warm up, then each endpoint between two markers."""
    app = load(target)
    lifespan = Lifespan(app)
    await lifespan.startup()
    for path, query, expected in ENDPOINTS.values():
        await run_endpoint(app, path, query, expected, WARM_UP)
    for path, query, expected in ENDPOINTS.values():
        os.getppid()
        await run_endpoint(app, path, query, expected, requests)
    os.getppid()
    await lifespan.shutdown()


def count(name: str, target: str, requests: int) -> dict[str, float]:
    """Instructions per request of each endpoint for one framework."""
    with tempfile.TemporaryDirectory(prefix="instructions-") as directory:
        out = Path(directory) / "callgrind.out"
        command = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
            f"--dump-before={MARKER_FUNCTION}", sys.executable, __file__,
            "--child", target, "--requests", str(requests),
        ]
        # A fixed hash seed: dict and set layouts, hence the counts, repeat exactly.
        environment = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, capture_output=True, text=True, env=environment,
                              cwd=Path(__file__).parent, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{name}: valgrind run failed:\n{done.stderr[-2000:]}")
        # Dump k (k >= 1) ends at the k-th marker: dump 1 is start-up and warm-up,
        # dump k+1 is endpoint k. The last part (shutdown) goes to `out` itself.
        totals = []
        for part in range(2, len(ENDPOINTS) + 2):
            text = Path(f"{out}.{part}").read_text()
            line = next(line for line in text.splitlines() if line.startswith("summary:"))
            totals.append(int(line.split()[1]))
    return {endpoint: total / requests for endpoint, total in zip(ENDPOINTS, totals, strict=True)}


def report(counts: dict[str, dict[str, float]], requests: int) -> str:
    lines = [
        f"### Instructions per request (callgrind, {requests:,} requests per endpoint, "
        "in-process)", "",
        "Counted, not timed: the same on a busy and on a quiet machine. "
        f"x {PEER} = {PEER}'s count / this count (above 1: fewer instructions); "
        f"own = this count minus {BASELINE}'s (what the framework adds).", "",
        f"| endpoint | framework | instructions | own | x {PEER} (own) |",
        "|---|---|---:|---:|---:|",
    ]
    for endpoint in ENDPOINTS:
        floor = counts.get(BASELINE, {}).get(endpoint, 0.0)
        peer = counts.get(PEER, {}).get(endpoint)
        for name, per_endpoint in counts.items():
            value = per_endpoint[endpoint]
            own = value - floor
            ratio = ""
            if peer is not None and name != BASELINE:
                ratio = f"{peer / value:.2f} ({(peer - floor) / own:.2f})" if own > 0 else "-"
            lines.append(f"| {endpoint} | {name} | {value:,.0f} | {own:,.0f} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--only", nargs="*", help="framework names to run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child, args.requests))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not on PATH: install it (apt-get install valgrind)")
    chosen = {name: target for name, target in FRAMEWORKS.items()
              if not args.only or name in args.only}
    # callgrind is single-threaded: one process per core.
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        futures = {name: pool.submit(count, name, target, args.requests)
                   for name, target in chosen.items()}
        counts = {name: future.result() for name, future in futures.items()}
    text = report(counts, args.requests)
    print(text)
    print(f"saved {save('instructions', [], {'counts': counts, 'report': text})}")


if __name__ == "__main__":
    main()
