"""A 1 GiB multipart upload through uvicorn, against the raw ``multipart`` parser.

Run with the test environment::

    .venv/bin/python benchmarks/upload_bench.py            # 1 GiB
    .venv/bin/python benchmarks/upload_bench.py --mib 256  # a quicker run

What it does, in one run:

1. ``raw parser``: the same body fed, 1 MiB at a time, to
   ``multipart.PushMultipartParser`` in this process (events consumed, nothing
   stored): the ceiling for parsing alone.
2. ``streams to disk``: uvicorn (a subprocess) serves a handler that saves the
   file as it arrives (``await f.save(path)``).
3. ``bare ASGI, drops the body``: uvicorn with a hand-written ASGI app that
   only receives: the ceiling of the transport (uvicorn + client) itself.
4. ``reads nothing until the end``: a handler whose parameters name a text
   field sent *after* the file, so it only starts once the whole body is in:
   the file waits in the framework's temporary file, then is saved.

The client streams the body (httpx, a generator: 1 MiB in memory at a time,
``Content-Length`` set) and checks the saved file's size and MD5. The server's
RSS is sampled from ``/proc/<pid>/status`` every 10 ms; growth is peak minus
the RSS after a warm-up upload. ``VmHWM`` (the kernel's peak) is shown too.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import multipart  # type: ignore[import-untyped]
from common import status_kib

MiB = 1024 * 1024
BOUNDARY = "bench-boundary-5f0c1d2e3a4b"
TARGET_GROWTH_MIB = 64

APP = '''
from pathlib import Path

from micropie_core import App, UploadedFile

OUT = Path({out!r})


class Uploads(App):
    async def stream(self, f: UploadedFile) -> str:
        return str(await f.save(OUT / "stream.bin"))

    async def lazy(self, f: UploadedFile, after: str) -> str:
        # `after` is sent after the file: this runs once the whole body is in.
        return str(await f.save(OUT / "lazy.bin"))


app = Uploads(max_body_size=None, body_timeout=None)


async def bare(scope, receive, send):
    """The transport's ceiling: a plain ASGI app that receives and drops the body."""
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = str(size).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
'''


def body_parts(size: int, block: bytes, with_after: bool) -> tuple[bytes, bytes, int]:
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"f\"; "
            f"filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    tail = b"\r\n"
    if with_after:
        tail += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"after\"\r\n\r\n"
                 "done\r\n").encode()
    tail += f"--{BOUNDARY}--\r\n".encode()
    return head, tail, len(head) + size + len(tail)


def stream_body(size: int, block: bytes, with_after: bool, md5: hashlib._Hash | None
                ) -> Iterator[bytes]:
    head, tail, _ = body_parts(size, block, with_after)
    yield head
    sent = 0
    while sent < size:
        piece = block if size - sent >= len(block) else block[: size - sent]
        if md5 is not None:
            md5.update(piece)
        sent += len(piece)
        yield piece
    yield tail


def raw_parser_rate(size: int, block: bytes) -> float:
    parser = multipart.PushMultipartParser(BOUNDARY)
    received = 0
    start = time.perf_counter()
    for chunk in stream_body(size, block, False, None):
        for event in parser.parse(chunk):
            if isinstance(event, bytes):
                received += len(event)
    parser.close()
    elapsed = time.perf_counter() - start
    assert received == size, (received, size)
    return size / MiB / elapsed


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak_kib = max(self.peak_kib, status_kib(self.pid, "VmRSS"))
            time.sleep(0.01)

    def stop(self) -> int:
        self.running = False
        self.join()
        return self.peak_kib


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("uvicorn exited before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("uvicorn did not start")


def upload(http: httpx.Client, path: str, size: int, block: bytes, out: Path,
           pid: int) -> dict[str, float]:
    with_after = path == "/lazy"
    _, _, length = body_parts(size, block, with_after)
    md5 = hashlib.md5()
    baseline = status_kib(pid, "VmRSS")
    sampler = RssSampler(pid)
    sampler.start()
    start = time.perf_counter()
    response = http.post(
        path, content=stream_body(size, block, with_after, md5),
        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}",
                 "content-length": str(length)},
    )
    elapsed = time.perf_counter() - start
    peak = sampler.stop()
    response.raise_for_status()
    assert response.text == str(length if path == "/bare" else size), response.text
    result = {"mib_s": size / MiB / elapsed, "seconds": elapsed,
              "growth_mib": (peak - baseline) / 1024, "baseline_mib": baseline / 1024,
              "hwm_mib": status_kib(pid, "VmHWM") / 1024}
    if path == "/bare":
        return result
    saved = out / f"{path.strip('/')}.bin"
    digest = hashlib.md5()
    with saved.open("rb") as handle:
        while data := handle.read(8 * MiB):
            digest.update(data)
    assert digest.hexdigest() == md5.hexdigest(), "saved file differs from what was sent"
    saved.unlink()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="upload size in MiB")
    args = parser.parse_args()
    size = args.mib * MiB
    block = os.urandom(MiB)
    assert BOUNDARY.encode() not in block

    print(f"upload of {args.mib} MiB, Python {sys.version.split()[0]}, "
          f"multipart {multipart.__version__}")
    raw = raw_parser_rate(size, block)

    work = Path(tempfile.mkdtemp(prefix="micropie-upload-bench-"))
    out = work / "out"
    out.mkdir()
    app_source = textwrap.dedent(APP.replace("{out!r}", repr(str(out))))
    (work / "bench_upload_app.py").write_text(app_source)
    results: dict[str, dict[str, float]] = {}
    try:
        for target, paths in (("app", ("/stream", "/lazy")), ("bare", ("/bare",))):
            port = free_port()
            server = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", f"bench_upload_app:{target}",
                 "--app-dir", str(work), "--host", "127.0.0.1", "--port", str(port),
                 "--log-level", "warning", "--no-access-log"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )
            try:
                wait_for_port(port, server)
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=None) as http:
                    for path in paths:  # warm-up: imports, first temporary file
                        upload(http, path, 8 * MiB, block, out, server.pid)
                    for path in paths:
                        results[path] = upload(http, path, size, block, out, server.pid)
            finally:
                server.terminate()
                output, _ = server.communicate(timeout=10)
            if output.strip():
                print("server output:\n" + output.decode("utf-8", "replace"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{'':34} {'MiB/s':>8} {'vs raw':>7} {'seconds':>8} {'RSS growth':>11}")
    print(f"{'raw multipart parser (in-process)':34} {raw:8.0f} {'1.00':>7}")
    labels = {"/stream": "handler streams to disk", "/bare": "bare ASGI app, drops the body",
              "/lazy": "handler reads nothing till end"}
    ok = True
    for path in ("/stream", "/lazy", "/bare"):
        r = results[path]
        ok = ok and (path == "/bare" or r["growth_mib"] <= TARGET_GROWTH_MIB)
        print(f"{labels[path]:34} {r['mib_s']:8.0f} {r['mib_s'] / raw:7.2f} "
              f"{r['seconds']:8.1f} {r['growth_mib']:8.1f} MiB")
    last = results["/lazy"]
    print(f"\nserver RSS after warm-up {results['/stream']['baseline_mib']:.1f} MiB, "
          f"VmHWM at the end {last['hwm_mib']:.1f} MiB; target growth <= "
          f"{TARGET_GROWTH_MIB} MiB: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
