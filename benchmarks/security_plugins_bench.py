"""What micropie-cors, micropie-csrf and micropie-proxy cost on the text endpoint, off and on.

In-process (the app's ASGI callable driven directly, as ``inprocess.py`` does,
timed in CPU time):
the same ``/`` handler in an app with the built-in plugins only (the baseline),
with each plugin loaded but not configured (off), with all installed plugins
loaded and off, and with each one configured (on). Every variant runs once per
round, rounds are interleaved, and each variant's rate is divided by the
baseline's *of the same round*; the median ratio is reported with the lowest
and highest round, so a noisy machine shows as a wide spread. Many short
rounds, each starting at another variant, keep drift in machine speed from
favouring one variant.

    .venv/bin/python benchmarks/security_plugins_bench.py [--requests 5000] [--rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inprocess import Lifespan, http_scope

from micropie_core import App

BUILTINS = ["sessions", "streaming"]


async def cpu_rate(app: Any, count: int) -> float:
    """Requests per second of this process's CPU time for ``GET /``.

    CPU time rather than wall time: on a shared machine the process is
    descheduled at random, which wall time would charge to whichever variant
    was running.
    """
    request = {"type": "http.request", "body": b"", "more_body": False}
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(http_scope("/", ""), receive, send)
    if statuses != [200]:
        raise RuntimeError(f"GET / answered {statuses}")
    start = time.process_time()
    for _ in range(count):
        await app(http_scope("/", ""), receive, send)
    return count / (time.process_time() - start)


class Text(App):
    async def index(self) -> str:
        return "Hello, World!"


def variants() -> dict[str, Any]:
    on = {
        "cors": {"allow_origins": ["https://app.example.com"]},
        "csrf": {},
        "proxy": {"allowed_hosts": ["127.0.0.1"], "trusted_proxies": ["10.0.0.0/8"]},
    }
    apps: dict[str, Any] = {"baseline (built-ins only)": Text(plugins=BUILTINS)}
    for name in on:
        apps[f"{name} installed, off"] = Text(plugins=[*BUILTINS, name])
    apps["every plugin installed, off"] = Text(plugins=None)
    for name, section in on.items():
        apps[f"{name} on"] = Text(plugins=[*BUILTINS, name], config={name: section})
    return apps


async def main(requests: int, rounds: int) -> None:
    apps = variants()
    lifespans = [Lifespan(app) for app in apps.values()]
    for lifespan in lifespans:
        await lifespan.startup()
    rates: dict[str, list[float]] = {name: [] for name in apps}
    names = list(apps)
    for round_number in range(rounds):
        # Each round starts at another variant, so none always runs first or last.
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            rates[name].append(await cpu_rate(apps[name], requests))
        if (round_number + 1) % 10 == 0:
            print(f"round {round_number + 1}/{rounds} done", file=sys.stderr)
    for lifespan in lifespans:
        await lifespan.shutdown()
    baseline = rates["baseline (built-ins only)"]
    print(f"\nText endpoint in-process, {requests:,} requests x {rounds} rounds")
    print(f"{'variant':32} {'req/s (median)':>15} {'vs baseline':>12} {'spread':>16}")
    for name, values in rates.items():
        ratios = [value / base for value, base in zip(values, baseline, strict=True)]
        print(f"{name:32} {statistics.median(values):15,.0f} "
              f"{statistics.median(ratios):12.3f} {min(ratios):7.3f}-{max(ratios):.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
