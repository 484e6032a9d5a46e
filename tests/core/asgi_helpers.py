"""Driving an app with hand-made ASGI messages: chunked bodies, disconnects, stalls."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from micropie_core.testing import TestClient
from micropie_core.types import ASGIApp, Message

BOUNDARY = "b0undary-x"

# One body message, or an async callable producing one (to pause, or to disconnect).
Step = Message | Callable[[], Awaitable[Message]]


def part(name: str, value: bytes | str, filename: str | None = None,
         content_type: str | None = None, boundary: str = BOUNDARY) -> bytes:
    """One multipart part, including its leading boundary line."""
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    payload = value.encode() if isinstance(value, str) else value
    return head.encode() + b"\r\n" + payload + b"\r\n"


def multipart(*parts: bytes, boundary: str = BOUNDARY) -> bytes:
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def content_type(boundary: str = BOUNDARY) -> str:
    return f"multipart/form-data; boundary={boundary}"


def chunks_of(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


def body_messages(chunks: Iterable[bytes]) -> list[Message]:
    items = list(chunks)
    return [{"type": "http.request", "body": c, "more_body": i < len(items) - 1}
            for i, c in enumerate(items)]


async def disconnect() -> Message:
    return {"type": "http.disconnect"}


@dataclass
class Result:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    messages: list[Message] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode()


async def drive(
    app: ASGIApp,
    path: str,
    steps: Sequence[Step | Any] | AsyncIterator[Message],
    *,
    method: str = "POST",
    headers: Sequence[tuple[str, str]] = (),
    http_version: str = "1.1",
) -> Result:
    """Run one request; after the steps run out, ``receive`` waits for the response's end.

    Under HTTP/1.x a body is announced with ``Transfer-Encoding: chunked`` unless
    ``headers`` give a Content-Length or Transfer-Encoding, or the method is
    GET/HEAD. Under ``http_version="2"`` or ``"3"`` nothing is added: those
    protocols frame bodies themselves, as a server delivers them.
    """
    header_list = list(headers)
    if (
        http_version in ("1.0", "1.1")
        and method not in ("GET", "HEAD")
        and not any(name.lower() in ("content-length", "transfer-encoding")
                    for name, _ in header_list)
    ):
        header_list.append(("transfer-encoding", "chunked"))
    scope = TestClient(app).build_scope("http", path, headers=header_list, method=method)
    scope["http_version"] = http_version
    result = Result()
    finished = asyncio.Event()
    pending = list(steps) if not isinstance(steps, AsyncIterator) else None

    async def receive() -> Message:
        if pending is None:
            assert isinstance(steps, AsyncIterator)
            try:
                return await anext(steps)
            except StopAsyncIteration:
                pass
        elif pending:
            step = pending.pop(0)
            return await step() if callable(step) else step
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        result.messages.append(message)
        if message["type"] == "http.response.start":
            result.status = message["status"]
            result.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            result.body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                finished.set()

    try:
        await asyncio.wait_for(app(scope, receive, send), 30)
    finally:
        finished.set()
    return result


def open_fds() -> int:
    """Open file descriptors of this process (temporary upload files among them)."""
    return len(os.listdir("/proc/self/fd"))


def run(coroutine: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coroutine

    return asyncio.run(main())
