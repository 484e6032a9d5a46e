"""Mounting another ASGI app from middleware (MicroPie's ``request._subapp``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote_to_bytes

from .requests import Request
from .responses import encode_extra_headers
from .routing import tail_start
from .types import Message, Receive, Send


async def hand_off_to_subapp(request: Request, receive: Receive, send: Send) -> None:
    """Call ``request._subapp`` with the path rewritten to ``request._subapp_path``.

    ``request._subapp_mount_path`` is appended to ``root_path``. A body the
    parent already read is replayed to the sub-app, then ``receive`` continues
    with the server's own messages (such as ``http.disconnect``).

    A ``multipart/form-data`` body cannot be replayed: it is being streamed into
    ``request.files``. As MicroPie does, the parent parses it to its end and
    hands the result over in the scope (``body_params``, ``files``,
    ``body_parsed``); the sub-app receives an empty body. A micropie-core (or
    MicroPie) sub-app picks the fields and files up from the scope.

    The session is shared, as in MicroPie: the parent's ``request.session``
    goes in ``scope["session"]``, where the sub-app finds it, and the parent
    saves it and adds its cookie when the sub-app starts its response.
    """
    scope: dict[str, Any] = dict(request.scope)
    scope["path"] = getattr(request, "_subapp_path", request.path) or "/"
    mount = str(getattr(request, "_subapp_mount_path", "")).strip("/")
    root = request.scope.get("root_path", "")
    scope["root_path"] = f"{root}/{mount}" if mount else root
    scope["raw_path"] = _raw_path_of(request.scope.get("raw_path"), scope["path"])
    replay: list[Message] = []
    if request._form_reader is not None:
        # A partly consumed receive() stream would start the child mid-boundary.
        await request.load_form()
        scope.update(body_params=request.body_params, files=request.files, body_parsed=True)
        replay.append({"type": "http.request", "body": b"", "more_body": False})
    elif request.body_parsed:
        replay.append({"type": "http.request", "body": request._body, "more_body": False})

    async def sub_receive() -> Message:
        if replay:
            return replay.pop()
        return await receive()

    app = request.app
    if app is not None and app._sessions.store is not None:
        scope["session"] = request.session
        send = _committing_session(request, send)
    await request._subapp(scope, sub_receive, send)


def _committing_session(request: Request, send: Send) -> Send:
    """``send`` that saves the shared session when the response starts and adds its cookie."""
    assert request.app is not None

    async def send_with_session(message: Message) -> None:
        if message["type"] == "http.response.start" and (
            request._session or request._session_id is not None
        ):
            added: list[tuple[str, str]] = []
            await request.app._sessions.commit(request, added)  # type: ignore[union-attr]
            encoded, _ = encode_extra_headers(added, strict=True)
            message = {**message, "headers": [*message.get("headers", []), *encoded]}
        await send(message)

    return send_with_session
def _raw_path_of(parent_raw: bytes | None, path: str) -> bytes:
    """The sub-app's ``raw_path``: the tail of the parent's that decodes to ``path``.

    So an encoded slash (``a%2Fb``) stays one segment in the sub-app too; a
    path the middleware made up is percent-encoded afresh (never decoded twice).
    """
    if parent_raw:
        raw = parent_raw.partition(b"?")[0].lstrip(b"/").split(b"/")
        decoded = [unquote_to_bytes(s).decode("utf-8", "replace") for s in raw]
        start = tail_start(decoded, path)
        if start is not None:
            return b"/" + b"/".join(raw[start:])
    return quote(path, safe="/!$&'()*+,;=:@~").encode("ascii")
