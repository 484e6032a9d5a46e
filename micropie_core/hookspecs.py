"""Every hook a plugin can implement. Argument names are the contract.

Hooks are called with keyword arguments; an implementation may accept any subset
of them. Hooks documented as *async allowed* may be ``async def``; the app awaits
their results. Per-request hooks (``prepare_request``, ``process_response``) are
resolved into plain callables when the app starts, so a hook nobody implements
costs nothing on the request path.

Each hook has a section in ``docs/plugin_hooks.md``; a test keeps both in step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

from .types import ASGIApp

if TYPE_CHECKING:
    from .app import App
    from .config import Setting
    from .requests import Request
    from .responses import Response
    from .sessions import SessionStore

hookspec = pluggy.HookspecMarker("micropie")
hookimpl = pluggy.HookimplMarker("micropie")


@hookspec
def register_settings(app: App) -> list[Setting] | None:
    """Declare the configuration keys this plugin accepts.

    Called once while ``App.__init__`` runs, before ``App(config=...)`` is
    validated. Return a list of :class:`micropie_core.Setting`; the validated
    values (defaults filled in) are then available as ``app.config[section]``.
    Several plugins may declare keys in the same section.
    """


@hookspec
def app_created(app: App) -> None:
    """The app is constructed and its configuration validated.

    Called once at the end of ``App.__init__``. Read ``app.config`` and attach
    whatever the plugin needs to the app. The return value is ignored.
    ``app.config.given`` names the sections ``App(config=...)`` was given; a
    plugin that is off until configured may call ``app.plugins.register(obj,
    name)`` here (and only here) to add per-request hooks for this app alone.
    """


@hookspec
def startup(app: App) -> Awaitable[None] | None:
    """The app is starting (ASGI ``lifespan.startup``). Async allowed.

    Called before the app's ``startup_handlers``: open connection pools here.
    An exception fails the startup; it is logged and reported to the server as
    ``lifespan.startup.failed``. The return value is ignored.
    """


@hookspec
def shutdown(app: App) -> Awaitable[None] | None:
    """The app is stopping (ASGI ``lifespan.shutdown``). Async allowed.

    Called after the app's ``shutdown_handlers``, in reverse plugin order: close
    what ``startup`` opened. Every implementation runs even if one fails.
    """


@hookspec
def register_scope_handlers(app: App) -> dict[str, ASGIApp] | None:
    """Serve ASGI scope types the core does not handle itself.

    Called once at the end of construction. Return ``{scope_type: asgi_callable}``,
    e.g. ``{"websocket": handle}``; ``handle(scope, receive, send)`` is then
    called for every connection of that type. ``http`` and ``lifespan`` belong
    to the core and cannot be taken.
    """


@hookspec
def register_asgi_middleware(app: App) -> list[Callable[[ASGIApp], ASGIApp]] | None:
    """Wrap the whole app in ASGI middleware, outside routing, bodies and sessions.

    Called once at the end of construction. Return a list of factories; each
    ``factory(inner)`` receives an ASGI callable and returns one that wraps it
    (a class taking ``inner`` in its constructor is such a factory). Every
    scope type goes through the wrappers (``http``, ``websocket``, ``lifespan``),
    so a wrapper passes the types it does not handle straight to ``inner``. The
    first implementation called (``tryfirst``, else the latest registered) is
    the outermost; within one list, the first factory is outermost. Return
    ``None`` or ``[]`` when the plugin is not configured: an app without
    wrappers pays nothing for this hook.
    """


@hookspec(firstresult=True)
def session_store(app: App) -> SessionStore | None:
    """Provide the store that keeps session data.

    Called once at the end of construction (after ``app_created``). Look at
    ``app.config["sessions"]["store"]`` and return a
    :class:`micropie_core.SessionStore` if it names your store, else ``None``.
    First non-None result wins; the built-in ``memory`` store is ``trylast``.
    """


@hookspec(firstresult=True)
def response_from_value(app: App, request: Request, value: Any) -> Any:
    """Turn a handler's return value the core does not know into a response.

    Called after the handler when its return value (or the body of a returned
    tuple) is not ``str``, ``bytes``, ``dict``, ``list``, ``None`` or a
    :class:`Response`. Return an object with ``status_code``, ``headers`` (a
    list of ``(name, value)`` pairs) and an ASGI ``__call__(scope, receive,
    send)`` that sends it, or ``None`` to decline. First non-None result wins.
    The built-in ``streaming`` plugin handles generators this way.
    """


@hookspec(firstresult=True)
def template_renderer(app: App) -> Callable[..., Awaitable[str]] | None:
    """Provide ``await renderer(name, context)`` for ``App._render_template``.

    Called once at the end of construction. The renderer receives the template
    name and a dict of context values and returns the rendered text. First
    non-None result wins.
    """


@hookspec
def template_context(
    app: App, request: Request | None
) -> Mapping[str, Any] | Awaitable[Mapping[str, Any] | None] | None:
    """Add values to the context of every rendered template. Async allowed.

    Called by the template plugin each time a template is rendered (not for
    requests that render nothing). ``request`` is the request being handled,
    or ``None`` when rendering outside a request. Return a dict of names to
    merge into the context, or ``None``. Every implementation is called; on a
    clash the one called first (``tryfirst``, else the latest registered)
    wins, and values passed to the render call win over all of them. The
    template plugin resolves the implementations once at construction.
    """


@hookspec
def prepare_request(app: App, request: Request) -> Awaitable[None] | None:
    """A request is about to be dispatched. Async allowed.

    Called for every HTTP request after its body is parsed and before the
    app's middlewares run. Mutate ``request`` in place; raise
    :class:`micropie_core.HTTPError` to answer with an error instead.
    """


@hookspec
def process_response(app: App, request: Request, response: Any) -> Awaitable[None] | None:
    """A response is about to be sent. Async allowed.

    Called for every HTTP response the app produces, after the middlewares'
    ``after_request``, including error responses. ``response`` has
    ``status_code`` and a mutable ``headers`` list of ``(name, value)`` pairs;
    change them in place.
    """


@hookspec(firstresult=True)
def error_response(
    app: App, request: Request, status_code: int, detail: str | None,
    exception: BaseException | None,
) -> Response | None:
    """Render a custom error page.

    Called whenever the app answers with an error status of its own (404, 400,
    405, 408, 413, 415, 500, 503, or an :class:`HTTPError` raised by code).
    ``exception`` is the exception behind a 500, else ``None``. Return a
    :class:`Response` to replace the default short text page, or ``None``.
    First non-None result wins.
    """
