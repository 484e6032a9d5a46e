"""Instructions per request over HTTP, server included, counted by valgrind.

``instructions.py`` counts what each framework executes when driven
in-process; this counts what a whole request costs a real server process:
uvicorn (one worker, uvloop, httptools) with each framework's app runs under
``valgrind --tool=callgrind``, and one keep-alive client in this process sends
the requests. After a warm-up, ``callgrind_control -z`` zeroes the counters
before an endpoint's requests and ``callgrind_control -d`` dumps them after,
so each total holds exactly that endpoint's requests (plus the server's idle
timers for those seconds, a few hundred instructions per second).

This is the noise-free counterpart of ``over_http.py``: requests/second on a
shared 2-core machine moves by ±10-30 % between rounds, these counts by well
under 1 %. They count instructions, not time (no cache misses, no syscall
time in the kernel), and one connection, not 64. glibc malloc's state also
differs from one server process to another: ``micropie-core`` and
``micropie-core + plugins`` execute the same Python per request, yet differ
by ~2k instructions, all inside ``malloc``/``free``; read differences under
~2 % as not the framework's.

    python instructions_http.py [--requests 500] [--only micropie-core BlackSheep]
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import BASELINE, ENDPOINTS, FRAMEWORKS, HERE, PEER, save
from over_http import free_port

WARM_UP = 300
START_TIMEOUT = 180.0  # seconds: uvicorn and the app import ~50x slower under valgrind


class CountedServer:
    """uvicorn serving one app under callgrind, with one keep-alive client."""

    def __init__(self, target: str, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        command = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={directory}/callgrind.out",
            sys.executable, "-m", "uvicorn", target, "--port", str(self.port),
            "--host", "127.0.0.1", "--workers", "1", "--loop", "uvloop", "--http", "httptools",
            "--no-access-log", "--log-level", "warning",
        ]
        # A fixed hash seed: dict and set layouts, hence the counts, repeat exactly.
        environment = {**os.environ, "PYTHONHASHSEED": "0"}
        self.process = subprocess.Popen(command, cwd=HERE, env=environment,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.connection: http.client.HTTPConnection | None = None

    def connect(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                connection.connect()
            except OSError:
                connection.close()
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(self.failure("did not start")) from None
                time.sleep(0.5)
                continue
            self.connection = connection
            return

    def get(self, url: str, expected: bytes) -> None:
        assert self.connection is not None
        self.connection.request("GET", url)
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200 or expected not in body:
            raise RuntimeError(f"GET {url} answered {response.status} {body[:80]!r}")

    def control(self, option: str) -> None:
        subprocess.run(["callgrind_control", option, str(self.process.pid)],
                       capture_output=True, check=True, timeout=60)

    def dumped_total(self, before: set[Path]) -> int:
        """The instruction total of the dump that appeared since ``before``."""
        deadline = time.monotonic() + 60
        while True:
            new = set(self.directory.glob("callgrind.out.*")) - before
            for path in new:
                text = path.read_text()
                for line in text.splitlines():
                    if line.startswith(("summary:", "totals:")):
                        return int(line.split()[1])
            if time.monotonic() > deadline:
                raise RuntimeError(self.failure("wrote no dump after callgrind_control -d"))
            time.sleep(0.2)

    def failure(self, what: str) -> str:
        return f"uvicorn under callgrind (port {self.port}) {what}"

    def stop(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def count(name: str, target: str, requests: int) -> dict[str, float]:
    """Instructions per request of each endpoint, server included, for one framework."""
    with tempfile.TemporaryDirectory(prefix="instructions-http-") as directory:
        server = CountedServer(target, Path(directory))
        try:
            server.connect()
            urls = {endpoint: (path + (f"?{query}" if query else ""), expected)
                    for endpoint, (path, query, expected) in ENDPOINTS.items()}
            for url, expected in urls.values():
                for _ in range(WARM_UP):
                    server.get(url, expected)
            counts = {}
            for endpoint, (url, expected) in urls.items():
                before = set(Path(directory).glob("callgrind.out.*"))
                server.control("-z")
                for _ in range(requests):
                    server.get(url, expected)
                server.control("-d")
                counts[endpoint] = server.dumped_total(before) / requests
        except Exception as exc:
            raise RuntimeError(f"{name}: {exc}") from exc
        finally:
            server.stop()
    return counts


def report(counts: dict[str, dict[str, float]], requests: int) -> str:
    lines = [
        f"### Instructions per request over HTTP, server included (callgrind, uvicorn "
        f"1 worker, 1 keep-alive connection, {requests:,} requests per endpoint)", "",
        f"Counted, not timed. x {BASELINE} = its count / this count (the share of a "
        f"bare app's speed this cost allows); x {PEER} = {PEER}'s count / this count "
        "(above 1: fewer instructions).", "",
        f"| endpoint | framework | instructions | x {BASELINE} | x {PEER} |",
        "|---|---|---:|---:|---:|",
    ]
    for endpoint in ENDPOINTS:
        floor = counts.get(BASELINE, {}).get(endpoint)
        peer = counts.get(PEER, {}).get(endpoint)
        for name, per_endpoint in counts.items():
            value = per_endpoint[endpoint]
            bare = f"{floor / value:.2f}" if floor else ""
            versus = f"{peer / value:.2f}" if peer else ""
            lines.append(f"| {endpoint} | {name} | {value:,.0f} | {bare} | {versus} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--only", nargs="*", help="framework names to run")
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not on PATH: install valgrind (apt-get install valgrind)")
    chosen = {name: target for name, target in FRAMEWORKS.items()
              if not args.only or name in args.only}
    # callgrind runs the server single-threaded: one server per core.
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        futures = {name: pool.submit(count, name, target, args.requests)
                   for name, target in chosen.items()}
        counts = {name: future.result() for name, future in futures.items()}
    text = report(counts, args.requests)
    print(text)
    print(f"saved {save('instructions_http', [], {'counts': counts, 'report': text})}")


if __name__ == "__main__":
    main()
