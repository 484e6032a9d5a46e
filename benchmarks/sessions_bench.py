"""Sessions benchmark: what a session costs per request, with each store.

Drives the app's ASGI callable in-process (no server, no sockets except to
Redis) and reports requests/second for a session-reading and a
session-writing endpoint with the ``memory`` and the ``redis`` store, next to
the same endpoints without sessions. Rounds are interleaved (every variant
runs once per round) and the median round is reported. It also counts the
Redis commands each kind of request costs, from ``INFO commandstats`` deltas.

The Redis store talks to a throwaway ``redis-server`` this script starts on a
free port (the binary must be on PATH) and stops at the end.

    .venv/bin/python benchmarks/sessions_bench.py [--requests 5000] [--rounds 5]
                                                   [--concurrency 1]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import redis
from common import save, status_kib

from micropie_core import App


class WithSessions(App):
    async def read(self) -> str:
        return str(self.request.session.get("visits", 0))

    async def write(self) -> str:
        visits = self.request.session.get("visits", 0) + 1
        self.request.session["visits"] = visits
        return str(visits)


class WithoutSessions(App):
    visits = 0

    async def read(self) -> str:
        return str(self.visits)

    async def write(self) -> str:
        self.visits += 1
        return str(self.visits)


# --------------------------------------------------------------------- ASGI driving

def scope_for(path: str, cookie: str | None) -> dict[str, Any]:
    headers = [(b"host", b"bench")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": headers, "client": ("127.0.0.1", 5000),
        "server": ("bench", 80),
    }


async def request(app: App, scope: dict[str, Any]) -> tuple[int, dict[bytes, bytes]]:
    status = 0
    headers: dict[bytes, bytes] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            headers.update(message.get("headers", []))

    await app(scope, receive, send)
    return status, headers


async def session_cookie(app: App) -> str | None:
    """Create a session through the app and return the ``Cookie`` header value for it."""
    status, headers = await request(app, scope_for("/write", None))
    if status != 200:
        raise RuntimeError(f"/write answered {status}")
    set_cookie = headers.get(b"set-cookie")
    return set_cookie.decode().split(";")[0] if set_cookie else None


class Variant:
    """One app + one endpoint, with the cookie of a session created beforehand."""

    def __init__(self, store: str, endpoint: str, app: App) -> None:
        self.store, self.endpoint, self.app = store, endpoint, app
        self.scope: dict[str, Any] = {}
        self.samples: list[float] = []

    async def prepare(self) -> None:
        await self.app.startup()
        self.scope = scope_for(f"/{self.endpoint}", await session_cookie(self.app))

    async def run(self, requests: int, concurrency: int) -> float:
        app, scope = self.app, self.scope

        async def worker(count: int) -> None:
            for _ in range(count):
                status, _ = await request(app, scope)
                if status != 200:
                    raise RuntimeError(f"{self.store} /{self.endpoint} answered {status}")

        per_worker = max(1, requests // concurrency)
        start = time.perf_counter()
        await asyncio.gather(*(worker(per_worker) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        rps = per_worker * concurrency / elapsed
        self.samples.append(rps)
        return rps


# --------------------------------------------------------------------- Redis

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayRedis:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            sys.exit("redis-server is not on PATH: install it (apt-get install redis-server)")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="sessions-bench-")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    sys.exit("redis-server did not start")
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def command_counts(connection: redis.Redis) -> dict[str, int]:
    stats = connection.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def commands_per_request(variant: Variant, connection: redis.Redis,
                               requests: int = 100) -> dict[str, float]:
    before = command_counts(connection)
    for _ in range(requests):
        await request(variant.app, variant.scope)
    after = command_counts(connection)
    delta = {name: calls - before.get(name, 0) for name, calls in after.items()}
    delta["info"] = delta.get("info", 0) - 1  # our own INFO
    return {name: calls / requests for name, calls in sorted(delta.items()) if calls}


# --------------------------------------------------------------------- memory

async def memory_per_session(count: int) -> tuple[int, float]:
    """RSS growth for ``count`` small sessions in the memory store, and bytes per session.

    Each session is made by a real request without a cookie to ``/write`` (a new
    session holding ``{"visits": 1}``), as a first visit from a new browser does.
    """
    app = WithSessions(config={"sessions": {"store": "memory", "max_sessions": count}})
    await app.startup()
    try:
        scope = scope_for("/write", None)
        for _ in range(100):  # warm-up: code paths, allocator arenas
            await request(app, scope)
        gc.collect()
        before = status_kib(os.getpid()) * 1024
        for _ in range(count):
            status, _ = await request(app, scope)
            if status != 200:
                raise RuntimeError(f"/write answered {status}")
        gc.collect()
        grown = status_kib(os.getpid()) * 1024 - before
    finally:
        await app.shutdown()
    return grown, grown / count


# --------------------------------------------------------------------- main

def build_variants(redis_url: str) -> list[Variant]:
    redis_config = {"sessions": {"store": "redis", "url": redis_url, "prefix": "bench:"}}
    factories: dict[str, Callable[[], App]] = {
        "none": lambda: WithoutSessions(),
        "memory": lambda: WithSessions(config={"sessions": {"store": "memory"}}),
        "redis": lambda: WithSessions(config=redis_config),
    }
    return [Variant(store, endpoint, make())
            for endpoint in ("read", "write") for store, make in factories.items()]


async def main_async(args: argparse.Namespace, redis_url: str) -> None:
    variants = build_variants(redis_url)
    for variant in variants:
        await variant.prepare()
    try:
        for variant in variants:  # warm-up: connections open, code paths hot
            await variant.run(max(200, args.requests // 10), args.concurrency)
            variant.samples.clear()
        for round_number in range(1, args.rounds + 1):
            for variant in variants:
                await variant.run(args.requests, args.concurrency)
            print(f"round {round_number}/{args.rounds} done", file=sys.stderr)
        with redis.Redis.from_url(redis_url) as connection:
            counts = {v.endpoint: await commands_per_request(v, connection)
                      for v in variants if v.store == "redis"}
    finally:
        for variant in variants:
            await variant.app.shutdown()
    memory = await memory_per_session(args.sessions) if args.sessions else None
    report(variants, counts, args, memory)


def added_per_round(variants: list[Variant], endpoint: str) -> list[float]:
    """µs the memory store adds to ``endpoint`` in each round (same-round pairs)."""
    by_store = {v.store: v.samples for v in variants if v.endpoint == endpoint}
    return [1e6 / with_store - 1e6 / without
            for with_store, without in zip(by_store["memory"], by_store["none"], strict=True)]


def report(variants: list[Variant], counts: dict[str, dict[str, float]],
           args: argparse.Namespace, memory: tuple[int, float] | None) -> None:
    print(f"\nSessions benchmark: {args.requests} requests x {args.rounds} interleaved rounds, "
          f"concurrency {args.concurrency}, in-process ASGI, {args.loop} loop, "
          f"Python {sys.version.split()[0]}")
    baseline = {v.endpoint: statistics.median(v.samples) for v in variants if v.store == "none"}
    print(f"\n{'endpoint':<8} {'store':<7} {'median req/s':>13} {'min':>9} {'max':>9} "
          f"{'vs none':>8} {'us/req':>8} {'Redis cmds/req':<20}")
    for v in variants:
        median = statistics.median(v.samples)
        ratio = median / baseline[v.endpoint]
        redis_cmds = ""
        if v.store == "redis":
            per = counts[v.endpoint]
            detail = ", ".join(f"{name} {calls:g}" for name, calls in per.items())
            redis_cmds = f"{sum(per.values()):g} ({detail})"
        print(f"{v.endpoint:<8} {v.store:<7} {median:>13,.0f} {min(v.samples):>9,.0f} "
              f"{max(v.samples):>9,.0f} {ratio:>7.0%} {1e6 / median:>8.1f} {redis_cmds:<20}")
    lines = [
        "### Memory sessions in-process (`sessions_bench.py`)", "",
        f"{args.requests} requests x {args.rounds} interleaved rounds, {args.loop} loop. "
        "Added = µs per request over the same endpoint of an app without sessions, "
        "paired within each round (median, min-max over rounds).", "",
        "| endpoint | added µs/request | min-max | target |", "|---|---:|---:|---:|",
    ]
    for endpoint, target in (("read", 10), ("write", 15)):
        added = added_per_round(variants, endpoint)
        lines.append(f"| {endpoint} | {statistics.median(added):.1f} | "
                     f"{min(added):.1f}-{max(added):.1f} | ≤ {target} |")
    if memory:
        grown, per_session = memory
        lines += ["", f"{args.sessions:,} sessions of `{{'visits': 1}}`, each made by a request: "
                      f"RSS +{grown / 2**20:,.1f} MiB, **{per_session:,.0f} bytes per session** "
                      "(target ≤ 1 KB)."]
    report_text = "\n".join(lines)
    print("\n" + report_text)
    save("sessions_memory", [], {"report": report_text})
    ok = (sum(counts["read"].values()) == 1 and sum(counts["write"].values()) == 2)
    print(f"\nRedis commands per request: read-only = {sum(counts['read'].values()):g}, "
          f"changed = {sum(counts['write'].values()):g} "
          f"({'as required: 1 and 2' if ok else 'NOT the required 1 and 2'})")
    if not ok:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=1,
                        help="requests in flight at once (asyncio tasks)")
    parser.add_argument("--sessions", type=int, default=100_000,
                        help="sessions to create for the memory-per-session figure (0: skip)")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop",
                        help="event loop (uvicorn uses uvloop when installed)")
    args = parser.parse_args()
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if args.loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            args.loop = "asyncio"
        else:
            loop_factory = uvloop.new_event_loop
    server = ThrowawayRedis()
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(main_async(args, server.url))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
