"""Turn Jinja2's loading errors into ones that say where to look and what to fix."""

from __future__ import annotations

import jinja2


def not_found(exc: jinja2.TemplateNotFound, rendering: str, searched: list[str]) -> Exception:
    """A ``TemplateNotFound`` naming the template(s) and every place searched."""
    if isinstance(exc, jinja2.TemplatesNotFound):
        missing = "None of the templates " + ", ".join(repr(n) for n in exc.templates)
        missing += " was found"
    else:
        missing = f"Template {exc.name!r} not found"
    via = "" if exc.name == rendering else f" (needed while rendering {rendering!r})"
    where = "; ".join(searched) or "nowhere: no directory or package is configured"
    message = (
        f"{missing}{via}. Searched: {where}. Create the file there, fix the name, or "
        "point App(config={'templates': {'directory': ...}}) at your templates."
    )
    return jinja2.TemplateNotFound(exc.name, message)


def syntax_error(exc: jinja2.TemplateSyntaxError) -> Exception:
    """A fresh syntax error whose message shows the file, the line and its source."""
    fresh = type(exc)(exc.message or "syntax error", exc.lineno, exc.name, exc.filename)
    fresh.source = exc.source
    return fresh
