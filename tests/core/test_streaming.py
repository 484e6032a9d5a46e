"""The built-in ``streaming`` plugin: generators stream, disconnects stop them."""

from __future__ import annotations

import asyncio
import logging
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from micropie_core import App, HTTPError
from micropie_core.testing import TestClient
from micropie_core.types import Message
from tests.core.asgi_helpers import drive, run
from tests.support import UvicornProcess

Client = Callable[..., TestClient]


class Ticks:
    """An async iterable that is not a generator."""

    def __aiter__(self) -> AsyncIterator[bytes]:
        self.n = 0
        return self

    async def __anext__(self) -> bytes:
        self.n += 1
        if self.n > 3:
            raise StopAsyncIteration
        return f"t{self.n};".encode()


class Streams(App):
    async def agen(self) -> Any:
        async def numbers() -> AsyncIterator[str]:
            for i in range(3):
                await asyncio.sleep(0)
                yield f"{i},"

        return numbers()

    def sgen(self) -> Any:
        def lines() -> Iterator[bytes]:
            for i in range(3):
                yield f"{i}:{threading.current_thread() is threading.main_thread()};".encode()

        return lines()

    async def loop_thread(self) -> Any:
        loop_thread = threading.current_thread()

        def lines() -> Iterator[str]:
            yield str(threading.current_thread() is loop_thread)

        return lines()

    async def iterable(self) -> Any:
        return Ticks()

    async def iterator(self) -> Any:
        return iter(["a", b"b", "c"])

    async def tuple(self) -> Any:
        async def body() -> AsyncIterator[str]:
            yield "{}"

        return 201, body(), {"Content-Type": "application/json", "X-Extra": "1"}


def test_async_sync_and_iterable_bodies_stream(client: Client) -> None:
    c = client(Streams())
    response = c.get("/agen")
    assert response.text == "0,1,2,"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "content-length" not in response.headers
    assert c.get("/sgen").text == "0:False;1:False;2:False;"
    assert c.get("/loop_thread").text == "False"  # sync generators never run on the loop
    assert c.get("/iterable").text == "t1;t2;t3;"
    assert c.get("/iterator").text == "abc"


def test_status_and_headers_from_a_tuple_apply(client: Client) -> None:
    response = client(Streams()).get("/tuple")
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-extra"] == "1"
    assert response.json() == {}


