"""Rendered pages: micropie-templates vs Starlette's ``Jinja2Templates``, in-process.

The apps render the same Jinja2 templates (a page extending a layout, a loop,
escaped values) from the same directory, for the same URL. Requests go straight
to each ASGI callable, no server and no sockets, so the figures are the
framework's and the template integration's own cost. Rounds alternate between
the apps (drift in machine speed hits all alike); the median round is
reported with its spread.

    benchmarks/.venv/bin/python benchmarks/templates_bench.py [--requests 5000] [--rounds 7]

Needs ``starlette``, ``jinja2``, ``micropie-core`` and ``micropie-templates``
(the latter is imported from ``plugins/micropie_templates`` if not installed).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

TEMPLATES = {
    "layout.html": (
        "<!doctype html><html><head><title>{% block title %}{% endblock %}</title></head>"
        "<body><nav>{% for link in nav %}<a href=\"{{ link.href }}\">{{ link.label }}</a>"
        "{% endfor %}</nav><main>{% block content %}{% endblock %}</main>"
        "<footer>{{ footer }}</footer></body></html>"
    ),
    "page.html": (
        "{% extends 'layout.html' %}{% block title %}{{ title }}{% endblock %}"
        "{% block content %}<h1>{{ title }}</h1><table>"
        "{% for row in rows %}<tr class=\"{{ loop.cycle('odd', 'even') }}\">"
        "<td>{{ row.id }}</td><td>{{ row.name }}</td><td>{{ row.price|round(2) }}</td></tr>"
        "{% endfor %}</table>{% endblock %}"
    ),
}

CONTEXT: dict[str, Any] = {
    "title": "Products & <prices>",
    "footer": "© Example",
    "nav": [{"href": f"/section/{i}", "label": f"Section {i}"} for i in range(5)],
    "rows": [{"id": i, "name": f"Item <{i}>", "price": i * 1.2345} for i in range(20)],
}


def micropie_app(directory: str, enable_async: bool = True) -> Any:
    try:
        import micropie_templates.plugin as templates_plugin
    except ImportError:
        sys.path.insert(0, str(ROOT / "plugins" / "micropie_templates"))
        import micropie_templates.plugin as templates_plugin
    from micropie_core import App

    class Site(App):
        async def page(self) -> str:
            return await self._render_template("page.html", **CONTEXT)

    return Site(plugins=["sessions", templates_plugin],
                config={"templates": {"directory": directory, "enable_async": enable_async}})


def starlette_app(directory: str) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    from starlette.templating import Jinja2Templates

    templates = Jinja2Templates(directory=directory)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "page.html", CONTEXT)

    return Starlette(routes=[Route("/page", page)])


def http_scope() -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/page", "raw_path": b"/page", "root_path": "", "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench"),
                    (b"accept", b"*/*")],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }


async def lifespan(app: Any, event: str) -> None:
    """Run one half of the lifespan protocol (startup or shutdown) to completion."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.ensure_future(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": f"lifespan.{event}"})
    reply = await asyncio.wait_for(outbox.get(), 10)
    if not reply["type"].endswith(".complete"):
        raise RuntimeError(f"lifespan {event} failed: {reply}")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def one_request(app: Any) -> tuple[int, bytes]:
    status: list[int] = []
    body = bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(http_scope(), receive, send)
    return status[0], bytes(body)


async def rate(app: Any, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        await one_request(app)
    return count / (time.perf_counter() - start)


async def main(requests: int, rounds: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as directory:
        for name, text in TEMPLATES.items():
            (Path(directory) / name).write_text(text)
        apps = {"micropie-templates": micropie_app(directory),
                "micropie-templates, enable_async=False": micropie_app(directory, False),
                "Starlette Jinja2Templates": starlette_app(directory)}
        bodies = {}
        for name, app in apps.items():
            await lifespan(app, "startup")
            status, body = await one_request(app)  # also warms the template cache
            if status != 200 or b"Item &lt;19&gt;" not in body:
                raise RuntimeError(f"{name}: got {status} {body[:120]!r}")
            bodies[name] = body
        if len(set(bodies.values())) != 1:
            raise RuntimeError("The apps rendered different pages")
        print(f"page: {len(next(iter(bodies.values())))} bytes, identical in every app",
              file=sys.stderr)
        rates: dict[str, list[float]] = {name: [] for name in apps}
        for round_number in range(rounds):
            names = list(apps)
            shift = round_number % len(names)
            order = names[shift:] + names[:shift]  # each app takes each position in turn
            for name in order:
                rates[name].append(await rate(apps[name], requests))
            print(f"round {round_number + 1}/{rounds} done", file=sys.stderr)
        for app in apps.values():
            await lifespan(app, "shutdown")
    return rates


def report(rates: dict[str, list[float]], requests: int, rounds: int) -> str:
    from importlib.metadata import version

    medians = {name: statistics.median(values) for name, values in rates.items()}
    baseline = medians["Starlette Jinja2Templates"]
    lines = [f"Rendered page, in-process, {requests:,} requests x {rounds} rounds (median)",
             f"Python {sys.version.split()[0]}, jinja2 {version('jinja2')}, "
             f"starlette {version('starlette')}", "",
             "| app | req/s | spread | vs Starlette |", "|---|---:|---:|---:|"]
    for name, values in rates.items():
        spread = (max(values) - min(values)) / 2 / medians[name]
        lines.append(f"| {name} | {medians[name]:,.0f} | ±{spread:.0%} | "
                     f"{medians[name] / baseline:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    results = asyncio.run(main(args.requests, args.rounds))
    print(report(results, args.requests, args.rounds))
