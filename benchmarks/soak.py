"""Soak: uvicorn under wrk for a minute, then slow clients trickling bodies.

Phase 1: ``apps/soak.py`` on uvicorn (one worker, pinned to CPU 0) with the
in-memory session store, ``wrk`` (pinned to CPU 1) at 256 connections for 60 s
on a mix of form POSTs (each creates a session, so the store fills up and then
evicts) and streamed responses. Pass: no non-2xx response, no socket error,
server RSS growth between 10 s and the end under 5 % (the store is full by 10 s:
its size is printed).

Phase 2, in interleaved rounds: the unloaded p99 of a fast endpoint (wrk, 64
connections), then the same measurement while 500 clients trickle a form body at
1 byte/s; the ratio of the two p99s is reported per round (median and range). Each gets a 408
when the app's whole-body deadline passes (5 s here: short timeouts via the
app's constructor) and reconnects; every one of those sockets must be closed by
the server within 1 s of its 408.

    python soak.py [--duration 60] [--connections 256] [--slow-clients 500] [--rounds 3]

Every phase is bounded (wrk's -d, the slow clients' deadline). Needs two cores
and wrk (installed with apt-get when missing and running as root).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from common import status_kib
from over_http import LOAD_CPU, Server, pinned

MIX = """
local form = wrk.format("POST", "/form",
  {["Content-Type"] = "application/x-www-form-urlencoded"}, "name=soak&n=1")
local stream = wrk.format("GET", "/stream")
local i = 0
request = function()
  i = i + 1
  if i % 2 == 0 then return form end
  return stream
