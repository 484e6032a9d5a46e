"""HTTP harness: each app on uvicorn (one worker), loaded by wrk from a second process.

The server is pinned to one core and wrk to the other (``taskset``), so the
load generator does not steal the server's CPU. Every round starts each
framework's server in turn and runs wrk on every endpoint (interleaved rounds);
the median round is reported, with the latency percentiles p50/p99/p99.9
(``wrk_latency.lua``). Every load run is bounded by ``--duration``.

    python over_http.py [--duration 5] [--rounds 3] [--connections 64]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

from common import ENDPOINTS, FRAMEWORKS, HERE, Sample, latency_table, save

SERVER_CPU, LOAD_CPU = "0", "1"
# Measured over HTTP only: what freezing the start-up heap changes (tail latency).
HTTP_ONLY = {"micropie-core, gc.freeze off": "apps.core_nofreeze:app"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(cpu: str, command: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", cpu, *command]
    return command


class Server:
    def __init__(self, target: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "uvicorn", target, "--port", str(self.port),
                   "--host", "127.0.0.1", "--workers", "1", "--loop", "uvloop",
                   "--http", "httptools", "--no-access-log", "--log-level", "warning"]
        self.process = subprocess.Popen(pinned(SERVER_CPU, command), cwd=HERE,
                                        env={**os.environ, **(env or {})})
        self.url = f"http://127.0.0.1:{self.port}"

    def wait(self, path: str, expected: bytes, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as response:
                    body = response.read()
                if expected not in body:
                    raise RuntimeError(f"{self.url}{path} answered {body[:80]!r}")
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server for {self.url} did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Load:
    """What one wrk run measured: requests/second and latency percentiles (ms)."""

    def __init__(self, rate: float, latencies: dict[str, float], errors: int) -> None:
        self.rate, self.latencies, self.errors = rate, latencies, errors


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, duration: float, connections: int, headers: list[str] | None = None,
        *, allow_errors: bool = False, server_pid: int | None = None) -> Load:
    """One bounded wrk run; non-2xx/3xx answers raise unless ``allow_errors``.

    With ``server_pid``, also the server's CPU time per request ("cpu us"): unlike
    requests/second it barely moves when other processes share the machine.
    """
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency",
               "-s", str(HERE / "wrk_latency.lua")]
    for header in headers or []:
        command += ["-H", header]
    out = subprocess.run(pinned(LOAD_CPU, [*command, url]), capture_output=True, text=True,
                         timeout=duration + 30, check=True).stdout
    cpu = cpu_seconds(server_pid) - cpu_before if server_pid else 0.0
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors and not allow_errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    latencies = {f"p{p}": int(us) / 1000
                 for p, us in re.findall(r"^percentile ([\d.]+) (\d+)$", out, re.MULTILINE)}
    done = re.search(r"(\d+) requests in", out)
    if server_pid and done and int(done.group(1)):
        latencies["cpu us"] = cpu / int(done.group(1)) * 1e6
    failed = int(errors.group(1)) if errors else 0
    rate = float(match.group(1))
    if failed and done and int(done.group(1)):
        # Only successful answers count: a failing server can answer fast.
        rate *= 1 - failed / int(done.group(1))
    return Load(rate, latencies, failed)


def main(duration: float, rounds: int, connections: int, only: list[str] | None) -> list[Sample]:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is required: apt-get install wrk")
    everyone = {**FRAMEWORKS, **HTTP_ONLY}
    chosen = {name: target for name, target in everyone.items() if not only or name in only}
    samples: dict[tuple[str, str], Sample] = {}
    for round_number in range(rounds):
        for name, target in chosen.items():
            server = Server(target)
            try:
                for endpoint, (path, query, expected) in ENDPOINTS.items():
                    full = f"{path}?{query}" if query else path
                    server.wait(full, expected)
                    wrk(server.url + full, 1, connections)  # warm-up, not recorded
                    load = wrk(server.url + full, duration, connections,
                               server_pid=server.process.pid)
                    sample = samples.setdefault((name, endpoint), Sample(name, endpoint, []))
                    sample.rates.append(load.rate)
                    sample.latencies.append(load.latencies)
            finally:
                server.stop()
        print(f"round {round_number + 1}/{rounds} done", file=sys.stderr)
    return list(samples.values())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--only", nargs="*", help="framework names to run")
    args = parser.parse_args()
    samples = main(args.duration, args.rounds, args.connections, args.only)
    title = (f"HTTP over uvicorn (1 worker, uvloop, httptools), wrk -t1 -c{args.connections} "
             f"{args.duration:g}s x {args.rounds} rounds (median)")
    print(latency_table(samples, title))
    print(f"saved {save('http', samples)}")