def test_head_sends_headers_and_no_body(client: Client) -> None:
    response = client(Streams()).head("/agen")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_generator_failing_midway_is_logged_and_the_body_left_incomplete(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Breaks(App):
        async def broken(self) -> Any:
            async def body() -> AsyncIterator[str]:
                yield "partial"
                raise ValueError("generator broke")

            return body()

        async def wrong_type(self) -> Any:
            async def body() -> AsyncIterator[Any]:
                yield 42

            return body()

    with caplog.at_level(logging.ERROR, logger="micropie"):
        result = run(drive(Breaks(), "/broken", [], method="GET"))
    assert result.status == 200 and result.body == b"partial"
    assert result.messages[-1].get("more_body") is True  # no final chunk: the client sees a cut
    assert "generator broke" in caplog.text
    with caplog.at_level(logging.ERROR, logger="micropie"):
        run(drive(Breaks(), "/wrong_type", [], method="GET"))
    assert "yield str or bytes" in caplog.text


class Checks(App):
    """Generators that check their input before the first chunk."""

    async def feed(self, name: str) -> Any:
        async def events() -> AsyncIterator[str]:
            if name != "news":
                raise HTTPError(404, f"No feed called {name!r}")
            yield "item;"

        return events()

    def lines(self, name: str) -> Any:
        def body() -> Iterator[str]:
            if name != "news":
                raise HTTPError(403, "Not yours")
            yield "line;"

        return body()

    async def crash(self) -> Any:
        async def body() -> AsyncIterator[str]:
            raise ValueError("checked too late")
            yield "never"

        return body()

    async def slow_start(self) -> Any:
        async def body() -> AsyncIterator[str]:
            await asyncio.sleep(0.3)  # longer than the grace: headers go out first
            yield "late;"
            yield "later;"

        return body()

    async def empty(self) -> Any:
        async def body() -> AsyncIterator[str]:
            return
            yield "never"

        return body()


def test_an_error_before_the_first_chunk_gets_its_status_not_a_broken_200(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    c = client(Checks())
    assert c.get("/feed/news").text == "item;"
    missing = c.get("/feed/sports")
    assert missing.status_code == 404 and "No feed called 'sports'" in missing.text
    assert c.get("/lines/news").text == "line;"
    assert c.get("/lines/other").status_code == 403  # sync generators too
    with caplog.at_level(logging.ERROR, logger="micropie"):
        crashed = c.get("/crash")
    assert crashed.status_code == 500 and "checked too late" in caplog.text


def test_a_slow_first_chunk_and_an_empty_stream_still_stream(client: Client) -> None:
    c = client(Checks())
    response = c.get("/slow_start")
    assert (response.status_code, response.text) == (200, "late;later;")
    empty = c.get("/empty")
    assert (empty.status_code, empty.text) == (200, "")
    assert "content-length" not in empty.headers


def test_the_generator_runs_in_one_task_whatever_the_timing(client: Client) -> None:
    tasks: list[asyncio.Task[Any] | None] = []

    class OneTask(App):
        async def steps(self, delay: float) -> Any:
            async def body() -> AsyncIterator[str]:
                # A timeout held across yields breaks if steps run in other tasks.
                async with asyncio.timeout(10):
                    for _ in range(3):
                        tasks.append(asyncio.current_task())
                        await asyncio.sleep(delay)
                        yield "."

            return body()

    c = client(OneTask())
    for delay in (0, 0.2):  # first chunk before and after the headers' grace period
        tasks.clear()
        assert c.get("/steps", params={"delay": str(delay)}).text == "..."
        assert len(set(map(id, tasks))) == 1


def test_without_the_plugin_a_generator_is_an_error_naming_it(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(Streams(plugins=["sessions"])).get("/agen")
    assert response.status_code == 500
    assert "'streaming' plugin" in caplog.text and "not active" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(Streams(block_plugins=["streaming"])).get("/sgen")
    assert response.status_code == 500 and "'streaming' plugin" in caplog.text


class Endless(App):
    """Streams forever; records when each generator's ``finally`` ran."""

    def __init__(self, after: int = 3) -> None:
        super().__init__()
        self.after = after
        self.streaming = asyncio.Event()
        self.finished: list[float] = []

    async def forever(self) -> Any:
        async def body() -> AsyncIterator[bytes]:
            try:
                n = 0
                while True:
                    yield b"x" * 100
                    n += 1
                    if n == self.after:
                        self.streaming.set()
                    await asyncio.sleep(0.001)
            finally:
                self.finished.append(time.monotonic())

        return body()

    async def forever_sync(self) -> Any:
        def body() -> Iterator[bytes]:
            try:
                n = 0
                while True:
                    yield b"y" * 100
                    n += 1
                    if n == self.after:
                        loop.call_soon_threadsafe(self.streaming.set)
                    time.sleep(0.001)
            finally:
                self.finished.append(time.monotonic())

        loop = asyncio.get_running_loop()
        return body()


def _disconnect_when(app: Endless, sent_at: list[float]) -> Callable[[], Any]:
    async def step() -> Message:
        await app.streaming.wait()
        sent_at.append(time.monotonic())
        return {"type": "http.disconnect"}

    return step


@pytest.mark.parametrize("path", ["/forever", "/forever_sync"])
def test_disconnect_cancels_the_generator_and_runs_finally_within_a_second(path: str) -> None:
    app = Endless()
    disconnected: list[float] = []

    async def main() -> None:
        result = await drive(app, path, [_disconnect_when(app, disconnected)], method="GET")
        assert result.status == 200 and len(result.body) >= 300

    run(main())
    assert len(app.finished) == 1
    assert app.finished[0] - disconnected[0] < 1.0


def test_no_task_leaks_after_1000_connect_disconnect_cycles() -> None:
    app = Endless(after=1)

    async def main() -> tuple[int, int]:
        await drive(app, "/forever", [_disconnect_when(app, [])], method="GET")  # warm up
        app.streaming = asyncio.Event()
        before = len(asyncio.all_tasks())
        for _ in range(1000):
            await drive(app, "/forever", [_disconnect_when(app, [])], method="GET")
            app.streaming = asyncio.Event()
        await asyncio.sleep(0)
        return before, len(asyncio.all_tasks())

    before, after = run(main())
    assert after == before
    assert len(app.finished) == 1001


STREAM_APP = '''
import os
import time
from pathlib import Path

from micropie_core import App

MARKERS = Path(os.environ["STREAM_MARKERS"])
CHUNK = b"0123456789abcdef" * 256  # 4 KiB


class Streamer(App):
    async def numbers(self):
        async def body():
            sent = 0
            try:
                for _ in range(10_000):
                    yield CHUNK
                    sent += 1
            finally:
                (MARKERS / "async").write_text(str(sent))
        return body()

    def numbers_sync(self):
        def body():
            sent = 0
            try:
                for _ in range(10_000):
                    yield CHUNK
                    sent += 1
            finally:
                (MARKERS / "sync").write_text(str(sent))
        return body()


app = Streamer()
'''


def test_real_client_disconnecting_halfway_stops_the_generator(tmp_path: Path) -> None:
    (tmp_path / "stream_app.py").write_text(textwrap.dedent(STREAM_APP))
    markers = tmp_path / "markers"
    markers.mkdir()
    server = UvicornProcess("stream_app:app", tmp_path, env={"STREAM_MARKERS": str(markers)})
    try:
        server.start()
        for path, marker in (("/numbers", "async"), ("/numbers_sync", "sync")):
            with httpx.Client(base_url=server.url, timeout=10) as http:
                if marker == "async":  # the control: read to the end, all 10,000 chunks
                    complete = http.get(path)
                    assert len(complete.content) == 10_000 * 4096
                    assert (markers / marker).read_text() == "10000"
                    (markers / marker).unlink()
                received = 0
                with http.stream("GET", path) as response:
                    for chunk in response.iter_raw():
                        received += len(chunk)
                        if received >= 5_000 * 4096:
                            break  # leaving the block drops the unfinished connection
            deadline = time.monotonic() + 5
            while not (markers / marker).exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert (markers / marker).exists(), f"{path}: the generator's finally never ran"
            assert int((markers / marker).read_text()) < 10_000
    finally:
        output = server.stop()
    assert "Traceback" not in output and "never retrieved" not in output, output