end
"""
BODY_TOTAL_TIMEOUT = 5.0
#: Small enough for the store to be full (and evicting) well before 10 s.
MAX_SESSIONS = 5000


@dataclass
class WrkRun:
    requests: int
    non_2xx: int
    socket_errors: int
    p99_ms: float
    rate: float
    output: str


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, duration: float, connections: int, script: str | None = None) -> WrkRun:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency",
               "--timeout", "10s"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script or "")
    try:
        if script:
            command += ["-s", lua.name]
        out = subprocess.run(pinned(LOAD_CPU, [*command, url]), capture_output=True,
                             text=True, timeout=duration + 30, check=True).stdout
    finally:
        os.unlink(lua.name)
    requests = re.search(r"(\d+) requests in", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s|m)\b", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not (requests and p99 and rate):
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkRun(
        requests=int(requests.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        p99_ms=_ms(p99.group(1), p99.group(2)),
        rate=float(rate.group(1)),
        output=out,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def store_size(url: str) -> int:
    with urllib.request.urlopen(url + "/store_size", timeout=10) as response:
        return int(json.loads(response.read())["sessions"])


# ------------------------------------------------------------------ phase 1


def soak(server: Server, duration: float, connections: int) -> dict[str, object]:
    samples: dict[float, int] = {}
    sizes: dict[float, int] = {}
    done = threading.Event()
    start = time.monotonic()

    def sample() -> None:
        marks = [10.0, *range(20, int(duration), 10)]
        for mark in marks:
            if done.wait(max(0.0, start + mark - time.monotonic())):
                return
            samples[mark] = status_kib(server.process.pid)
            sizes[mark] = store_size(server.url)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = run_wrk(server.url + "/", duration, connections, MIX)
    finally:
        done.set()
        sampler.join()
    end = time.monotonic() - start
    samples[round(end, 1)] = status_kib(server.process.pid)
    sizes[round(end, 1)] = store_size(server.url)
    first, last = samples[10.0], samples[max(samples)]
    return {
        "store_full_at_10s": sizes[10.0] >= MAX_SESSIONS,
        "requests": result.requests, "rate": result.rate, "non_2xx": result.non_2xx,
        "socket_errors": result.socket_errors, "p99_ms": result.p99_ms,
        "rss_kib": samples, "store_sizes": sizes,
        "rss_growth": (last - first) / first,
    }


# ------------------------------------------------------------------ phase 2


@dataclass
class SlowClients:
    responses: list[int] = field(default_factory=list)
    close_delays: list[float] = field(default_factory=list)  # s from the 408 to EOF
    never_closed: int = 0
    errors: list[str] = field(default_factory=list)


class _SlowRequest(asyncio.Protocol):
    """One slow request's socket; times the 408 and the server's close as they arrive.

    Both times are taken in the protocol callbacks, when the event loop sees the
    bytes and the FIN (or reset), so a busy client loop delays both alike.
    """

    def __init__(self) -> None:
        self.head = bytearray()
        self.status = 0
        self.answered: float | None = None
        self.closed: float | None = None
        self.finished = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if self.answered is None:
            self.head += data
            if b"\r\n" in self.head:
                self.answered = time.monotonic()
                self.status = int(self.head.split(b" ", 2)[1])

    def eof_received(self) -> bool:
        self._close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        # A reset (our trickled bytes left unread by the server) is a close too.
        self._close()

    def _close(self) -> None:
        if self.closed is None:
            self.closed = time.monotonic()
        if not self.finished.done():
            self.finished.set_result(None)


async def _slow_client(port: int, stop_at: float, out: SlowClients) -> None:
    head = (b"POST /form HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 100000\r\n\r\nname=")
    loop = asyncio.get_running_loop()
    while time.monotonic() < stop_at:
        try:
            transport, request = await loop.create_connection(_SlowRequest, "127.0.0.1", port)
        except OSError as exc:
            out.errors.append(f"connect: {exc}")
            await asyncio.sleep(1)
            continue
        try:
            transport.write(head)
            while request.answered is None and not request.finished.done():
                await asyncio.wait({request.finished}, timeout=1.0)
                if request.answered is None and not transport.is_closing():
                    transport.write(b"x")  # 1 byte per second
            if request.answered is None:
                out.errors.append(f"closed without a response: {bytes(request.head)!r}")
                continue
            out.responses.append(request.status)
            await asyncio.wait({request.finished}, timeout=5.0)
            if request.closed is None:
                out.never_closed += 1
            else:
                out.close_delays.append(request.closed - request.answered)
        finally:
            transport.close()


async def _slow_phase(server: Server, clients: int, duration: float,
                      connections: int) -> tuple[WrkRun, SlowClients, float]:
    out = SlowClients()
    # Clients start a new slow request until wrk is done; one in flight then ends
    # with its 408 at most BODY_TOTAL_TIMEOUT later.
    stop_at = time.monotonic() + duration + 2
    tasks = [asyncio.create_task(_slow_client(server.port, stop_at, out))
             for _ in range(clients)]
    await asyncio.sleep(2)  # every client connected and trickling
    before = cpu_seconds(server.process.pid)
    loaded = await asyncio.to_thread(run_wrk, server.url + "/", duration, connections)
    used = cpu_seconds(server.process.pid) - before
    await asyncio.wait_for(asyncio.gather(*tasks), stop_at - time.monotonic()
                           + BODY_TOTAL_TIMEOUT + 10)
    return loaded, out, used


def slow(server: Server, clients: int, duration: float, connections: int,
         rounds: int) -> dict[str, object]:
    unloaded: list[WrkRun] = []
    loaded: list[WrkRun] = []
    out = SlowClients()
    cpu_alone: list[float] = []  # server CPU microseconds per fast request
    cpu_loaded: list[float] = []  # the same, slow clients' requests included in the cost
    pid = server.process.pid
    for _ in range(rounds):  # interleaved, so drift in machine load hits both alike
        before = cpu_seconds(pid)
        unloaded.append(run_wrk(server.url + "/", duration, connections))
        cpu_alone.append((cpu_seconds(pid) - before) / unloaded[-1].requests * 1e6)
        with_slow, round_out, used = asyncio.run(
            _slow_phase(server, clients, duration, connections))
        loaded.append(with_slow)
        cpu_loaded.append(used / with_slow.requests * 1e6)
        out.responses += round_out.responses
        out.close_delays += round_out.close_delays
        out.never_closed += round_out.never_closed
        out.errors += round_out.errors
    ratios = [slow.p99_ms / alone.p99_ms for alone, slow in zip(unloaded, loaded, strict=True)]
    delays = sorted(out.close_delays)
    return {
        "unloaded_p99_ms": [run.p99_ms for run in unloaded],
        "loaded_p99_ms": [run.p99_ms for run in loaded],
        "p99_ratio_median": statistics.median(ratios),
        "p99_ratio_range": [min(ratios), max(ratios)],
        # Robust to a busy machine: what each fast request cost the server.
        "server_cpu_us_per_fast_request_alone": cpu_alone,
        "server_cpu_us_per_fast_request_with_slow_clients": cpu_loaded,
        "unloaded_rate": [run.rate for run in unloaded],
        "loaded_rate": [run.rate for run in loaded],
        "fast_non_2xx": sum(run.non_2xx for run in unloaded + loaded),
        "fast_socket_errors": sum(run.socket_errors for run in unloaded + loaded),
        "slow_requests": len(out.responses),
        "slow_statuses": {str(s): out.responses.count(s) for s in sorted(set(out.responses))},
        "closed_within_1s": sum(1 for d in delays if d <= 1.0),
        "max_close_delay_ms": delays[-1] * 1000 if delays else None,
        "never_closed": out.never_closed,
        "slow_client_errors": out.errors[:5], "slow_client_error_count": len(out.errors),
    }


def install_wrk() -> None:
    """apt-get install wrk, as benchmarks/run.sh does (as root, where apt-get exists)."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit("wrk is required: apt-get install wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env, timeout=600,
                   stdout=subprocess.DEVNULL)


