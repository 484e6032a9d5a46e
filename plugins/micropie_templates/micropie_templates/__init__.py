"""Jinja2 templates for micropie-core: ``await self._render_template(name, **context)``.

Installed, the ``templates`` plugin is found through the ``micropie`` entry point;
configure it with ``App(config={"templates": {...}})``.
"""

from ._context import LazySession
from .renderer import TemplateRenderer, environment, render

__all__ = ["LazySession", "TemplateRenderer", "environment", "render"]
