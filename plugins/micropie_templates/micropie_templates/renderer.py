"""``TemplateRenderer``: what ``App._render_template`` calls, and the ``render`` helper."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from micropie_core import App, Request, Response, current_request

from ._context import LazySession, contributions

if TYPE_CHECKING:
    import jinja2

    from ._cache import TemplateCache


class TemplateRenderer:
    """Renders Jinja2 templates for one app: ``await renderer(name, context)``.

    ``environment`` is the ``jinja2.Environment`` (add filters or globals to it
    before serving); ``searched`` lists the directories and packages searched.
    The environment is built by ``make_environment`` when first needed (at
    startup, in a thread), so constructing an App does not import Jinja2.
    """

    def __init__(
        self,
        app: App,
        make_environment: Callable[[], jinja2.Environment],
        searched: list[str],
        auto_reload: bool,
    ) -> None:
        self.app = app
        self.searched = searched
        self.auto_reload = auto_reload
        self._make_environment = make_environment
        self._cache: TemplateCache | None = None
        self._build_lock = threading.Lock()
        # Filled by the template_renderer hook, after every app_created hook
        # ran: plugins may register template_context objects there.
        self.contributors: list[tuple[Callable[..., Any], list[str]]] = []

    @property
    def environment(self) -> jinja2.Environment:
        """The ``jinja2.Environment``, built (importing Jinja2) on first access."""
        return self.cache.environment

    @property
    def cache(self) -> TemplateCache:
        """The compiled-template cache, built with the environment on first access."""
        cache = self._cache
        if cache is None:
            with self._build_lock:
                if self._cache is None:
                    from ._cache import TemplateCache

                    self._cache = TemplateCache(self._make_environment(), self.auto_reload)
                cache = self._cache
        return cache

    async def start(self) -> None:
        """Build the environment in a thread (importing Jinja2 blocks for tens of ms)."""
        if self._cache is None:
            await asyncio.to_thread(lambda: self.cache)

    async def __call__(self, name: str, context: dict[str, Any]) -> str:
        request: Request | None = current_request.get(None)
        values: dict[str, Any] = {
            "request": request,
            "session": LazySession(request) if request is not None else {},
        }
        if self.contributors:
            values.update(await contributions(self.contributors, self.app, request))
        values.update(context)
        if self._cache is None:
            await self.start()  # rendering before startup (outside a server)
        cache = self.cache
        try:
            template = await cache.get(name)
            if cache.environment.is_async:
                return await template.render_async(values)
            return template.render(values)
        except cache.loading_errors as exc:
            raise cache.explain(exc, name, self.searched) from None

    async def preload(self) -> int:
        """Compile every template found, in a thread; return how many there were."""
        await self.start()
        cache = self.cache
        try:
            return await asyncio.to_thread(cache.preload)
        except cache.loading_errors as exc:
            raise cache.explain(exc, None, self.searched) from None


def environment(app: App) -> jinja2.Environment:
    """The ``jinja2.Environment`` the templates plugin built for ``app``."""
    renderer = getattr(app, "_micropie_templates", None)
    if not isinstance(renderer, TemplateRenderer):
        raise RuntimeError(
            f"{type(app).__name__} has no template environment: the 'templates' plugin is "
            "not active for it. Install it with `pip install micropie-templates` and do not "
            "leave 'templates' out of App(plugins=...) or MICROPIE_PLUGINS."
        )
    return renderer.environment


async def render(name: str, /, **context: Any) -> Response:
    """Render template ``name`` for the current request into an HTML :class:`Response`.

    Use it in a handler: ``return await render("page.html", title="Hi")``, or
    ``return 404, await render("404.html")`` for another status.
    """
    request = current_request.get(None)
    if request is None or request.app is None:
        raise RuntimeError(
            f"render({name!r}) needs a request being handled, and none is: call it from a "
            "handler, or use `await app._render_template(name, **context)` elsewhere."
        )
    html = await request.app._render_template(name, **context)
    return Response(html, media_type="text/html; charset=utf-8")
