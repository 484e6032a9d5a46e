"""The route table: which methods of an App subclass are handlers, decided once."""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .binding import Param, plan_params

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP method is a token (RFC 9110)


@dataclass(frozen=True, slots=True)
class Route:
    """Everything dispatch needs to know about one handler, computed at start-up."""

    name: str
    function: Callable[..., Any]
    is_async: bool
    params: tuple[Param, ...]
    accepts_path_segments: bool
    has_var_keyword: bool
    methods: frozenset[str] | None
    allow_header: str
    has_body_limit: bool  # True when max_body_size below overrides the app's
    max_body_size: int | None


def _defined_handlers(cls: type, base: type) -> dict[str, Callable[..., Any]]:
    """Plain functions defined on ``cls`` and its bases below ``base``.

    The nearest definition of a name wins, so a subclass can hide a handler by
    assigning something that is not a function to the same name.
    """
    framework = set(base.__mro__)
    seen: set[str] = set()
    handlers: dict[str, Callable[..., Any]] = {}
    for klass in cls.__mro__:
        if klass in framework:
            continue
        for name, value in vars(klass).items():
            if name in seen:
                continue
            seen.add(name)
            if name.startswith("_") or name.startswith("ws_"):
                continue
            if isinstance(value, types.FunctionType):
                handlers[name] = value
    return handlers


def build_routes(
    cls: type,
    base: type,
    methods: Mapping[str, Iterable[str]],
    body_limits: Mapping[str, int | None],
) -> dict[str, Route]:
    """Build the route table of an App subclass; raise on a bad configuration."""
    handlers = _defined_handlers(cls, base)
    for table_name, table in (("_methods", methods), ("_max_body_size", body_limits)):
        for name in table:
            if name not in handlers:
                raise ValueError(
                    f"{cls.__name__}.{table_name} names {name!r}, which is not a handler "
                    f"of {cls.__name__}. Handlers: {', '.join(sorted(handlers)) or 'none'}."
                )
    routes = {}
    for name, function in handlers.items():
        routes[name] = _build_route(cls, name, function, methods, body_limits)
    return routes


def private_route(cls: type, base: type, name: str) -> Route | None:
    """The route of ``_name``, a function defined on ``cls`` below ``base``, else ``None``.

    Only for explicit routing (``request._route_handler``): such methods are
    never routed from a URL. ``_methods`` and ``_max_body_size`` do not apply.
    """
    framework = set(base.__mro__)
    for klass in cls.__mro__:
        if klass in framework:
            return None
        value = vars(klass).get(name)
        if value is not None:
            if not isinstance(value, types.FunctionType):
                return None
            return _build_route(cls, name, value, {}, {})
    return None


def _build_route(
    cls: type,
    name: str,
    function: Callable[..., Any],
    methods: Mapping[str, Iterable[str]],
    body_limits: Mapping[str, int | None],
) -> Route:
    """One handler's route: its binding plan, allowed methods and body limit."""
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())[1:]  # drop self
    allowed = None
    allow_header = ""
    if name in methods:
        wanted = {m.upper() for m in _method_list(cls, name, methods[name])}
        if "GET" in wanted:
            wanted.add("HEAD")
        allowed = frozenset(wanted)
        allow_header = ", ".join(sorted(allowed))
    return Route(
        name=name,
        function=function,
        is_async=inspect.iscoroutinefunction(function),
        params=plan_params(function, parameters),
        accepts_path_segments=any(
            p.kind in _POSITIONAL or p.kind is inspect.Parameter.VAR_POSITIONAL
            for p in parameters
        ),
        has_var_keyword=any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters),
        methods=allowed,
        allow_header=allow_header,
        has_body_limit=name in body_limits,
        max_body_size=_body_limit(cls, name, body_limits),
    )


def _method_list(cls: type, name: str, given: Any) -> list[str]:
    """The HTTP methods ``_methods[name]`` lists; a clear error for anything else."""
    if isinstance(given, str):
        raise TypeError(
            f"{cls.__name__}._methods[{name!r}] expects a list of HTTP methods, got the "
            f"string {given!r}; write {{{name!r}: [{given!r}]}}."
        )
    try:
        listed = list(given)
    except TypeError:
        listed = None
    if not listed or not all(isinstance(m, str) and _TOKEN.fullmatch(m) for m in listed):
        raise ValueError(
            f"{cls.__name__}._methods[{name!r}] expects a non-empty list of HTTP method "
            f"names such as ['GET', 'POST'], got {given!r}."
        )
    return listed


def _body_limit(cls: type, name: str, limits: Mapping[str, int | None]) -> int | None:
    """``_max_body_size[name]``: a positive int, or ``None`` for no limit."""
    value = limits.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value <= 0):
        raise ValueError(
            f"{cls.__name__}._max_body_size[{name!r}] expects a positive number of bytes "
            f"(int) or None for no limit, got {value!r}; e.g. {{{name!r}: 1024**3}}."
        )
    return value


def split_path(path: str) -> list[str]:
    """``/a/b/`` → ``["a", "b"]``; ``/`` → ``[]``. Inner empty segments are kept."""
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []
