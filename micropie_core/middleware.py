"""``HttpMiddleware``: MicroPie's before/after request protocol."""

from __future__ import annotations

from typing import Any

from .requests import Request


class HttpMiddleware:
    """Base class for HTTP middleware; ``app.middlewares`` runs them in order.

    ``before_request`` may return ``{"status_code", "body", "headers"}`` (each
    optional) to answer without calling the handler. ``after_request`` may
    return a dict overriding any of the response's status, body or headers.
    Returning ``None`` changes nothing. Both may be plain or ``async`` methods.
    """

    async def before_request(self, request: Request) -> dict[str, Any] | None:
        """Runs before the handler; return a dict to answer without it, else ``None``."""
        return None

    async def after_request(
        self,
        request: Request,
        status_code: int,
        response_body: Any,
        extra_headers: list[tuple[str, str]],
    ) -> dict[str, Any] | None:
        """Runs after the handler; return a dict overriding status, body or headers."""
        return None
