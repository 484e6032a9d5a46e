"""The ASGI lifespan protocol: startup and shutdown with failures reported and logged."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .types import Receive, Scope, Send

if TYPE_CHECKING:
    from .app import App

logger = logging.getLogger("micropie")


async def run_lifespan(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one lifespan connection: startup, then shutdown."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await app.startup()
            except Exception as exc:
                logger.exception("Application startup failed")
                await send({"type": "lifespan.startup.failed", "message": _describe(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                await app.shutdown()
            except Exception as exc:
                logger.exception("Application shutdown failed")
                await send({"type": "lifespan.shutdown.failed", "message": _describe(exc)})
                return
            await send({"type": "lifespan.shutdown.complete"})
            return


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
