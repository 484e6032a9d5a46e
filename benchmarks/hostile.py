"""Event-loop time per hostile request, next to a benign request of the same size.

Each case is a pair: an input built to be expensive (deep or degenerate JSON,
backslash cookies, 100,000 query fields, 10,000 headers, 100,000 multipart
parts, a 10 MiB multipart preamble, ...) and an ordinary request of the same
size that the same handler serves. Both are driven through the app's ASGI
callable in the same process, the body in 64 KiB ``http.request`` messages as a
server sends it; the time is the wall time of the whole ``app(scope, receive,
send)`` call, which is event-loop time (these handlers never leave the loop).

Rounds are interleaved (every case, hostile then benign, per round), so drift
in machine speed hits both alike; the table shows the median round, the spread
(min-max over rounds) and the hostile/benign ratio. The claim to check: every
hostile input costs within a small constant factor of its benign twin.

    .venv/bin/python benchmarks/hostile.py [--rounds 5] [--only json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

from micropie_core import App
from micropie_core.errors import HTTPError
from micropie_core.serialization import json_loads
from micropie_core.types import Message

MiB = 1024 * 1024
CHUNK = 64 * 1024
BOUNDARY = "hostile-bench-boundary"


class Target(App):
    """Handlers that touch what each attack aims at."""

    async def json(self) -> str:
        return type(self.request.json()).__name__

    async def cookies(self) -> str:
        return str(len(self.request.cookies))

    async def query(self, q: str = "") -> str:
        return str(len(self.request.query_params))

    async def headers(self) -> str:
        return str(len(self.request.headers.getlist("x-h")))

    async def form(self) -> str:
        await self.request.load_form()
        total = 0
        for upload in self.request.files.all():
            total += len(await upload.read())
        return str(total + len(self.request.body_params))


@dataclass
class Request:
    path: str
    query: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""


def json_request(body: bytes) -> Request:
    return Request("/json", headers=[(b"content-type", b"application/json")], body=body)


def multipart_request(body: bytes) -> Request:
    ctype = f"multipart/form-data; boundary={BOUNDARY}".encode()
    return Request("/form", headers=[(b"content-type", ctype)], body=body)


def part(name: str, payload: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename:
        disposition += f'; filename="{filename}"'
    return (f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
            + payload + b"\r\n")


def end() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


def records(size: int) -> bytes:
    """A realistic JSON body: a list of small objects, about ``size`` bytes."""
    item = b'{"id":12345,"name":"someone","tags":["a","b"],"ok":true},'
    return b"[" + item * (size // len(item)) + b"1]"


def string_body(size: int) -> bytes:
    return b'"' + b"a" * (size - 2) + b'"'


WARM_UP = Request("/headers")


def cases() -> dict[str, tuple[Callable[[], Request], Callable[[], Request]]]:
    """name: (hostile, benign) request makers."""
    json_size = 15 * MiB
    parts = 100_000
    many_parts = b"".join(part(f"f{i}", b"x") for i in range(parts)) + end()
    one_file = part("file", b"x" * (len(many_parts) - 120), "f.bin") + end()
    preamble = b"p" * (10 * MiB) + b"\r\n" + part("a", b"1") + end()
    file_10 = part("file", b"x" * (10 * MiB), "f.bin") + end()
    near = f"\r\n--{BOUNDARY[:-1]}".encode()
    near_boundaries = near * (10 * MiB // len(near))
    cookie_bs = b'a="' + b"\\" * 20_000 + b'"'
    query_many = b"&".join(b"f%d=1" % i for i in range(100_000))
    headers_many = [(b"x-h", b"v")] * 10_000
    return {
        "JSON 15 MiB `[[],[],...]` / records": (
            lambda: json_request(b"[" + b"[]," * (json_size // 3) + b"[]]"),
            lambda: json_request(records(json_size)),
        ),
        "JSON 15 MiB of `[` in a string / letters": (
            lambda: json_request(b'"' + b"[" * (json_size - 2) + b'"'),
            lambda: json_request(string_body(json_size)),
        ),
        "invalid JSON 15 MiB `\"\\[\\[...` / string": (
            lambda: json_request(b'"' + b"\\[" * (json_size // 2)),
            lambda: json_request(string_body(json_size + 1)),
        ),
        "JSON 1025-deep / flat, same size": (
            lambda: json_request(b"[" * 1025 + b"]" * 1025),
            lambda: json_request(string_body(2050)),
        ),
        "cookie: 20,000 backslashes quoted / letters": (
            lambda: Request("/cookies", headers=[(b"cookie", cookie_bs)]),
            lambda: Request("/cookies", headers=[(b"cookie", cookie_bs.replace(b"\\", b"a"))]),
        ),
        "query: 100,000 fields / one long value": (
            lambda: Request("/query", query=query_many),
            lambda: Request("/query", query=b"q=" + b"a" * (len(query_many) - 2)),
        ),
        "headers: 10,000 repeated / 10,000 distinct": (
            lambda: Request("/headers", headers=headers_many),
            lambda: Request("/headers", headers=[(b"x-%04d" % i, b"v") for i in range(10_000)]),
        ),
        "Content-Length of 4,301 digits / a normal one": (
            lambda: Request("/json", headers=[(b"content-length", b"9" * 4301)]),
            lambda: Request("/json", headers=[(b"content-length", b"0")]),
        ),
        "multipart: 100,000 parts / one file, same size": (
            lambda: multipart_request(many_parts),
            lambda: multipart_request(one_file),
        ),
        "multipart: 10 MiB preamble / 10 MiB file": (
            lambda: multipart_request(preamble),
            lambda: multipart_request(file_10),
        ),
        "multipart: 10 MiB file of near-boundaries / 10 MiB file": (
            lambda: multipart_request(part("file", near_boundaries, "f.bin") + end()),
            lambda: multipart_request(file_10),
        ),
    }


def raised_limit_cases() -> dict[str, tuple[Callable[[], Request], Callable[[], Request]]]:
    """Cases for an app whose part limits were raised to let every part through."""
    parts = 100_000
    many_parts = b"".join(part(f"f{i}", b"x") for i in range(parts)) + end()
    one_file = part("file", b"x" * (len(many_parts) - 120), "f.bin") + end()
    return {
        "multipart: 100,000 parts, limit raised / one file": (
            lambda: multipart_request(many_parts),
            lambda: multipart_request(one_file),
        ),
    }


async def serve(app: App, request: Request) -> tuple[int, float]:
    """Run one request through ``app``; its status and the seconds it took."""
    body = request.body
    headers = [(b"host", b"bench"), *request.headers]
    if body and not any(name == b"content-length" for name, _ in headers):
        headers.append((b"content-length", str(len(body)).encode()))
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": "POST" if body else "GET", "scheme": "http", "path": request.path,
        "raw_path": request.path.encode(), "root_path": "", "query_string": request.query,
        "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }
    chunks = [body[i:i + CHUNK] for i in range(0, len(body), CHUNK)] or [b""]
    position = 0
    status = 0
    done = asyncio.Event()

    async def receive() -> Message:
        nonlocal position
        if position < len(chunks):
            position += 1
            return {"type": "http.request", "body": chunks[position - 1],
                    "more_body": position < len(chunks)}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif not message.get("more_body", False):
            done.set()

    gc.collect()  # garbage of the previous request is not this one's cost
    started = time.perf_counter()
    await app(scope, receive, send)
    return status, time.perf_counter() - started


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3g}"


def spread(values: list[float]) -> str:
    return f"{ms(min(values))}-{ms(max(values))}"


def parse_time(parse: Callable[[bytes], Any], body: bytes) -> float:
    gc.collect()
    started = time.perf_counter()
    with contextlib.suppress(HTTPError, orjson.JSONDecodeError):
        parse(body)
    return time.perf_counter() - started


JSON_BODIES: dict[str, Callable[[], bytes]] = {
    "15 MiB `[[],[],...]`": lambda: b"[" + b"[]," * (5 * MiB) + b"[]]",
    "15 MiB of `[` in a string": lambda: b'"' + b"[" * (15 * MiB - 2) + b'"',
    "15 MiB invalid `\"\\[\\[...`": lambda: b'"' + b"\\[" * (15 * MiB // 2),
    "15 MiB records": lambda: records(15 * MiB),
    "255-deep": lambda: b"[" * 255 + b"]" * 255,
}


async def main(rounds: int, only: str | None) -> None:
    app = Target(max_body_size=64 * MiB, body_timeout=None, body_total_timeout=None)
    raised = Target(max_form_fields=200_000, max_body_size=64 * MiB, body_timeout=None,
                    body_total_timeout=None)
    await app.startup()
    await raised.startup()
    selected = [(name, app, pair) for name, pair in cases().items()]
    selected += [(name, raised, pair) for name, pair in raised_limit_cases().items()]
    selected = [entry for entry in selected if only is None or only.lower() in entry[0].lower()]
    requests = {name: (target, hostile(), benign()) for name, target, (hostile, benign)
                in selected}
    times: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in requests}
    statuses: dict[str, tuple[int, int]] = {}
    bodies = {name: make() for name, make in JSON_BODIES.items()
              if only is None or only.lower() in "json"}
    parse_times: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in bodies}
    for _ in range(rounds):
        for name, (target, hostile, benign) in requests.items():
            # A small request first: what the previous (big) one left behind
            # (freed arenas, a cold allocator) is charged to neither.
            await serve(target, WARM_UP)
            bad_status, bad_time = await serve(target, hostile)
            await serve(target, WARM_UP)
            good_status, good_time = await serve(target, benign)
            times[name][0].append(bad_time)
            times[name][1].append(good_time)
            statuses[name] = (bad_status, good_status)
        for name, body in bodies.items():
            parse_times[name][0].append(parse_time(json_loads, body))
            parse_times[name][1].append(parse_time(orjson.loads, body))
    print(f"Python {sys.version.split()[0]}, orjson {orjson.__version__}, {rounds} rounds; "
          "median ms (spread min-max over rounds)\n")
    print("| case (hostile / benign) | status | hostile ms | benign ms | ratio |")
    print("|---|---|---|---|---|")
    for name, (bad, good) in times.items():
        bad_s, good_s = statistics.median(bad), statistics.median(good)
        bad_status, good_status = statuses[name]
        print(f"| {name} | {bad_status} / {good_status} | {ms(bad_s)} ({spread(bad)}) "
              f"| {ms(good_s)} ({spread(good)}) | {bad_s / good_s:.2f} |")
    if parse_times:
        print("\n| JSON body | `json_loads` ms | `orjson.loads` ms | ratio |")
        print("|---|---|---|---|")
        for name, (ours, theirs) in parse_times.items():
            ours_m, theirs_m = statistics.median(ours), statistics.median(theirs)
            print(f"| {name} | {ms(ours_m)} ({spread(ours)}) | {ms(theirs_m)} "
                  f"({spread(theirs)}) | {ours_m / theirs_m:.2f} |")
    await app.shutdown()
    await raised.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", help="run only the cases whose name contains this")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.only))
