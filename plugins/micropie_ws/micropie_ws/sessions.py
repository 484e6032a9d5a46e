"""Sessions over WebSockets, through the core's session protocol.

A WebSocket has exactly one chance to set a cookie: the accept response. So,
as in MicroPie, a client without a valid session gets the cookie of a fresh id
with the accept (or of the id given to ``accept(session_id=...)``); a session
that has data by then is saved right away, and whatever the handler writes
later is saved under the same id when the connection ends, so a later HTTP
request sees it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from micropie_core.sessions import UnavailableSession

if TYPE_CHECKING:
    from micropie_core import App, Request

logger = logging.getLogger("micropie")


def _session_in_use(request: Request) -> Any:
    session = request._session
    if not request._session_accessed or session is None or isinstance(
        session, UnavailableSession
    ):
        return None
    return session


def connection_session_id(app: App, request: Request) -> str | None:
    """``ws.session_id``: the client's valid id, else one reserved for the accept's cookie."""
    if app._sessions.store is None or isinstance(request._session, UnavailableSession):
        return None
    if request._session_id is None:
        app._sessions.reserve_id(request)
    return request._session_id


async def accept_headers(
    app: App, request: Request, session_id: str | None = None
) -> list[tuple[str, str]]:
    """Settle this connection's session id and return the ``Set-Cookie`` for the accept."""
    manager = app._sessions
    if manager.store is None or isinstance(request._session, UnavailableSession):
        return []
    if request._regenerate_session and request._session_id is not None:
        if not request._session_new:
            await manager._delete(request._session_id)
        request._session_id = None
        request._regenerate_session = False
    if session_id is not None:
        manager.reserve_id(request, session_id)
    elif request._session_id is None:
        manager.reserve_id(request)
    if not request._session_new:
        return []  # the client already holds this session's cookie
    if _session_in_use(request):
        headers: list[tuple[str, str]] = []
        await manager.commit(request, headers)  # saved now under the reserved id
        cookies = [value for name, value in headers if name.lower() == "set-cookie"]
    else:
        assert request._session_id is not None
        cookies = [manager.cookie_header(request, request._session_id, max_age=manager.ttl)]
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
    try:
        await app._sessions.commit(request, [])
    except Exception:
        logger.exception("Could not save the session of WebSocket %s", request.path)
