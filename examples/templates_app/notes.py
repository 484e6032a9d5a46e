"""A small notes site rendered with Jinja2 templates (the ``micropie-templates`` plugin).

Run it from this folder with ``micropie run notes:app`` (or ``uvicorn notes:app``);
templates come from ``templates/`` beside this file. ``base.html`` is the layout,
the pages extend it, and ``_macros.html`` holds a shared macro.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from micropie_templates import render

from micropie_core import App, Response

NOTES: dict[str, dict[str, Any]] = {
    "welcome": {"title": "Welcome", "day": date(2025, 1, 6),
                "body": "Templates extend <base.html>; values are escaped."},
    "async": {"title": "Async globals", "day": date(2025, 2, 3),
              "body": "A template may await a global function."},
}


async def note_count() -> int:
    """An async global: templates call ``{{ note_count() }}`` and Jinja2 awaits it."""
    await asyncio.sleep(0)
    return len(NOTES)


def long_date(day: date) -> str:
    return day.strftime("%d %B %Y")


class Notes(App):
    async def index(self) -> str:
        notes = sorted(NOTES.items(), key=lambda item: item[1]["day"], reverse=True)
        return await self._render_template("index.html", notes=notes)

    async def note(self, slug: str) -> Response | tuple[int, Response]:
        self.request.session["last_read"] = slug
        found = NOTES.get(slug)
        if found is None:
            return 404, await render("404.html", slug=slug)
        return await render("note.html", slug=slug, note=found)


app = Notes(config={"templates": {
    "globals": {"site_name": "Notes", "note_count": note_count},
    "filters": {"long_date": long_date},
}})
