"""WebSocket benchmark: micropie-ws against a bare ASGI app, both served by uvicorn.

    python benchmarks/ws_bench.py [--seconds 5] [--connections 1,16] [--clients 1000]

Measures, in one run and with the same client:

* echo round trips per second (send a message, wait for the echo) over
  ``--connections`` concurrent connections, for a bare ASGI echo app and for
  a MicroPie ``ws_echo`` handler;
* the time for one ``app.broadcast`` to reach ``--clients`` connected clients
  (from the moment the triggering message is sent until the last client has
  the broadcast; median of several rounds).

Each server is a uvicorn subprocess (one worker, default settings) serving
an app defined in this file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


# ----------------------------------------------------------------------- apps


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The baseline: the least an ASGI app can do to echo WebSocket messages."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        await send({"type": "websocket.send", "text": message.get("text"),
                    "bytes": message.get("bytes")})


def _micropie_app() -> Any:
    from micropie_ws import WebSocket

    from micropie_core import App

    class Bench(App):
        async def ws_echo(self, ws: WebSocket) -> None:
            await ws.accept()
            async for message in ws:
                if isinstance(message, str):
                    await ws.send_text(message)
                else:
                    await ws.send_bytes(message)

        async def ws_listen(self, ws: WebSocket) -> None:
            await ws.accept()
            await ws.join("bench")
            await ws.send_text("ready")
            async for _ in ws:
                pass

        async def ws_trigger(self, ws: WebSocket) -> None:
            await ws.accept()
            async for message in ws:
                await self.broadcast("bench", message)  # type: ignore[attr-defined]

    return Bench(plugins=["ws", "sessions"])


if os.environ.get("WS_BENCH_SERVE") == "micropie":
    micropie_app = _micropie_app()


# --------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, target: str) -> None:
        self.target = target
        self.port = _free_port()
        env = {**os.environ, "WS_BENCH_SERVE": "micropie" if "micropie" in target else "bare"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", f"ws_bench:{target}", "--app-dir", str(HERE),
             "--port", str(self.port), "--log-level", "error", "--ws-max-size", "1048576"],
            env=env,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"uvicorn serving {target} did not start")

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# -------------------------------------------------------------------- clients


def _connect(url: str) -> Any:
    from websockets.asyncio.client import connect

    return connect(url, proxy=None, compression=None, max_queue=None, ping_interval=None,
                   open_timeout=60)


async def echo_rate(url: str, connections: int, seconds: float) -> float:
    """Round trips per second over ``connections`` connections, each one message at a time."""
    payload = "x" * 32
    sockets = [await _connect(url) for _ in range(connections)]
    counts = [0] * connections
    stop_at = 0.0

    async def loop(index: int) -> None:
        ws = sockets[index]
        while time.perf_counter() < stop_at:
            await ws.send(payload)
            await ws.recv()
            counts[index] += 1

    try:
        stop_at = time.perf_counter() + 0.5  # warm up
        await asyncio.gather(*(loop(i) for i in range(connections)))
        counts = [0] * connections
        start = time.perf_counter()
        stop_at = start + seconds
        await asyncio.gather(*(loop(i) for i in range(connections)))
        elapsed = time.perf_counter() - start
    finally:
        for ws in sockets:
            await ws.close()
    return sum(counts) / elapsed


async def broadcast_fanout(server: Server, clients: int, rounds: int) -> list[float]:
    """Seconds from sending the trigger until all ``clients`` have the broadcast, per round."""
    listeners = []
    for start in range(0, clients, 100):  # connect in batches
        batch = await asyncio.gather(*(_connect(server.url("/listen"))
                                       for _ in range(start, min(clients, start + 100))))
        listeners.extend(batch)
    await asyncio.gather(*(ws.recv() for ws in listeners))  # "ready": joined
    trigger = await _connect(server.url("/trigger"))
    timings = []
    try:
        for round_number in range(rounds):
            message = f"round {round_number}"
            waiting = [asyncio.ensure_future(ws.recv()) for ws in listeners]
            await asyncio.sleep(0.05)  # every receiver is waiting
            started = time.perf_counter()
            await trigger.send(message)
            received = await asyncio.gather(*waiting)
            timings.append(time.perf_counter() - started)
            assert all(item == message for item in received)
    finally:
        await trigger.close()
        await asyncio.gather(*(ws.close() for ws in listeners))
    return timings


# ----------------------------------------------------------------------- main


async def main(args: argparse.Namespace) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 4 * args.clients + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    connection_counts = [int(n) for n in args.connections.split(",")]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; uvicorn, one worker each")
    print(f"echo round trips/s (best of {args.repeat} alternating runs, {args.seconds:g} s per "
          "figure, 32-byte text messages):")
    servers = {"bare ASGI": Server("bare_app"), "micropie-ws": Server("micropie_app")}
    try:
        for connections in connection_counts:
            # Alternate the two apps and keep each one's best round, so that
            # noise from the rest of the machine hits both alike.
            figures = dict.fromkeys(servers, 0.0)
            for _ in range(args.repeat):
                for name, server in servers.items():
                    rate = await echo_rate(server.url("/echo"), connections,
                                           args.seconds / args.repeat)
                    figures[name] = max(figures[name], rate)
            ratio = figures["micropie-ws"] / figures["bare ASGI"]
            print(f"  {connections:>3} connection(s): bare ASGI {figures['bare ASGI']:>8.0f}/s   "
                  f"micropie-ws {figures['micropie-ws']:>8.0f}/s   ({ratio:.0%} of bare)")
    finally:
        for server in servers.values():
            server.stop()
    server = Server("micropie_app")
    try:
        timings = await broadcast_fanout(server, args.clients, args.rounds)
    finally:
        server.stop()
    median = statistics.median(timings) * 1000
    print(f"one broadcast to {args.clients} clients: median {median:.1f} ms, "
          f"best {min(timings) * 1000:.1f} ms, worst {max(timings) * 1000:.1f} ms "
          f"({args.rounds} rounds)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", default="1,16")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
