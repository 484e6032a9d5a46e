"""Request bodies: size limits, lying lengths, slow and vanishing clients."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from micropie_core import App
from micropie_core.testing import TestClient
from micropie_core.types import Message
from tests.core.asgi_helpers import body_messages, disconnect, drive
from tests.security.serving import assert_still_serving

Client = Callable[..., TestClient]


class Site(App):
    async def index(self) -> str:
        return "ok"

    async def size(self) -> str:
        return str(len(await self.request.body()))


def test_a_declared_length_over_the_limit_is_413_before_reading(client: Client) -> None:
    c = client(Site(max_body_size=100))
    response = c.post("/size", content=b"x" * 10, headers={"content-length": str(10**12)})
    assert response.status_code == 413
    assert_still_serving(c)


def test_more_bytes_than_declared_or_allowed_are_413(client: Client) -> None:
    c = client(Site(max_body_size=100))
    assert c.post("/size", content=[b"x" * 60, b"x" * 60]).status_code == 413  # chunked
    assert c.post("/size", content=b"x" * 101).status_code == 413
    assert c.post("/size", content=b"x" * 100).text == "100"
    assert_still_serving(c)


def test_a_client_that_stalls_gets_408_and_the_next_one_is_served() -> None:
    app = Site(body_timeout=0.05)  # whole body (or each chunk): either way a stall

    async def stall() -> dict[str, object]:
        await asyncio.sleep(10)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def main() -> tuple[int, int, str]:
        stalled = await drive(app, "/size", [
            {"type": "http.request", "body": b"x", "more_body": True}, stall])
        normal = await drive(app, "/size", body_messages([b"ab", b"c"]))
        return stalled.status, normal.status, normal.text

    assert asyncio.run(main()) == (408, 200, "3")


def test_a_client_that_disconnects_mid_body_gets_no_handler_and_no_error() -> None:
    app = Site()

    async def main() -> tuple[list[Message], str]:
        gone = await drive(app, "/size", [
            {"type": "http.request", "body": b"x", "more_body": True}, disconnect])
        normal = await drive(app, "/", [], method="GET")
        return gone.messages, normal.text

    sent, text = asyncio.run(main())
    assert sent == []  # nothing to send to a client that left
    assert text == "ok"


def test_a_body_on_a_get_is_read_within_the_same_limits(client: Client) -> None:
    c = client(Site(max_body_size=10))
    assert c.request("GET", "/size", content=b"x" * 11).status_code == 413
    assert_still_serving(c)