def main(duration: float, connections: int, clients: int, slow_duration: float,
         rounds: int) -> int:
    if not shutil.which("wrk"):
        install_wrk()
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("the soak needs two cores: the server and the load on their own")
    os.sched_setaffinity(0, {int(LOAD_CPU)})  # the slow clients share wrk's core
    os.environ.update(SOAK_BODY_TOTAL_TIMEOUT=str(BODY_TOTAL_TIMEOUT), SOAK_BODY_TIMEOUT="2",
                      SOAK_MAX_SESSIONS=str(MAX_SESSIONS))
    server = Server("apps.soak:app")
    try:
        server.wait("/", b"Hello")
        run_wrk(server.url + "/", 1, connections, MIX)  # warm-up, not recorded
        phase1 = soak(server, duration, connections)
        phase2 = slow(server, clients, slow_duration, 64, rounds)
    finally:
        server.stop()
    report = {"soak": phase1, "slow_clients": phase2}
    print(json.dumps(report, indent=2))
    slow_requests = phase2["slow_requests"]
    failures = [
        name for name, ok in [
            ("non-2xx responses under load", phase1["non_2xx"] == 0),
            ("socket errors under load", phase1["socket_errors"] == 0),
            ("session store not full at 10 s", phase1["store_full_at_10s"]),
            ("RSS growth of 5 % or more", float(phase1["rss_growth"]) < 0.05),  # type: ignore[arg-type]
            ("errors on the fast endpoint", phase2["fast_non_2xx"] == 0
             and phase2["fast_socket_errors"] == 0),
            ("slow clients answered other than 408",
             phase2["slow_statuses"] == {"408": slow_requests}),
            ("slow sockets not closed within 1 s of their 408",
             phase2["closed_within_1s"] == slow_requests and phase2["never_closed"] == 0),
        ] if not ok
    ]
    print("PASS" if not failures else "FAIL: " + "; ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--slow-clients", type=int, default=500)
    parser.add_argument("--slow-duration", type=float, default=8,
                        help="seconds wrk measures the fast endpoint, alone and with slow clients")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds of the fast endpoint alone / with slow clients")
    args = parser.parse_args()
    sys.exit(main(args.duration, args.connections, args.slow_clients, args.slow_duration,
                  args.rounds))
