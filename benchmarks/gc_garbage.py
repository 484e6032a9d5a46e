"""Cyclic garbage per steady-state request: what the collector has to clean up.

Each endpoint is driven in-process (the raw ASGI callable, one asyncio loop)
with the collector disabled; after warm-up requests, ``gc.DEBUG_SAVEALL`` keeps
everything the next collection finds unreachable in ``gc.garbage``, so we can
count it per request and show what it is (type counts, and with ``--chains``
the referrers of a sample object). The bare ASGI app is the baseline: what the
loop and the harness produce themselves. The Redis session cases run against a
throwaway ``redis-server`` (on PATH).

    python gc_garbage.py [--requests 200] [--chains]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from common import RESULTS
from sessions_bench import ThrowawayRedis

from micropie_core import App


class Probe(App):
    async def index(self) -> str:
        return "Hello, World!"

    async def json(self) -> dict[str, str]:
        return {"message": "Hello, World!"}

    async def greet(self, name: str, greeting: str = "Hello") -> str:
        return f"{greeting}, {name}!"

    async def needs(self, value: int) -> str:  # /needs without ?value= is a 400
        return str(value)

    async def session_read(self) -> str:
        return str(self.request.session.get("visits", 0))

    async def session_write(self) -> str:
        visits = self.request.session.get("visits", 0) + 1
        self.request.session["visits"] = visits
        return str(visits)

    async def stream(self) -> AsyncIterator[str]:
        for chunk in ("a", "b", "c"):
            yield chunk

    def blocking(self) -> str:  # a sync handler runs in a worker thread
        return "done"

    async def post(self, name: str) -> dict[str, str]:
        return {"name": name}

    async def broken(self) -> str:  # a 500, logged with its traceback
        raise ValueError("broken on purpose")


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hi"})


def scope_for(path: str, query: bytes = b"", cookie: bytes | None = None,
              body: tuple[bytes, bytes] | None = None) -> dict[str, Any]:
    """A GET scope; with ``body`` (content type, bytes) a POST carrying it."""
    headers = [(b"host", b"127.0.0.1"), (b"user-agent", b"gc-probe")]
    if cookie:
        headers.append((b"cookie", cookie))
    if body:
        headers += [(b"content-type", body[0]), (b"content-length", b"%d" % len(body[1]))]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST" if body else "GET", "body": body[1] if body else b"",
            "scheme": "http", "path": path, "raw_path": path.encode(),
            "root_path": "", "query_string": query, "headers": headers,
            "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80)}


async def call(app: Any, scope: dict[str, Any]) -> tuple[int, dict[bytes, bytes]]:
    result: dict[str, Any] = {"status": 0, "headers": {}}
    received = False

    async def receive() -> dict[str, Any]:
        # Like a server: the body once, then nothing until the client goes away.
        nonlocal received
        if received:
            await asyncio.sleep(3600)
        received = True
        return {"type": "http.request", "body": scope["body"], "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            result["status"] = message["status"]
            result["headers"] = dict(message.get("headers", []))

    await app(scope, receive, send)
    return result["status"], result["headers"]


async def session_cookie(app: Probe) -> bytes:
    await app.startup()
    _, headers = await call(app, scope_for("/session_write"))
    return bytes(headers[b"set-cookie"].split(b";")[0])


async def cases(app: Probe, redis_app: Probe) -> dict[str, tuple[Any, dict[str, Any], int]]:
    cookie = await session_cookie(app)
    redis_cookie = await session_cookie(redis_app)
    return {
        "bare ASGI (baseline)": (bare, scope_for("/"), 200),
        "text": (app, scope_for("/"), 200),
        "json": (app, scope_for("/json"), 200),
        "greet": (app, scope_for("/greet/Ann", b"greeting=Hi"), 200),
        "404": (app, scope_for("/nothing/here"), 404),
        "400": (app, scope_for("/needs"), 400),
        "session read": (app, scope_for("/session_read", cookie=cookie), 200),
        "session write": (app, scope_for("/session_write", cookie=cookie), 200),
        "session read, Redis": (redis_app, scope_for("/session_read", cookie=redis_cookie), 200),
        "session write, Redis": (redis_app, scope_for("/session_write", cookie=redis_cookie),
                                 200),
        "stream": (app, scope_for("/stream"), 200),
        "sync handler": (app, scope_for("/blocking"), 200),
        "HEAD": (app, {**scope_for("/"), "method": "HEAD"}, 200),
        "500 (logged)": (app, scope_for("/broken"), 500),
        "POST JSON": (app, scope_for("/post", body=(b"application/json", b'{"name": "x"}')), 200),
        "POST form": (app, scope_for("/post", body=(b"application/x-www-form-urlencoded",
                                                    b"name=x")), 200),
    }


def describe(obj: object) -> str:
    text = repr(obj)
    return f"{type(obj).__qualname__}: {text[:100]}"


async def measure(app: Any, scope: dict[str, Any], status: int, requests: int,
                  chains: bool) -> tuple[float, collections.Counter[str], list[str]]:
    for _ in range(50):  # warm-up: caches filled, lazy imports done
        got, _ = await call(app, dict(scope))
        if got != status:
            raise RuntimeError(f"{scope['path']} answered {got}, expected {status}")
    gc.collect()
    gc.garbage.clear()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(requests):
            await call(app, dict(scope))
        found = gc.collect()
        garbage = list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    kinds = collections.Counter(type(o).__qualname__ for o in garbage)
    lines: list[str] = []
    if chains and garbage:
        ids = {id(o) for o in garbage}
        for obj in garbage[:12]:
            referrers = [r for r in gc.get_referrers(obj) if id(r) in ids]
            lines.append(f"    {describe(obj)}")
            lines += [f"      <- {describe(r)}" for r in referrers[:3]]
    del garbage
    return found / requests, kinds, lines


async def main(requests: int, chains: bool) -> dict[str, float]:
    logging.getLogger("micropie").addHandler(logging.NullHandler())
    logging.getLogger("micropie").propagate = False  # the 500s' tracebacks: not on screen
    gc.disable()
    app = Probe(plugins=["sessions", "streaming"])
    redis = ThrowawayRedis()
    redis_app = Probe(plugins=["sessions", "sessions_redis"],
                      config={"sessions": {"store": "redis", "url": redis.url}})
    per_request: dict[str, float] = {}
    try:
        found = await cases(app, redis_app)
    except BaseException:
        redis.stop()
        raise
    for name, (target, scope, status) in found.items():
        count, kinds, lines = await measure(target, scope, status, requests, chains)
        per_request[name] = count
        top = ", ".join(f"{k} {v / requests:g}" for k, v in kinds.most_common(6))
        print(f"{name:<22} {count:6.2f} objects/request  {top}")
        for line in lines:
            print(line)
    await app.shutdown()
    await redis_app.shutdown()
    redis.stop()
    gc.enable()
    return per_request


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--chains", action="store_true", help="show referrers of garbage")
    args = parser.parse_args()
    try:
        import uvloop
        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None  # type: ignore[assignment]
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        results = runner.run(main(args.requests, args.chains))
    baseline = results.pop("bare ASGI (baseline)")
    worst = max(results.values()) - baseline
    print(f"\nmost cyclic garbage over the baseline: {worst:.2f} objects/request")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gc.json").write_text(json.dumps(
        {"requests": args.requests, "baseline": baseline, "per_request": results}, indent=2))
