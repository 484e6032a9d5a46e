"""Mounting another ASGI app from middleware (MicroPie's ``request._subapp``)."""

from __future__ import annotations

from typing import Any

from .requests import Request
from .types import Message, Receive, Send


async def hand_off_to_subapp(request: Request, receive: Receive, send: Send) -> None:
    """Call ``request._subapp`` with the path rewritten to ``request._subapp_path``.

    ``request._subapp_mount_path`` is appended to ``root_path``. A body the
    parent already read is replayed to the sub-app, then ``receive`` continues
    with the server's own messages (such as ``http.disconnect``).
    """
    scope: dict[str, Any] = dict(request.scope)
    scope["path"] = getattr(request, "_subapp_path", request.path) or "/"
    mount = str(getattr(request, "_subapp_mount_path", "")).strip("/")
    root = request.scope.get("root_path", "")
    scope["root_path"] = f"{root}/{mount}" if mount else root
    scope["raw_path"] = scope["path"].encode("utf-8")
    replay: list[Message] = []
    if request.body_parsed:
        replay.append({"type": "http.request", "body": request._body, "more_body": False})

    async def sub_receive() -> Message:
        if replay:
            return replay.pop()
        return await receive()

    await request._subapp(scope, sub_receive, send)
