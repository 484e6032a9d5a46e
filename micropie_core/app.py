"""``App``: the ASGI application users subclass; URLs map to its method names."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from . import bodies
from .binding import bind, form_names_to_wait_for
from .compat import UNSET, fold_session_arguments, one_of
from .config import Config, Setting, validate_config
from .errors import ConfigError, HTTPError
from .lifespan import lifespan_settings, run_lifespan
from .middleware import HttpMiddleware
from .plugins import PluginHost, resolve
from .requests import Request, current_request
from .responses import (
    TEXT,
    Response,
    UnsafeHeaderError,
    encode_extra_headers,
    header_list,
    plain_messages,
    safe_location,
)
from .results import ResultConverter, body_of, middleware_response
from .routing import (
    Route,
    build_routes,
    check_handler_names,
    path_segments,
    private_route,
    websocket_handler_names,
)
from .sessions import SessionBackend, SessionManager, backend_for, session_settings
from .subapps import hand_off_to_subapp
from .types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("micropie")


class App:
    """Subclass it and define handlers: ``async def greet(self, name)`` serves ``/greet/<name>``.

    Configuration lives in the constructor: body limits and timeouts as keyword
    arguments, plugin settings in ``config={section: {...}}``, plugin selection
    in ``plugins=[...]`` / ``block_plugins=[...]``. MicroPie's session
    arguments (``session_timeout``, ``session_cookie_secure``,
    ``session_id_factory``, ``session_id_validator``) set the same settings as
    ``config={"sessions": {"ttl", "secure", "id_factory", "id_validator"}}``;
    ``max_form_field_size`` is ``max_field_size``. Giving one setting both
    ways is a :class:`ConfigError`.

    Two optional class attributes tune handlers without decorators:
    ``_methods = {"submit": ["POST"]}`` restricts HTTP methods (others get 405
    with ``Allow``) and ``_max_body_size = {"upload": 1 << 30}`` overrides the
    body limit for one handler (``None`` = unlimited). ``_methods`` takes the
    standard HTTP methods; list any extension method your app serves in
    ``_extension_methods = {"PURGE"}``.

    Mistakes fail here, in the constructor, with the fix in the message: a
    handler named like an App method or attribute (``startup``, ``request``,
    ``config``, ...), ``ws_*`` handlers with no WebSocket plugin active, unknown
    plugin names, ``_methods`` values that are not HTTP methods.
    """

    _methods: ClassVar[Mapping[str, Iterable[str]]] = {}
    _max_body_size: ClassVar[Mapping[str, int | None]] = {}
    _extension_methods: ClassVar[Collection[str]] = ()

    def __init__(
        self,
        session_backend: SessionBackend | None = None,
        *,
        plugins: Sequence[str | object] | None = None,
        block_plugins: Iterable[str] = (),
        config: Mapping[str, Any] | None = None,
        debug: bool = False,
        max_body_size: int | None = bodies.DEFAULT_MAX_BODY_SIZE,
        max_form_fields: int = 1000,
        max_json_depth: int = 200,
        body_timeout: float | None = 10.0,
        body_total_timeout: float | None = 60.0,
        max_files: int = 100,
        max_field_size: int | Any | None = UNSET,
        max_part_header_size: int = 4 * bodies.KiB,
        max_part_headers: int = 8,
        max_form_field_size: int | Any | None = UNSET,
        session_timeout: int | Any = UNSET,
        session_cookie_secure: bool | Any | None = UNSET,
        session_id_factory: Callable[[], str] | Any = UNSET,
        session_id_validator: Callable[[str], str | None] | Any | None = UNSET,
    ) -> None:
        self.debug = debug
        field_size = one_of("max_field_size", max_field_size,
                            "max_form_field_size", max_form_field_size,
                            bodies.DEFAULT_MAX_FORM_FIELD_SIZE)
        if max_form_field_size is not UNSET and field_size is not None and (
            isinstance(field_size, bool) or not isinstance(field_size, int) or field_size <= 0
        ):
            raise ValueError(
                f"App(max_form_field_size=...) must be a positive int or None, got "
                f"{field_size!r}."
            )
        self.limits = bodies.BodyLimits.checked(
            max_body_size=max_body_size,
            max_form_fields=max_form_fields,
            max_json_depth=max_json_depth,
            body_timeout=body_timeout,
            body_total_timeout=body_total_timeout,
            max_files=max_files,
            max_field_size=field_size,
            max_part_header_size=max_part_header_size,
            max_part_headers=max_part_headers,
        )
        config = fold_session_arguments(config, {
            "session_timeout": session_timeout,
            "session_cookie_secure": session_cookie_secure,
            "session_id_factory": session_id_factory,
            "session_id_validator": session_id_validator,
        })
        self.middlewares: list[HttpMiddleware] = []
        self.startup_handlers: list[Callable[[], Awaitable[None] | None]] = []
        self.shutdown_handlers: list[Callable[[], Awaitable[None] | None]] = []
        self._routes: dict[str, Route] = build_routes(
            type(self), App, type(self)._methods, type(self)._max_body_size,
            type(self)._extension_methods,
        )
        self.plugins = PluginHost(plugins, block_plugins)
        declared: list[tuple[str, Setting]] = [
            ("core", s) for s in (*session_settings(), *lifespan_settings())
        ]
        for plugin_name, settings in self.plugins.each("register_settings", app=self):
            declared.extend((plugin_name, setting) for setting in settings)
        self.config: Config = validate_config(config, declared)
        self.plugins.call_app_created(self)
        store = (
            session_backend.as_store()
            if session_backend is not None
            else self.plugins.first("session_store", app=self)
        )
        store_name = self.config["sessions"]["store"]
        if store is None and store_name != "memory":
            raise ConfigError(
                f"Config sessions.store is {store_name!r}, but no active plugin provides "
                "that store. The built-in store is 'memory'; 'redis' needs "
                "`pip install micropie-sessions-redis`."
            )
        self._session_backend = session_backend
        self._sessions = SessionManager(store, self.config["sessions"])
        self._template_renderer = self.plugins.first("template_renderer", app=self)
        self._results = ResultConverter(self, self.plugins.compile_first("response_from_value"))
        self._error_response = self.plugins.compile_first("error_response")
        self._prepare_request = self.plugins.compile("prepare_request")
        self._process_response = self.plugins.compile("process_response")
        self._scope_handlers: dict[str, ASGIApp] = {}
        for plugin_name, handlers in self.plugins.each("register_scope_handlers", app=self):
            for scope_type in handlers:
                if scope_type in ("http", "lifespan"):
                    raise ConfigError(
                        f"Plugin {plugin_name!r} tried to take the {scope_type!r} scope type, "
                        "which the core serves itself. Its register_scope_handlers hook may "
                        "return handlers for other scope types only, such as 'websocket'."
                    )
            self._scope_handlers.update(handlers)
        self._asgi_stack = self._build_asgi_stack()
        self._private_routes: dict[str, Route | None] = {}
        self._started = False
        self._start_lock: asyncio.Lock | None = None
        check_handler_names(self, App, self._routes)
        self._check_websocket_handlers()

    def _check_websocket_handlers(self) -> None:
        if "websocket" in self._scope_handlers:
            return
        names = websocket_handler_names(type(self), App)
        if names:
            raise ConfigError(
                f"{type(self).__name__} defines WebSocket handlers "
                f"({', '.join(names)}), but no WebSocket plugin is active, so every "
                "handshake would be refused. Install one with `pip install micropie-ws`, "
                "and keep 'ws' in App(plugins=[...]) / MICROPIE_PLUGINS and out of "
                "block_plugins."
            )

    # ----------------------------------------------------------------- public API

    # MicroPie's documented App attributes, read from the settings they name.

    @property
    def session_backend(self) -> SessionBackend | None:
        """The session store as a MicroPie ``SessionBackend`` (``None`` without sessions).

        The backend given to the constructor, else a view of the active store
        (an ``InMemorySessionBackend`` for the memory store).
        """
        if self._session_backend is None and self._sessions.store is not None:
            self._session_backend = backend_for(self._sessions.store, self._sessions.ttl)
        return self._session_backend

    @property
    def body_timeout(self) -> float | None:
        """Longest wait for each chunk of a request body, in seconds (``None``: no limit)."""
        return self.limits.body_timeout

    @property
    def max_body_size(self) -> int | None:
        """Largest request body in bytes (``None``: no limit)."""
        return self.limits.max_body_size

    @property
    def max_form_field_size(self) -> int | None:
        """Largest multipart text field in bytes (``None``: no limit)."""
        return self.limits.max_field_size

    @property
    def session_timeout(self) -> int:
        """Seconds of inactivity before a session expires (config ``sessions.ttl``)."""
        return self._sessions.ttl

    @property
    def session_cookie_secure(self) -> bool | None:
        """Whether the session cookie is ``Secure`` (config ``sessions.secure``)."""
        return self._sessions.secure

    @property
    def session_id_factory(self) -> Callable[[], str]:
        """What makes new session ids (config ``sessions.id_factory``)."""
        return self._sessions.id_factory

    @property
    def session_id_validator(self) -> Callable[[str], str | None] | None:
        """What checks session ids from cookies (config ``sessions.id_validator``)."""
        return self._sessions.id_validator

    @property
    def env(self) -> Any:
        """The Jinja2 environment of the templates plugin, or ``None`` without one."""
        return getattr(self._template_renderer, "environment", None)

    @property
    def request(self) -> Request:
        """The request being handled in the current task (a context-local)."""
        try:
            return current_request.get()
        except LookupError:
            raise RuntimeError(
                "self.request is only available while a request is being handled; "
                "this code ran outside a handler or middleware."
            ) from None

    def _redirect(
        self, location: str, extra_headers: Iterable[tuple[str, str]] | None = None
    ) -> tuple[int, str, list[tuple[str, str]]]:
        """A ``302`` to ``location`` (safely encoded), plus any extra headers."""
        return 302, "", [("Location", safe_location(location)), *header_list(extra_headers)]

    async def _render_template(self, name: str, /, **context: Any) -> str:
        """Render template ``name`` through the templates plugin."""
        if self._template_renderer is None:
            raise RuntimeError(
                f"Cannot render {name!r}: no template plugin is active. Install one with "
                "`pip install micropie-templates` (and do not leave 'templates' out of "
                "App(plugins=...) or MICROPIE_PLUGINS)."
            )
        rendered: str = await self._template_renderer(name, context)
        return rendered

    async def startup(self) -> None:
        """Run plugin ``startup`` hooks, then ``startup_handlers`` (idempotent)."""
        if self._started:
            return
        await self.plugins.each_async("startup", app=self)
        for handler in self.startup_handlers:
            await resolve(handler())
        self._started = True

    async def shutdown(self) -> None:
        """Run ``shutdown_handlers``, then plugin ``shutdown`` hooks; all of them run."""
        errors: list[Exception] = []
        for handler in self.shutdown_handlers:
            try:
                await resolve(handler())
            except Exception as exc:
                errors.append(exc)
        errors += await self.plugins.each_async("shutdown", reverse=True, app=self)
        self._started = False
        if errors:
            raise errors[0]

    # ------------------------------------------------------------------------ ASGI

    async def _handle_other(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type = scope["type"]
        if scope_type == "lifespan":
            await run_lifespan(self, scope, receive, send)
        else:
            handler = self._scope_handlers.get(scope_type)
            if handler is None:
                if scope_type == "websocket":
                    await receive()
                    await send({"type": "websocket.close", "code": 1008})
                    return
                raise RuntimeError(
                    f"No plugin serves ASGI scope type {scope_type!r}; "
                    "install the plugin that does (e.g. micropie-ws for 'websocket')."
                )
            await handler(scope, receive, send)

    async def _ensure_started(self) -> None:
        # Servers that skip the lifespan protocol still get startup run once.
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            await self.startup()

    def _build_asgi_stack(self) -> ASGIApp | None:
        """Compose the plugins' ASGI middleware around the app, or ``None`` if there is none."""
        factories: list[tuple[str, Callable[[ASGIApp], ASGIApp]]] = []
        for plugin_name, listed in self.plugins.each("register_asgi_middleware", app=self):
            for factory in listed:
                if not callable(factory):
                    raise ConfigError(
                        f"Plugin {plugin_name!r} returned {factory!r} from "
                        "register_asgi_middleware; expected a list of callables that take "
                        "the inner ASGI app and return the wrapping one."
                    )
                factories.append((plugin_name, factory))
        if not factories:
            return None
        stack: ASGIApp = _CoreEntry(self)
        for plugin_name, factory in reversed(factories):
            stack = factory(stack)
            if not callable(stack):
                raise ConfigError(
                    f"A register_asgi_middleware factory of plugin {plugin_name!r} returned "
                    f"{stack!r}; it must return an ASGI callable (scope, receive, send)."
                )
        return stack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Plugins' ASGI middleware (register_asgi_middleware) runs first; its
        # innermost layer calls back in with the scope marked, see _CoreEntry.
        # Without any, this is one attribute test.
        stack = self._asgi_stack
        if stack is not None and scope.get(_ENTERED) is not self:
            await stack(scope, receive, send)
            return
        # HTTP is handled inline rather than in a method of its own: one coroutine
        # layer less per request measured +4% requests/second on the text endpoint.
        if scope["type"] != "http":
            await self._handle_other(scope, receive, send)
            return
        if not self._started:
            await self._ensure_started()
        request = Request(scope, receive, self)
        current_request.set(request)
        try:
            try:
                response = await self._dispatch(request, receive, send)
            finally:
                # A multipart body stops being parsed when the handler is done.
                if request._form_reader is not None:
                    await request._form_reader.aclose()
            if response is None:  # a mounted sub-app answered
                return
            if type(response) is str or type(response) is dict:
                # The commonest case, short-cut: no Response object unless a
                # process_response hook needs one to look at. Measured +15-20%
                # requests/second in-process on text and JSON, and 4 % fewer
                # instructions per session-reading request.
                if self._process_response is None:
                    if not request._session_accessed or request._session is None:
                        start, body = plain_messages(response, head=request.method == "HEAD")
                        await send(start)
                        await send(body)
                        return
                    session_headers: list[tuple[str, str]] = []
                    await self._sessions.commit(request, session_headers)
                    start, body = plain_messages(
                        response, head=request.method == "HEAD",
                        headers=encode_extra_headers(session_headers, strict=self.debug)[0],
                    )
                    await send(start)
                    await send(body)
                    return
                response = Response(response)
            if request._session is not None:
                await self._sessions.commit(request, response.headers)
        except bodies.ClientDisconnect:
            return
        except Exception as exc:
            response = self._response_for_exception(request, exc)
        if self._process_response is not None:
            try:
                await self._process_response(app=self, request=request, response=response)
            except Exception as exc:
                response = self._response_for_exception(request, exc)
        if (
            request._body_pending
            and type(response) is Response
            and response.status_code >= 400
            and scope.get("http_version", "1.1") in _HTTP1
        ):
            # An error before the body was received to its end (408, 413, a bad
            # multipart part...): the rest of the body will not be read, so the
            # server must not keep the connection for a next request. HTTP/2 and 3
            # forbid the header; their servers reset the stream instead.
            response.headers.append(("Connection", "close"))
        try:
            if type(response) is Response:
                await response.send(send, head=request.method == "HEAD", strict=self.debug)
            else:
                await response(scope, receive, send)
        except UnsafeHeaderError as exc:
            logger.exception("Response refused for %s %s", request.method, request.path)
            await self.error_response(request, 500, None, exc).send(send)

    def _response_for_exception(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPError):
            response = self.error_response(request, exc.status_code, exc.detail, None)
            response.headers.extend(exc.headers)
            return response
        logger.exception("Unhandled exception while handling %s %s", request.method, request.path,
                         exc_info=exc)
        return self.error_response(request, 500, None, exc)

    def error_response(
        self, request: Request, status_code: int, detail: str | None,
        exception: BaseException | None,
    ) -> Response:
        """The response for an error status: the ``error_response`` hook's, or a text page."""
        if self._error_response is not None:
            try:
                custom = self._error_response(
                    app=self, request=request, status_code=status_code, detail=detail,
                    exception=exception,
                )
                if custom is not None:
                    return custom  # type: ignore[no-any-return]
            except Exception:
                logger.exception("The error_response hook failed; using the default page")
        text = HTTPError(status_code, detail).text
        if exception is not None and self.debug:
            text += "\n\n" + "".join(traceback.format_exception(exception))
        return Response(text, status_code, media_type=TEXT)

    # -------------------------------------------------------------------- dispatch

    def _match(self, scope: Scope) -> tuple[Route | None, list[str]]:
        path: str = scope.get("path", "/")
        if path == "/":
            return self._routes.get("index"), []
        segments = path_segments(path, scope.get("raw_path"), scope.get("root_path", ""))
        if not segments:
            return self._routes.get("index"), []
        first = segments[0]
        route = self._routes.get(first)
        if route is not None:
            return route, segments[1:]
        if first.startswith(("_", "ws_")) or first in vars(self) or hasattr(type(self), first):
            return None, []
        index = self._routes.get("index")
        if index is not None and index.accepts_path_segments:
            return index, segments
        return None, []

    async def _read_body(
        self, request: Request, receive: Receive, route: Route | None, declared: int | None,
        first: Message | None = None, started: float | None = None,
    ) -> None:
        """Read (or, for multipart, start streaming) the body into ``request``.

        ``first`` and ``started`` come from :func:`bodies.first_message` when the
        request had no framing headers.
        """
        timed = bodies.TimedReceive(
            receive, self.limits.body_total_timeout, self.limits.body_timeout,
            first=first, started=started,
        )
        media_type = request.content_type
        limit = self.limits.max_body_size
        if route is not None and route.has_body_limit:
            limit = route.max_body_size
        if media_type == "multipart/form-data":
            # Imported on the first multipart request: the `multipart` package and
            # the tempfile machinery it pulls in are 10 ms of `import micropie_core`
            # (-X importtime, bytecode cached) that JSON/form-only apps never need.
            from .multipart import MultipartReader

            reader = MultipartReader(
                request, timed, content_type=request.headers.get("content-type") or "",
                limits=self.limits, max_body_size=limit, declared_length=declared,
            )
            request._form_reader = reader
            request.body_parsed = True
            await reader.start()
            return
        body = await bodies.read_body(timed, declared_length=declared, limit=limit)
        request._body_pending = False
        bodies.parse_body(request, body, media_type, self.limits)

    def _explicit_route(self, name: str) -> Route | None:
        """The handler a middleware named in ``request._route_handler``.

        Besides the routable handlers, that may be a ``_private`` method defined
        on the subclass: never routed implicitly, reachable only this way
        (MicroPie's explicit-routing pattern). Built on first use, then cached.
        """
        route = self._routes.get(name)
        if route is not None or not name.startswith("_") or name.startswith("__"):
            return route
        cache = self._private_routes
        if name not in cache:
            cache[name] = private_route(type(self), App, name)
        return cache[name]

    async def _dispatch(self, request: Request, receive: Receive, send: Send) -> Any:
        route, segments = self._match(request.scope)
        # One pass over the raw headers decides whether there is a body to read
        # and a session cookie to look at; everything else is parsed lazily.
        declared: int | None = None
        chunked = has_cookie = False
        for name, value in request.scope["headers"]:
            if name not in _LOOKED_AT:
                # Most headers: one set lookup rather than three comparisons,
                # ~300 instructions fewer per header.
                continue
            if name == b"content-length":
                if declared is not None:  # even an equal repeat: a smuggling vector
                    raise HTTPError(400, "More than one Content-Length header")
                declared = _content_length(value)
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"cookie":
                has_cookie = True
        if chunked:
            # RFC 9112 §6.3: Transfer-Encoding overrides any Content-Length.
            declared = None
            has_body = framed = True
        elif declared is not None:
            has_body = framed = declared > 0
        else:
            # Neither header: by definition no body in HTTP/1.x (the fast path,
            # no receive() at all); HTTP/2 and 3 frame bodies themselves, so
            # the first message tells.
            framed = False
            has_body = request.scope.get("http_version", "1.1") not in _HTTP1
        if not has_body:
            request._body_pending = False
        elif "files" in request.scope and request.scope.get("body_parsed"):
            # Mounted by a parent app that already parsed a multipart body
            # (see subapps.py): take its fields and files.
            request.body_params = request.scope.get("body_params") or {}
            request.files = request.scope["files"]
            request.body_parsed = True
            request._body_pending = False
        elif framed:
            await self._read_body(request, receive, route, declared)
        else:
            first, started = await bodies.first_message(
                receive, self.limits.body_total_timeout, self.limits.body_timeout
            )
            if bodies.is_whole_and_empty(first):
                request._body_pending = False
                # The empty message is consumed: a mounted sub-app gets it replayed.
                request.body_parsed = True
            else:
                await self._read_body(request, receive, route, None, first, started)
        shared = request.scope.get("session")
        if shared is not None:
            # Mounted by an app that owns the session (see subapps.py), or under
            # ASGI middleware that keeps one: use it, and leave saving to it.
            request._session = shared
            request._session_external = True
        elif has_cookie:
            session_id = self._sessions.id_to_load(request)
            if session_id is not None:
                await self._sessions.load(request, session_id)
        if self._prepare_request is not None:
            await self._prepare_request(app=self, request=request)
        middlewares = self.middlewares
        if middlewares:
            for middleware in middlewares:
                early = await resolve(middleware.before_request(request))
                if early:
                    return middleware_response(early)
            if request._subapp is not None:
                await hand_off_to_subapp(request, receive, send)
                return None
            if request._route_handler is not None:
                route = self._explicit_route(request._route_handler)
                if not request.path_params:
                    # MicroPie: the segments after the first, whatever index takes.
                    scope = request.scope
                    segments = path_segments(
                        request.path, scope.get("raw_path"), scope.get("root_path", "")
                    )[1:]
        if route is None:
            raise HTTPError(404)
        if not request.path_params:
            request.path_params = segments
        if route.methods is not None and request.method not in route.methods:
            raise HTTPError(405, headers=[("Allow", route.allow_header)])
        if request._form_reader is not None and not request._form_reader.done:
            await request._form_reader.wait_for(form_names_to_wait_for(route, request))
        if route.params:
            args, kwargs = bind(route, request)
        else:
            args, kwargs = [], {}
        if route.is_async:
            result = await route.function(self, *args, **kwargs)
        else:
            result = await asyncio.to_thread(route.function, self, *args, **kwargs)
        if not middlewares and (type(result) is str or type(result) is dict):
            return result  # sent by __call__ without building a Response (see there)
        response = self._results.to_response(request, result, route.name)
        for middleware in middlewares:
            changes = await resolve(
                middleware.after_request(
                    request, response.status_code, body_of(response), response.headers
                )
            )
            if changes:
                response = self._results.apply_changes(request, response, changes)
        return response


#: ``scope["http_version"]`` values of HTTP/1.x, where a body needs framing headers.
_HTTP1 = ("1.1", "1.0")
#: The header names the first pass over the request headers acts on (see _dispatch).
_LOOKED_AT = frozenset((b"content-length", b"transfer-encoding", b"cookie"))
_ENTERED = "micropie_core.app"  # scope key: the App whose middleware stack the scope passed


class _CoreEntry:
    """The innermost layer of the plugins' ASGI middleware: the app itself.

    It marks the scope with the app (a sub-app mounted with a copy of the scope
    is another app, so it still runs its own stack) and calls the app, which
    then skips the stack.
    """

    __slots__ = ("app",)

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[_ENTERED] = self.app
        await self.app(scope, receive, send)


def _content_length(value: bytes) -> int:
    # 1*DIGIT (RFC 9110); more than 18 significant digits is beyond any body
    # (and int() refuses 4,301 digits with a ValueError, which must not be a 500).
    if not value.isdigit() or len(value.lstrip(b"0")) > 18:
        raise HTTPError(400, "Invalid Content-Length header: expected a byte count")
    return int(value)

