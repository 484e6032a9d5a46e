"""Turning what handlers and middlewares return into responses."""

from __future__ import annotations

import inspect
import reprlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .responses import Response, header_list

if TYPE_CHECKING:
    from .app import App
    from .requests import Request


class ResultConverter:
    """The return-value conventions of one App (SPEC §3 "Responses").

    ``str``, ``bytes``, ``dict``/``list`` (JSON), numbers, ``None`` (204), a
    :class:`Response`, or a ``(status, body[, headers])`` tuple of those; any
    other value goes to the ``response_from_value`` hook (streaming, ...).
    """

    def __init__(self, app: App, response_from_value: Callable[..., Any] | None) -> None:
        self._app = app
        self._response_from_value = response_from_value

    def apply_changes(self, request: Request, response: Any, changes: Mapping[str, Any]) -> Any:
        """Apply an ``after_request`` answer (``body``, ``status_code``, ``headers``)."""
        if "body" in changes:
            replaced = self.body_response(request, changes["body"])
            replaced.status_code = response.status_code
            replaced.headers = response.headers
            response = replaced
        if "status_code" in changes:
            check_status(changes["status_code"], "A middleware's after_request returned ")
            response.status_code = changes["status_code"]
        if "headers" in changes:
            response.headers = header_list(changes["headers"])
        return response

    def to_response(self, request: Request, value: Any, handler: str = "") -> Any:
        """The response for a handler's return value, tuples included.

        ``handler`` names the handler in errors (a bad tuple is the app's 500,
        logged with this message, never an exception inside the server).
        """
        if type(value) is str:
            return Response(value)
        if isinstance(value, tuple):
            who = f"Handler {type(self._app).__name__}.{handler}" if handler else "A handler"
            if len(value) not in (2, 3):
                raise TypeError(
                    f"{who} returned a tuple of {len(value)} items; expected "
                    "(status, body) or (status, body, headers), e.g. return 201, {'id': 1}."
                )
            check_status(value[0], f"{who} returned {_short(value)}: ", value)
            response = self.body_response(request, value[1])
            response.status_code = value[0]
            if len(value) == 3 and value[2]:
                response.headers = header_list(value[2]) + response.headers
            return response
        return self.body_response(request, value)

    def body_response(self, request: Request, value: Any) -> Any:
        """The response for a body value (no tuple); raises for values nobody handles."""
        if isinstance(value, (str, bytes, dict, list)):
            return Response(value)
        if value is None:
            return Response(b"", 204)
        if isinstance(value, Response):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return Response(str(value))
        if self._response_from_value is not None:
            converted = self._response_from_value(app=self._app, request=request, value=value)
            if converted is not None:
                return converted
        if inspect.isgenerator(value) or inspect.isasyncgen(value) or hasattr(value, "__aiter__"):
            raise RuntimeError(
                f"A handler returned {type(value).__name__}, which streams only through the "
                "built-in 'streaming' plugin, and that plugin is not active here. Add "
                "'streaming' to App(plugins=[...]) / MICROPIE_PLUGINS or unblock it."
            )
        raise TypeError(
            f"A handler returned {type(value).__name__}; expected str, bytes, dict, list, "
            "None, a Response or a (status, body[, headers]) tuple."
        )


def middleware_response(result: Mapping[str, Any]) -> Response:
    """The response for a middleware's early answer ``{"status_code", "body", "headers"}``."""
    status = result.get("status_code", 200)
    check_status(status, "A middleware's before_request returned ")
    response = Response(result.get("body", ""), status)
    response.headers = header_list(result.get("headers")) + response.headers
    return response


def body_of(response: Any) -> Any:
    """The body a middleware's ``after_request`` sees (the object itself if streamed)."""
    return response.body if isinstance(response, Response) else response


def check_status(status: Any, found: str, result: tuple[Any, ...] | None = None) -> None:
    """Raise ``TypeError`` unless ``status`` is an int HTTP status (100-599).

    ``found`` starts the message (who returned what); for a tuple in Flask's
    order, ``(body, status)``, the message shows the tuple the right way round.
    """
    if type(status) is int and 100 <= status <= 599:
        return
    if result is not None and len(result) >= 2 and type(result[1]) is int:
        swapped = (result[1], result[0], *result[2:])
        raise TypeError(
            f"{found}the status must come first: (status, body[, headers]), not Flask's "
            f"(body, status). Write: return {_short(swapped, parens=False)}"
        )
    if type(status) is int:
        problem = f"the status {status} is not an HTTP status (100-599)"
    else:
        problem = f"the status must be an int, got {type(status).__name__} {status!r}"
    raise TypeError(f"{found}{problem}. Expected (status, body[, headers]), "
                    "e.g. return 201, {'id': 1}.")


def _short(value: tuple[Any, ...], parens: bool = True) -> str:
    inner = ", ".join(reprlib.repr(item) for item in value)
    return f"({inner})" if parens else inner
