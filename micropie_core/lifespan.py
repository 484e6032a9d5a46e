"""The ASGI lifespan protocol: startup and shutdown with failures reported and logged.

After a successful startup the heap is frozen (``gc.freeze()``, config
``gc.freeze``): what the app built while starting lives as long as the process,
and full collections then no longer walk it. Measured over HTTP (uvicorn, wrk
-c64, text endpoint): p99 9.8 -> 2.2 ms and +6 % requests/s (issue 12).
"""

from __future__ import annotations

import gc
import logging
from typing import TYPE_CHECKING

from .config import Setting
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
            if app.config["gc"]["freeze"]:
                # No gc.collect() first: on a big heap it costs tens of ms per
                # start-up (every TestClient's too); start-up's little cyclic
                # garbage stays frozen only until shutdown unfreezes it.
                gc.freeze()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if app.config["gc"]["freeze"]:
                gc.unfreeze()  # what the app held may be collected again
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


def lifespan_settings() -> list[Setting]:
    """The ``gc`` config keys: what happens to the heap after startup."""
    return [
        Setting("gc", "freeze", bool, True,
                "Freeze the heap after the lifespan startup (gc.freeze()), so full "
                "garbage collections skip what start-up built; False keeps every object "
                "in the collector's generations."),
    ]

