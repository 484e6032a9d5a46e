"""WebSocket routes: ``ws_chat`` serves ``/chat``, ``ws_index`` serves ``/``.

The table is built once per app. Binding reuses the core's plan, so path
segments, then the query string, fill the handler's parameters after the
WebSocket, with the same typed conversion as HTTP handlers.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from micropie_core import App, HTTPError, Request
from micropie_core.binding import bind, plan_params
from micropie_core.routing import Route, path_segments

__all__ = ["WsRoute", "build_ws_routes", "resolve_route"]

PREFIX = "ws_"


@dataclass(frozen=True, slots=True)
class WsRoute:
    """One ``ws_*`` handler and its binding plan (or why it cannot serve)."""

    name: str
    function: Callable[..., Any]
    plan: Route | None  # the core's binding plan for the parameters after the WebSocket
    problem: str = ""  # set when the method cannot be a WebSocket handler

    def arguments(self, request: Request) -> tuple[list[Any], dict[str, Any]]:
        """Bind path then query values; ``HTTPError(400)`` when one is missing or invalid."""
        if self.plan is None:
            # A method named ws_* that cannot take connections: say why, loudly.
            raise RuntimeError(self.problem)
        if not self.plan.params:
            return [], {}
        return bind(self.plan, request)


def build_ws_routes(cls: type) -> dict[str, WsRoute]:
    """Every ``ws_*`` coroutine function defined on ``cls`` below :class:`App`."""
    framework = set(App.__mro__)
    seen: set[str] = set()
    routes: dict[str, WsRoute] = {}
    for klass in cls.__mro__:
        if klass in framework:
            continue
        for name, value in vars(klass).items():
            if name in seen or not name.startswith(PREFIX):
                continue
            seen.add(name)
            if not isinstance(value, types.FunctionType):
                continue
            routes[name] = _route(cls, name, value)
    return routes


def _route(cls: type, name: str, function: Callable[..., Any]) -> WsRoute:
    where = f"{cls.__name__}.{name}"
    if not inspect.iscoroutinefunction(function):
        return WsRoute(name, function, None,
                       f"WebSocket handler {where} must be 'async def': it runs for the life "
                       "of the connection on the event loop.")
    parameters = list(inspect.signature(function).parameters.values())[1:]  # drop self
    if not parameters or parameters[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD
    ):
        return WsRoute(name, function, None,
                       f"WebSocket handler {where} must take the WebSocket as its first "
                       f"parameter after self, e.g. `async def {name}(self, ws):`.")
    rest = parameters[1:]
    plan = Route(
        name=name,
        function=function,
        is_async=True,
        params=plan_params(function, rest),
        accepts_path_segments=False,
        has_var_keyword=any(p.kind is inspect.Parameter.VAR_KEYWORD for p in rest),
        methods=None,
        allow_header="",
        has_body_limit=False,
        max_body_size=None,
    )
    return WsRoute(name=name, function=function, plan=plan)


def handler_name(
    path: str, raw_path: bytes | None = None, root_path: str = ""
) -> tuple[str, list[str]]:
    """``/chat/lobby`` → ``("ws_chat", ["lobby"])``; ``/`` → ``("ws_index", [])``.

    Segments are those HTTP routes on (:func:`micropie_core.routing.path_segments`):
    an encoded slash stays in its segment, NUL and dot segments are a 404.
    """
    segments = path_segments(path, raw_path, root_path)
    if not segments:
        return PREFIX + "index", []
    return PREFIX + segments[0], segments[1:]


def resolve_route(
    routes: dict[str, WsRoute], request: Request, default_name: str, segments: list[str]
) -> WsRoute:
    """The route for this connection, honouring ``request._ws_route_handler``.

    A middleware may set ``request._ws_route_handler`` (``"ws_chat"`` or
    ``"chat"``) and ``request.path_params``; parameters it did not set come
    from the path as usual.
    """
    name = getattr(request, "_ws_route_handler", None) or default_name
    if not name.startswith(PREFIX):
        name = PREFIX + name
    route = routes.get(name)
    if route is None or name.startswith(PREFIX + "_"):
        raise HTTPError(404, "No WebSocket route for this path")
    if not request.path_params:
        request.path_params = segments
    return route
