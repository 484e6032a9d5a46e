"""Driving the raw ASGI app with generated requests, for the hypothesis suites.

:func:`exchange` plays the server: it sends a scope and a list of body
messages (possibly cut short by a disconnect), collects what the app sends and
fails on a hang (every exchange is bounded by :data:`HANG_TIMEOUT`), on an
exception escaping the app and on a malformed reply.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hypothesis import strategies as st

from micropie_core.types import ASGIApp, Message, Scope

#: Seconds one exchange may take before it counts as a hang. Generous: CI
#: machines are slow and shared; a real hang waits on a body timeout (10 s+).
HANG_TIMEOUT = 5.0


@dataclass
class Reply:
    status: int | None = None
    body: bytearray = field(default_factory=bytearray)
    complete: bool = False


def scope_for(
    method: str, path: str, raw_path: bytes | None, query: bytes,
    headers: list[tuple[bytes, bytes]], http_version: str = "1.1",
) -> Scope:
    scope: Scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": http_version,
        "method": method, "scheme": "http", "path": path, "root_path": "",
        "query_string": query, "headers": headers,
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }
    if raw_path is not None:
        scope["raw_path"] = raw_path
    return scope


async def exchange(app: ASGIApp, scope: Scope, messages: list[Message]) -> Reply:
    """Run one request; a message ``{"type": "http.disconnect"}`` ends the client early."""
    reply = Reply()
    finished = asyncio.Event()
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        assert not reply.complete, f"message after the response ended: {message['type']}"
        if message["type"] == "http.response.start":
            assert reply.status is None, "two http.response.start messages"
            reply.status = message["status"]
        elif message["type"] == "http.response.body":
            assert reply.status is not None, "body before http.response.start"
            reply.body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                reply.complete = True
                finished.set()

    try:
        async with asyncio.timeout(HANG_TIMEOUT):
            await app(scope, receive, send)
    except TimeoutError:
        raise AssertionError(f"the app hung on {scope['method']} {scope['path']!r}") from None
    finally:
        finished.set()
    return reply


def check(reply: Reply, messages: list[Message]) -> None:
    """Never a 500; a client that stayed gets a complete response."""
    disconnected = any(m["type"] == "http.disconnect" for m in messages)
    if not disconnected:
        assert reply.status is not None and reply.complete, "no complete response"
    if reply.status is not None:
        assert reply.status != 500, bytes(reply.body[:2000]).decode("latin-1")


@st.composite
def chunked(draw: st.DrawFn, body: bytes, *, allow_disconnect: bool = True) -> list[Message]:
    """``body`` cut into ``http.request`` messages at random offsets, maybe a disconnect."""
    cuts = sorted(draw(st.sets(st.integers(0, len(body)), max_size=8)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    messages: list[Message] = [
        {"type": "http.request", "body": p, "more_body": i < len(pieces) - 1}
        for i, p in enumerate(pieces)
    ]
    if allow_disconnect and draw(st.integers(0, 9)) == 0:
        at = draw(st.integers(0, len(messages) - 1))
        messages = [*messages[:at], {"type": "http.disconnect"}]
    return messages


def body_headers(content_type: bytes, body: bytes, *, declare: bool) -> list[tuple[bytes, bytes]]:
    """Content-Type plus either a true Content-Length or chunked framing."""
    framing = ((b"content-length", str(len(body)).encode()) if declare
               else (b"transfer-encoding", b"chunked"))
    return [(b"host", b"fuzz"), (b"content-type", content_type), framing]
