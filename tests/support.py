"""Real servers for tests: ASGI server processes and throwaway redis-server instances."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, timeout: float = 15.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server process exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


class ServerProcess:
    """An ASGI server command in a subprocess, listening on ``port`` (context manager).

    ``argv`` is the whole command line; ``cwd`` is where it runs (servers that
    import the app from the current directory need it).
    """

    def __init__(self, argv: list[str], *, port: int, cwd: Path | None = None,
                 env: dict[str, str] | None = None, scheme: str = "http") -> None:
        self.argv = argv
        self.port = port
        self.cwd = cwd
        self.env = {**os.environ, **(env or {})}
        self.scheme = scheme
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        self.process = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(self.port, process=self.process)
        except Exception as exc:
            raise RuntimeError(f"{self.argv} did not start: {self.stop()}") from exc
        return self

    def stop(self) -> str:
        """Stop the server and return what it printed."""
        if self.process is None:
            return ""
        self.process.terminate()
        try:
            output, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        self.process = None
        return output.decode("utf-8", "replace")

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class UvicornProcess(ServerProcess):
    """``uvicorn module:attr`` in a subprocess on a free port (context manager)."""

    def __init__(self, target: str, app_dir: Path, env: dict[str, str] | None = None,
                 extra_args: list[str] | None = None) -> None:
        port = free_port()
        super().__init__(
            [sys.executable, "-m", "uvicorn", target, "--app-dir", str(app_dir),
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
             *(extra_args or [])],
            port=port, env=env,
        )

    def __enter__(self) -> UvicornProcess:
        self.start()
        return self


class RedisServer:
    """A throwaway ``redis-server`` on a free port that keeps nothing on disk."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed: run the tests through scripts/test "
                "(it installs it) or set REDIS_URL"
            )
        self.binary = binary
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="micropie-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, process=self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
