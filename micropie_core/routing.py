"""The route table: which methods of an App subclass are handlers, decided once."""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from ._records import Record
from .binding import Param, plan_params
from .config import did_you_mean
from .errors import HTTPError

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP method is a token (RFC 9110)

#: The methods ``_methods`` accepts without more ado: RFC 9110's and PATCH (RFC 5789).
#: An App lists others it really serves (WebDAV's PROPFIND, a cache's PURGE, ...) in
#: its ``_extension_methods`` class attribute.
STANDARD_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)


class Route(Record):
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


def websocket_handler_names(cls: type, base: type) -> list[str]:
    """Names of the ``ws_*`` functions defined on ``cls`` below ``base`` (sorted)."""
    framework = set(base.__mro__)
    return sorted({
        name for klass in cls.__mro__ if klass not in framework
        for name, value in vars(klass).items()
        if name.startswith("ws_") and isinstance(value, (types.FunctionType, staticmethod))
    })


def check_handler_names(app: object, base: type, handlers: Iterable[str]) -> None:
    """Refuse handlers whose names the App API (or a plugin) uses for itself.

    Such a handler silently breaks the app (a handler named ``startup`` replaces
    the lifespan method, ``request`` the request property, ...), so it is an error
    at construction. Called at the end of ``App.__init__``, when the instance
    attributes the core and plugins set exist.
    """
    cls = type(app)
    api = {name for name in [*dir(base), *vars(app)] if not name.startswith("_")}
    clashes = sorted(name for name in handlers if name in api)
    if clashes:
        name = clashes[0]
        what = "method or property" if hasattr(base, name) else "attribute"
        raise TypeError(
            f"{cls.__name__}.{name} is defined as a handler, but {name!r} is an App "
            f"{what} the framework uses itself, so the app would break. Rename the "
            f"handler (e.g. {name}_page); to keep the URL /{name}, let index take "
            "*segments and dispatch on the first one. App names a handler cannot "
            f"take: {', '.join(sorted(api))}."
            + (f" Also clashing: {', '.join(clashes[1:])}." if len(clashes) > 1 else "")
        )


def build_routes(
    cls: type,
    base: type,
    methods: Mapping[str, Iterable[str]],
    body_limits: Mapping[str, int | None],
    extension_methods: Collection[str] = (),
) -> dict[str, Route]:
    """Build the route table of an App subclass; raise on a bad configuration."""
    handlers = _defined_handlers(cls, base)
    known_methods = STANDARD_METHODS | _extension_methods(cls, extension_methods)
    for table_name, table in (("_methods", methods), ("_max_body_size", body_limits)):
        for name in table:
            if name not in handlers:
                raise ValueError(
                    f"{cls.__name__}.{table_name} names {name!r}, which is not a handler "
                    f"of {cls.__name__}. Handlers: {', '.join(sorted(handlers)) or 'none'}."
                )
    routes = {}
    for name, function in handlers.items():
        routes[name] = _build_route(cls, name, function, methods, body_limits, known_methods)
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
            return _build_route(cls, name, value, {}, {}, STANDARD_METHODS)
    return None


def _build_route(
    cls: type,
    name: str,
    function: Callable[..., Any],
    methods: Mapping[str, Iterable[str]],
    body_limits: Mapping[str, int | None],
    known_methods: frozenset[str],
) -> Route:
    """One handler's route: its binding plan, allowed methods and body limit."""
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())[1:]  # drop self
    allowed = None
    allow_header = ""
    if name in methods:
        wanted = {m.upper() for m in _method_list(cls, name, methods[name])}
        _check_known_methods(cls, name, wanted, known_methods)
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


def _extension_methods(cls: type, given: Collection[str]) -> frozenset[str]:
    if isinstance(given, str) or not all(
        isinstance(m, str) and _TOKEN.fullmatch(m) for m in given
    ):
        raise TypeError(
            f"{cls.__name__}._extension_methods expects a collection of HTTP method "
            f"names such as {{'PURGE', 'PROPFIND'}}, got {given!r}."
        )
    return frozenset(m.upper() for m in given)


def _check_known_methods(
    cls: type, name: str, wanted: set[str], known: frozenset[str]
) -> None:
    for method in sorted(wanted - known):
        hint = did_you_mean(method, sorted(known))
        raise ValueError(
            f"{cls.__name__}._methods[{name!r}] lists {method!r}, which is not an HTTP "
            f"method.{hint} Standard methods: {', '.join(sorted(STANDARD_METHODS))}. "
            f"If your app really serves the extension method {method!r}, declare it: "
            f"_extension_methods = {{{method!r}}}."
        )


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
    """``/a/b`` → ``["a", "b"]``; ``/a/`` → ``["a", ""]``; ``/`` and ``//`` → ``[]``.

    As in MicroPie, leading slashes are dropped and every other slash splits, so
    a trailing slash passes an empty last segment and inner empty segments are kept.
    """
    stripped = path.lstrip("/")
    return stripped.split("/") if stripped else []


def path_segments(path: str, raw_path: bytes | None, root_path: str = "") -> list[str]:
    """The decoded path segments a request routes on (handler name first).

    A ``path`` that starts with ``root_path`` has it removed first: servers
    following ASGI 3 (uvicorn ``--root-path``) put the prefix in ``path`` and
    ``raw_path``, older ones and mounting middleware leave it out of ``path``.

    Split on ``raw_path`` when the server gives it and it has percent-escapes,
    then percent-decode each segment (UTF-8), so ``/greet/a%2Fb`` is the two
    segments ``greet`` and ``a/b``. ``path`` decides which part of ``raw_path``
    is ours: when the server put a ``root_path`` prefix in ``raw_path`` (or a
    parent app mounted this one) only the matching trailing segments are kept;
    when the two disagree altogether, ``path`` is split instead.

    Raises ``HTTPError(400)`` for an escape that is not UTF-8 and
    ``HTTPError(404)`` for a segment that is ``.`` or ``..`` or contains NUL
    (however it was encoded): none of them can name anything a handler serves.
    """
    if root_path and path.startswith(root_path) and path[len(root_path):][:1] in ("/", ""):
        path = path[len(root_path):] or "/"
    if raw_path is None or b"%" not in raw_path:
        segments = split_path(path)
    else:
        segments = _decoded_raw_segments(path, raw_path)
    if "\x00" in path or "." in path:
        for segment in segments:
            if segment in (".", "..") or "\x00" in segment:
                raise HTTPError(404)
    return segments


def _decoded_raw_segments(path: str, raw_path: bytes) -> list[str]:
    raw = raw_path.partition(b"?")[0].lstrip(b"/")  # some servers keep the query
    if not raw:
        return split_path(path)
    try:
        decoded = [unquote_to_bytes(s).decode("utf-8") for s in raw.split(b"/")]
    except UnicodeDecodeError:
        raise HTTPError(400, "The URL path is not valid UTF-8 once percent-decoded") from None
    start = tail_start(decoded, path)
    return split_path(path) if start is None else decoded[start:]


def tail_start(decoded: list[str], path: str) -> int | None:
    """The index from which ``decoded`` segments, joined by ``/``, spell ``path``.

    Leading segments (a ``root_path`` or mount prefix) are dropped until what
    is left is ``path``; joins are only compared where the lengths match, so
    this is linear in the length of the path. ``None`` if no tail matches.
    """
    wanted = path.lstrip("/")
    length = sum(len(s) for s in decoded) + len(decoded) - 1
    for start, segment in enumerate(decoded):
        if length == len(wanted) and "/".join(decoded[start:]) == wanted:
            return start
        length -= len(segment) + 1
    return None
