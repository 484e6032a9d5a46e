"""What an installed but unconfigured plugin costs: the text endpoint, in-process.

The same app is built with the built-in plugins only, then with one more
installed plugin active but not configured (``static``, ``compress``,
``cors``, ``csrf``, ``proxy``), then with every installed plugin. Requests go
straight to the ASGI callable (see ``inprocess.py``) and are counted per
CPU-second of this process (``time.process_time``), which a busy machine
disturbs less than wall-clock time; rounds alternate between the apps
(rotated order) and the ratio to the built-ins-only app is taken within each
round. Next to the rates, the function calls per request
(``sys.setprofile``): a count that load cannot disturb, equal when an off
plugin adds nothing to the request path.

    .venv/bin/python benchmarks/plugins_off.py [--requests 20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from typing import Any

from inprocess import Lifespan, http_scope, run_endpoint

from micropie_core import App


class Root(App):
    async def index(self) -> str:
        return "Hello, World!"


BUILTINS = ["sessions", "streaming"]
VARIANTS: dict[str, list[str] | None] = {
    "built-ins only": BUILTINS,
    "+ static (off)": [*BUILTINS, "static"],
    "+ compress (off)": [*BUILTINS, "compress"],
    "+ cors (off)": [*BUILTINS, "cors"],
    "+ csrf (off)": [*BUILTINS, "csrf"],
    "+ proxy (off)": [*BUILTINS, "proxy"],
    "every installed plugin (off)": None,
}


_EMPTY_BODY = {"type": "http.request", "body": b"", "more_body": False}


async def receive() -> dict[str, Any]:
    return _EMPTY_BODY


async def send(message: dict[str, Any]) -> None:
    pass


async def cpu_rate(app: Any, count: int) -> float:
    """Requests per CPU-second of this process on ``/``: steadier than wall-clock time
    when other work shares the machine (time spent descheduled is not counted)."""
    start = time.process_time()
    for _ in range(count):
        await app(http_scope("/", ""), receive, send)
    return count / (time.process_time() - start)


async def calls_per_request(app: Any, count: int = 200) -> float:
    """Function calls (Python and C) the interpreter makes per request on ``/``.

    A count, not a time: it does not move with the machine's load, and equal
    counts with and without a plugin mean the plugin adds no work at all to the
    request path (what timing alone cannot show below the noise).
    """
    calls = 0

    def count_call(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(count_call)
    try:
        for _ in range(count):
            await app(http_scope("/", ""), receive, send)
    finally:
        sys.setprofile(None)
    return calls / count


async def main(requests: int, rounds: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    apps: dict[str, Any] = {name: Root(plugins=plugins) for name, plugins in VARIANTS.items()}
    lifespans = [Lifespan(app) for app in apps.values()]
    for lifespan in lifespans:
        await lifespan.startup()
    rates: dict[str, list[float]] = {name: [] for name in apps}
    names = list(apps)
    for round_number in range(rounds):
        # Rotate the order each round: no app always runs first (or right after another).
        order = names[round_number % len(names):] + names[:round_number % len(names)]
        for name in order:
            if round_number == 0:  # one checked request per app (and a warm-up)
                await run_endpoint(apps[name], "/", "", b"Hello, World!", 1000)
            rates[name].append(await cpu_rate(apps[name], requests))
        print(f"round {round_number + 1}/{rounds} done", file=sys.stderr)
    calls = {name: await calls_per_request(app) for name, app in apps.items()}
    for lifespan in lifespans:
        await lifespan.shutdown()
    return rates, calls


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    rates, calls = asyncio.run(main(args.requests, args.rounds))
    base = rates["built-ins only"]
    print(f"### Installed but off, text endpoint in-process (requests per CPU-second), "
          f"{args.requests:,} requests x "
          f"{args.rounds} rounds\n")
    # On a shared machine the best round of each app is the least disturbed one, so
    # the ratio of best rounds is shown next to the median of the per-round ratios.
    print("| app | calls/request | req/s (median) | ratio (median of rounds) | ratio min-max "
          "| ratio of best rounds |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, values in rates.items():
        ratios = [value / b for value, b in zip(values, base, strict=True)]
        print(f"| {name} | {calls[name]:g} | {statistics.median(values):,.0f} "
              f"| {statistics.median(ratios):.3f} "
              f"| {min(ratios):.3f}-{max(ratios):.3f} | {max(values) / max(base):.3f} |")
