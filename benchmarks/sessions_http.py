"""Sessions over HTTP: a session-reading and a session-writing endpoint under load.

The same two endpoints (``apps/sessions_core.py``, ``apps/sessions_litestar.py``)
on uvicorn (one worker, pinned to CPU 0) under ``wrk`` (pinned to CPU 1) at 64
and 256 connections, every request carrying the cookie of one session created
beforehand: micropie-core with its memory store, with its Redis store, and
Litestar with its server-side sessions in the same throwaway ``redis-server``.
Each round starts a fresh server per variant; the first wrk run against it
(the cold start, not timed) counts its error answers, which must be none for
micropie-core; error answers during the timed runs are counted and reported,
and requests/second counts successful answers only.

    python sessions_http.py [--duration 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import sys
import urllib.request

from common import Sample, latency_table, save
from over_http import Server, wrk
from sessions_bench import ThrowawayRedis

VARIANTS = {
    # name: (app, environment)
    "micropie-core, memory": ("apps.sessions_core:app", {"BENCH_SESSION_STORE": "memory"}),
    "micropie-core, Redis": ("apps.sessions_core:app", {"BENCH_SESSION_STORE": "redis"}),
    "Litestar, Redis": ("apps.sessions_litestar:app", {}),
}
PEER = "Litestar, Redis"


def session_cookie(url: str) -> str:
    """The ``name=value`` of the session cookie a first ``/write`` sets."""
    with urllib.request.urlopen(url + "/write", timeout=5) as response:
        set_cookie = response.headers["Set-Cookie"]
    if not set_cookie:
        raise RuntimeError(f"{url}/write set no cookie")
    return str(set_cookie).split(";")[0]


Errors = dict[tuple[str, str], int]


def main(duration: float, rounds: int, connections: list[int]) -> tuple[list[Sample], Errors]:
    """Samples per (variant, endpoint), and error answers per (variant, "cold"/endpoint)."""
    redis = ThrowawayRedis()
    samples: dict[tuple[str, str], Sample] = {}
    errors: Errors = {}
    try:
        for round_number in range(rounds):
            for name, (target, env) in VARIANTS.items():
                server = Server(target, {**env, "BENCH_REDIS_URL": redis.url})
                try:
                    server.wait("/read", b"0")
                    headers = [f"Cookie: {session_cookie(server.url)}"]
                    for endpoint in ("read", "write"):
                        for count in connections:
                            url = f"{server.url}/{endpoint}"
                            key = (name, f"{endpoint} c{count}")
                            warm = wrk(url, 1, count, headers, allow_errors=True)
                            errors[(name, "cold")] = errors.get((name, "cold"), 0) + warm.errors
                            load = wrk(url, duration, count, headers, allow_errors=True,
                                       server_pid=server.process.pid)
                            errors[key] = errors.get(key, 0) + load.errors
                            sample = samples.setdefault(key, Sample(name, key[1], []))
                            sample.rates.append(load.rate)
                            sample.latencies.append(load.latencies)
                finally:
                    server.stop()
            print(f"round {round_number + 1}/{rounds} done", file=sys.stderr)
    finally:
        redis.stop()
    return list(samples.values()), errors


def report(samples: list[Sample], errors: Errors, title: str) -> str:
    by_key = {(s.framework, s.endpoint): s for s in samples}
    lines = [latency_table(samples, title, baseline=None, peer=PEER), ""]
    for endpoint in dict.fromkeys(s.endpoint for s in samples if s.endpoint.startswith("read")):
        redis = by_key[("micropie-core, Redis", endpoint)]
        memory = by_key[("micropie-core, memory", endpoint)]
        if memory.median:
            lines.append(f"- Redis store / memory store, {endpoint}: "
                         f"{redis.median / memory.median:.2f}")
    for name in VARIANTS:
        cold = errors.get((name, "cold"), 0)
        timed = {endpoint: n for (who, endpoint), n in errors.items()
                 if who == name and endpoint != "cold" and n}
        lines.append(f"- {name}: {cold} error answers in the untimed first second of each "
                     f"run (cold start); in the timed runs: {timed or 'none'}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, nargs="*", default=[64, 256])
    args = parser.parse_args()
    found, failures = main(args.duration, args.rounds, args.connections)
    title = (f"Sessions over HTTP (uvicorn 1 worker), wrk -t1, {args.duration:g}s x "
             f"{args.rounds} rounds (median)")
    text = report(found, failures, title)
    print(text)
    print(f"saved {save('sessions_http', found, {'report': text})}")
