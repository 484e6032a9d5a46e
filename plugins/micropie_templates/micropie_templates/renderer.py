"""``TemplateRenderer``: what ``App._render_template`` calls, and the ``render`` helper."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import jinja2

from micropie_core import App, Request, Response
from micropie_core.requests import current_request

from . import _errors
from ._cache import TemplateCache
from ._context import LazySession, contributions


class TemplateRenderer:
    """Renders Jinja2 templates for one app: ``await renderer(name, context)``.

    ``environment`` is the ``jinja2.Environment`` (add filters or globals to it
    before serving); ``searched`` lists the directories and packages searched.
    """

    def __init__(
        self,
        app: App,
        environment: jinja2.Environment,
        searched: list[str],
        auto_reload: bool,
        contributors: list[tuple[Callable[..., Any], list[str]]],
    ) -> None:
        self.app = app
        self.environment = environment
        self.searched = searched
        self.cache = TemplateCache(environment, auto_reload)
        self._contributors = contributors

    async def __call__(self, name: str, context: dict[str, Any]) -> str:
        request: Request | None = current_request.get(None)
        values: dict[str, Any] = {
            "request": request,
            "session": LazySession(request) if request is not None else {},
        }
        if self._contributors:
            values.update(await contributions(self._contributors, self.app, request))
        values.update(context)
        try:
            template = await self.cache.get(name)
            if self.environment.is_async:
                return await template.render_async(values)
            return template.render(values)
        except jinja2.TemplateNotFound as exc:
            raise _errors.not_found(exc, name, self.searched) from None
        except jinja2.TemplateSyntaxError as exc:
            raise _errors.syntax_error(exc) from None

    async def preload(self) -> int:
        """Compile every template found, in a thread; return how many there were."""
        try:
            return await asyncio.to_thread(self.cache.preload)
        except jinja2.TemplateNotFound as exc:
            raise _errors.not_found(exc, str(exc.name), self.searched) from None
        except jinja2.TemplateSyntaxError as exc:
            raise _errors.syntax_error(exc) from None


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
