"""In-process harness: drive each app's ASGI callable directly, no server, no sockets.

This isolates the framework's own per-request cost. Each round runs every
framework on every endpoint in turn (interleaved, so drift in machine speed
hits all of them alike); the median round is reported with its spread.

    python inprocess.py [--requests 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import time
from typing import Any

from common import ENDPOINTS, FRAMEWORKS, Sample, save, table


def load(target: str) -> Any:
    module, attribute = target.split(":")
    return getattr(importlib.import_module(module), attribute)


class Lifespan:
    """Runs an app's lifespan protocol the way a server does: startup, then shutdown."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.replies: asyncio.Queue[str] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def send(self, message: dict[str, Any]) -> None:
        await self.replies.put(message["type"])

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self.task = asyncio.get_running_loop().create_task(
            self.app(scope, self.messages.get, self.send))
        await self.messages.put({"type": "lifespan.startup"})
        outcome = await asyncio.wait_for(self.replies.get(), 10)
        if outcome != "lifespan.startup.complete":
            raise RuntimeError(f"lifespan startup failed: {outcome}")

    async def shutdown(self) -> None:
        await self.messages.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(self.replies.get(), 10)
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)


def http_scope(path: str, query: str) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench"),
                    (b"accept", b"*/*")],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }


async def run_endpoint(app: Any, path: str, query: str, expected: bytes, count: int) -> float:
    request_message = {"type": "http.request", "body": b"", "more_body": False}
    body = bytearray()
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return request_message

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    # One checked request first: a benchmark of a broken endpoint measures nothing.
    await app(http_scope(path, query), receive, send)
    if status != [200] or expected not in body:
        raise RuntimeError(f"{path}?{query}: got {status} {bytes(body)[:80]!r}")
    start = time.perf_counter()
    for _ in range(count):
        # Servers hand every request a fresh scope; so do we.
        await app(http_scope(path, query), receive, send)
    return count / (time.perf_counter() - start)


async def main(requests: int, rounds: int, only: list[str] | None) -> list[Sample]:
    chosen = {name: target for name, target in FRAMEWORKS.items() if not only or name in only}
    apps = {}
    lifespans = []
    for name, target in chosen.items():
        try:
            apps[name] = load(target)
        except ImportError as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
            continue
        lifespans.append(Lifespan(apps[name]))
        await lifespans[-1].startup()
    rates: dict[tuple[str, str], list[float]] = {}
    for round_number in range(rounds):
        for endpoint, (path, query, expected) in ENDPOINTS.items():
            for name, app in apps.items():
                rate = await run_endpoint(app, path, query, expected, requests)
                rates.setdefault((name, endpoint), []).append(rate)
        print(f"round {round_number + 1}/{rounds} done", file=sys.stderr)
    for lifespan in lifespans:
        await lifespan.shutdown()
    return [Sample(name, endpoint, values) for (name, endpoint), values in rates.items()]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="framework names to run")
    args = parser.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    samples = asyncio.run(main(args.requests, args.rounds, args.only))
    title = f"In-process, {args.requests:,} requests x {args.rounds} rounds (median)"
    print(table(samples, title))
    print(f"saved {save('inprocess', samples)}")
