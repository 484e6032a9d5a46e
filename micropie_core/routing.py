"""The route table: which methods of an App subclass are handlers, decided once."""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .binding import Param, plan_params

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


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
        signature = inspect.signature(function)
        parameters = list(signature.parameters.values())[1:]  # drop self
        allowed = None
        allow_header = ""
        if name in methods:
            wanted = {m.upper() for m in methods[name]}
            if "GET" in wanted:
                wanted.add("HEAD")
            allowed = frozenset(wanted)
            allow_header = ", ".join(sorted(allowed))
        routes[name] = Route(
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
            max_body_size=body_limits.get(name),
        )
    return routes


def split_path(path: str) -> list[str]:
    """``/a/b/`` → ``["a", "b"]``; ``/`` → ``[]``. Inner empty segments are kept."""
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []
