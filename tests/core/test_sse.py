"""Server-Sent Events: formatting, validation, headers, keep-alive, disconnects."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from micropie_core import App, sse
from micropie_core.sse import Event, format_event
from micropie_core.testing import TestClient
from micropie_core.types import Message
from tests.core.asgi_helpers import drive, run

Client = Callable[..., TestClient]


def test_format_event_fields() -> None:
    assert format_event("hi") == "data: hi\n\n"
    assert format_event("a\nb\r\nc\rd") == "data: a\ndata: b\ndata: c\ndata: d\n\n"
    assert format_event("ends\n") == "data: ends\ndata: \n\n"
    assert format_event({"k": [1, 2]}) == 'data: {"k":[1,2]}\n\n'
    assert format_event("x", event="update", id="7", retry=3000) == (
        "event: update\nid: 7\nretry: 3000\ndata: x\n\n")
    assert format_event(comment="two\nlines") == ": two\n: lines\n\n"
    assert format_event(id="") == "id: \n\n"  # an empty id resets the last event id
    assert Event("x", event="e").encode() == b"event: e\ndata: x\n\n"


@pytest.mark.parametrize("field", ["event", "id"])
@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\r\nb"])
def test_newlines_in_single_line_fields_are_rejected(field: str, value: str) -> None:
    fields: dict[str, Any] = {field: value}
    with pytest.raises(ValueError, match=f"SSE field '{field}' must be a single line"):
        format_event("x", **fields)


@pytest.mark.parametrize("retry", [-1, 1.5, "10", True])
def test_retry_must_be_a_non_negative_int(retry: Any) -> None:
    with pytest.raises(ValueError, match="'retry' must be a non-negative int"):
        format_event("x", retry=retry)


def test_other_invalid_events() -> None:
    with pytest.raises(ValueError, match="NUL"):
        format_event("x", id="a\0b")
    with pytest.raises(ValueError, match="needs at least one"):
        format_event()
    with pytest.raises(ValueError, match="keepalive"):
        sse([], keepalive=0)
    with pytest.raises(TypeError, match="iterable"):
        sse("not events")


class Events(App):
    async def feed(self) -> Any:
        async def events() -> AsyncIterator[Any]:
            yield "hello"
            yield {"event": "tick", "id": "1", "data": "line1\nline2"}
            yield Event(retry=10)

        return sse(events())

    def sync_feed(self) -> Any:
        def events() -> Iterator[Any]:
            yield "from a thread"

        return sse(events(), headers={"X-Stream": "yes"})

    async def quiet(self) -> Any:
        async def events() -> AsyncIterator[str]:
            await asyncio.sleep(0.3)
            yield "finally"

        return sse(events(), keepalive=0.05)

    async def status(self) -> Any:
        return 202, sse(["x"], keepalive=None)

    async def bad(self) -> Any:
        return sse([{"event": "a\nb", "data": "x"}])

    async def bad_later(self) -> Any:
        return sse([{"data": "fine"}, {"event": "a\nb", "data": "x"}])


def test_event_stream_response(client: Client) -> None:
    c = client(Events())
    response = c.get("/feed")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    assert response.text == (
        "data: hello\n\nevent: tick\nid: 1\ndata: line1\ndata: line2\n\nretry: 10\n\n")
    sync = c.get("/sync_feed")
    assert sync.text == "data: from a thread\n\n" and sync.headers["x-stream"] == "yes"
    assert c.get("/status").status_code == 202


def test_keep_alive_comments_fill_the_silence(client: Client) -> None:
    text = client(Events()).get("/quiet").text
    assert text.startswith(": keep-alive\n\n")
    assert text.endswith("data: finally\n\n")
    assert text.count(": keep-alive\n\n") >= 2


def test_an_invalid_first_event_is_a_logged_500(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(Events()).get("/bad")
    assert response.status_code == 500
    assert "must be a single line" in caplog.text


def test_an_invalid_later_event_ends_the_stream_with_a_logged_error(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(Events()).get("/bad_later")
    assert response.status_code == 200
    assert response.text == "data: fine\n\n"
    assert "must be a single line" in caplog.text


def test_disconnect_closes_the_event_source() -> None:
    closed: list[str] = []
    streaming = asyncio.Event()

    class Live(App):
        async def live(self) -> Any:
            async def events() -> AsyncIterator[str]:
                try:
                    while True:
                        yield "tick"
                        streaming.set()
                        await asyncio.sleep(3600)  # a quiet source: only keep-alives flow
                finally:
                    closed.append("closed")

            return sse(events(), keepalive=0.01)

    async def gone() -> Message:
        await streaming.wait()
        await asyncio.sleep(0.05)
        return {"type": "http.disconnect"}

    async def main() -> None:
        tasks = len(asyncio.all_tasks())
        result = await asyncio.wait_for(drive(Live(), "/live", [gone], method="GET"), 1)
        assert result.text.startswith("data: tick\n\n: keep-alive\n\n")
        assert len(asyncio.all_tasks()) == tasks

    run(main())
    assert closed == ["closed"]


def test_without_the_plugin_sse_is_an_error_naming_it(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(Events(plugins=["sessions"])).get("/feed")
    assert response.status_code == 500 and "'streaming' plugin" in caplog.text
