"""Sessions over WebSockets, through the core's session protocol.

A WebSocket has exactly one chance to set a cookie: the accept response. So
a session that is new (or asked to rotate) when the handler accepts is saved
right then and its cookie goes out with the accept; later changes are saved
when the handler ends, under the same id.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from micropie_core import json_dumps
from micropie_core.sessions import UnavailableSession

if TYPE_CHECKING:
    from micropie_core import App, Request

logger = logging.getLogger("micropie")


class _Headers:
    """Stands in for a response: the session protocol only appends headers to it."""

    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] = []
        self.status_code = 101


def _session_in_use(request: Request) -> Any:
    session = request._session
    if not request._session_accessed or session is None or isinstance(
        session, UnavailableSession
    ):
        return None
    return session


async def accept_headers(app: App, request: Request) -> list[tuple[str, str]]:
    """Save a new or rotated session now and return its ``Set-Cookie`` for the accept."""
    session = _session_in_use(request)
    if session is None:
        return []
    if request._session_id is not None and not request._regenerate_session:
        return []  # the client already holds this session's cookie
    response = _Headers()
    await app._sessions.commit(request, response)
    cookies = [value for name, value in response.headers if name.lower() == "set-cookie"]
    cookie_name = app._sessions.cookie_name
    for cookie in cookies:
        name, _, rest = cookie.partition("=")
        if name.strip() != cookie_name:
            continue
        value = rest.partition(";")[0].strip().strip('"')
        if value:  # saved under a new id: later changes go to the same id
            request._session_id = value
            request._session_created = request._session_created or time.time()
            request._session_snapshot = json_dumps(dict(session))
            if hasattr(session, "modified"):
                session.modified = False
        else:  # emptied: deleted server-side, cookie expired
            request._session_id = None
    request._regenerate_session = False
    return [("set-cookie", cookie) for cookie in cookies]


async def save_at_end(app: App, request: Request) -> None:
    """Persist changes made during the connection (the cookie cannot change any more)."""
    session = _session_in_use(request)
    if session is None:
        return
    if request._regenerate_session:
        logger.warning(
            "regenerate_session() was called after the WebSocket %s was accepted; the new "
            "id could not reach the client, so the session keeps its id. Call it before "
            "ws.accept().", request.path,
        )
        request._regenerate_session = False
    if request._session_id is None and len(session):
        logger.warning(
            "The session of WebSocket %s was first filled after accept(); its cookie could "
            "not be sent, so it is not saved. Touch self.request.session before "
            "ws.accept() to create it.", request.path,
        )
        return
    try:
        await app._sessions.commit(request, _Headers())
    except Exception:
        logger.exception("Could not save the session of WebSocket %s", request.path)
