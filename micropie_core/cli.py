"""The ``micropie`` command: ``run``, ``routes`` and ``plugins``.

``micropie run [module:app]`` serves an app with uvicorn (``app`` in ``app.py``
or ``main.py`` when no target is given); ``micropie routes module:app`` lists
what an app serves; ``micropie plugins [module:app]`` which plugins it loads.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError, PluginError
from .introspection import describe_plugins, describe_routes
from .plugins import PluginHost, _core_version

#: Files ``micropie run`` looks in, in order, when no target is given.
DEFAULT_MODULES = ("app", "main")


class CommandError(Exception):
    """A mistake on the command line: printed as ``error: ...``, exit status 2."""


def _default_target(app_dir: str) -> str:
    for module in DEFAULT_MODULES:
        if (Path(app_dir) / f"{module}.py").is_file():
            return f"{module}:app"
    raise CommandError(
        f"No target given and no {' or '.join(m + '.py' for m in DEFAULT_MODULES)} in "
        f"{Path(app_dir).resolve()}. Give one: micropie run module:app "
        "(e.g. micropie run hello:app --app-dir examples)."
    )


def _check_target(target: str) -> str:
    if ":" not in target:
        raise CommandError(f"Expected APP as module:attribute (e.g. app:app), got {target!r}. "
                           f"Try: micropie run {_suggest_target(target)}")
    return target


def _suggest_target(given: str) -> str:
    """``examples/hello.py`` → ``hello:app --app-dir examples``; ``hello`` → ``hello:app``."""
    folder, _, file = given.rpartition("/")
    module = file.removesuffix(".py") or "app"
    return f"{module}:app" + (f" --app-dir {folder}" if folder else "")


def load_app(target: str, app_dir: str = ".") -> Any:
    """Import ``module:attribute`` from ``app_dir`` and return the attribute."""
    module_name, _, attribute = _check_target(target).partition(":")
    sys.path.insert(0, str(Path(app_dir).resolve()))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name.partition(".")[0]:
            raise
        raise CommandError(f"Cannot import module {module_name!r} from "
                           f"{Path(app_dir).resolve()}: no {module_name}.py there. "
                           "Use --app-dir to say where it is.") from None
    finally:
        sys.path.pop(0)
    wanted = Path(app_dir).resolve() / f"{module_name.replace('.', '/')}.py"
    found = getattr(module, "__file__", None)
    if wanted.is_file() and (found is None or Path(found).resolve() != wanted):
        raise CommandError(f"{module_name!r} imported {found or 'a built-in module'}, not "
                           f"{wanted}: another module has that name (the standard "
                           "library's?). Rename your file.")
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise CommandError(f"Module {module_name!r} has no attribute {attribute!r}; "
                           f"expected the App instance, e.g. {attribute} = MyApp().") from None


def _load_micropie_app(target: str, app_dir: str) -> Any:
    from .app import App

    app = load_app(target, app_dir)
    if isinstance(app, type) and issubclass(app, App):
        raise CommandError(f"{target} is the class {app.__name__}; point at an instance "
                           f"(app = {app.__name__}()).")
    if not isinstance(app, App):
        raise CommandError(f"{target} is a {type(app).__name__}, not a micropie_core App.")
    return app


def _run(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        print("micropie run needs uvicorn: pip install 'micropie-core[server]'", file=sys.stderr)
        return 2
    target = _check_target(args.app) if args.app else _default_target(args.app_dir)
    options: dict[str, Any] = {
        "host": args.host, "port": args.port, "reload": args.reload, "workers": args.workers,
        "app_dir": args.app_dir, "log_level": args.log_level, "root_path": args.root_path,
        "proxy_headers": args.proxy_headers,
    }
    if args.forwarded_allow_ips is not None:
        options["forwarded_allow_ips"] = args.forwarded_allow_ips
    if args.timeout_graceful_shutdown is not None:
        options["timeout_graceful_shutdown"] = args.timeout_graceful_shutdown
    uvicorn.run(target, **options)
    return 0


def _routes(args: argparse.Namespace) -> int:
    table = describe_routes(_load_micropie_app(args.app, args.app_dir))
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    rows = [("KIND", "PATH", "HANDLER", "METHODS")]
    for route in table["http"]:
        methods = ", ".join(route["methods"]) if route["methods"] else "any"
        path = route["path"] + (" (and unknown paths)" if route["catch_all"] else "")
        rows.append(("http", path, route["signature"], methods))
    for route in table["websocket"]:
        rows.append(("ws", route["path"], route["signature"], ""))
    _print_table(rows)
    return 0


def _plugins(args: argparse.Namespace) -> int:
    error: Exception | None = None
    host: PluginHost | None
    try:
        host = _load_micropie_app(args.app, args.app_dir).plugins if args.app else PluginHost()
    except (PluginError, ConfigError) as exc:
        host, error = None, exc
    if host is None:
        rows_data: list[dict[str, Any]] = []
    else:
        rows_data = describe_plugins(host)
    if args.json:
        print(json.dumps(rows_data, indent=2))
    else:
        rows = [("NAME", "VERSION", "DISTRIBUTION", "ACTIVE", "HOOKS / WHY INACTIVE")]
        for row in rows_data:
            rows.append((row["name"], row["version"], row["distribution"],
                         "yes" if row["active"] else "no",
                         ", ".join(row["hooks"]) if row["active"] else row["reason"]))
        _print_table(rows)
    if error is not None:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    return 0


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="micropie", description="Serve and inspect micropie-core apps.")
    parser.add_argument("--version", action="version",
                        version=f"micropie-core {_core_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="serve an app with uvicorn")
    run.add_argument("app", nargs="?", default=None,
                     help="module:attribute of the App instance; default: app in app.py, "
                          "else in main.py")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--reload", action="store_true", help="restart when code changes")
    run.add_argument("--workers", type=int, default=None)
    run.add_argument("--app-dir", default=".", help="directory to import the module from")
    run.add_argument("--log-level", default=None,
                     choices=["critical", "error", "warning", "info", "debug", "trace"])
    run.add_argument("--proxy-headers", action="store_true",
                     help="trust X-Forwarded-For/-Proto from --forwarded-allow-ips")
    run.add_argument("--forwarded-allow-ips", default=None,
                     help="comma-separated proxy IPs to trust (uvicorn's default: 127.0.0.1)")
    run.add_argument("--root-path", default="",
                     help="the path prefix the app is mounted at behind a proxy")
    run.add_argument("--timeout-graceful-shutdown", type=int, default=None, metavar="SECONDS",
                     help="on shutdown, stop waiting for open responses after SECONDS "
                          "(an SSE stream or other endless response never ends by itself)")
    run.set_defaults(handler=_run)

    routes = commands.add_parser("routes", help="list the HTTP and WebSocket routes of an app")
    routes.add_argument("app", help="module:attribute of the App instance, e.g. app:app")
    routes.add_argument("--app-dir", default=".", help="directory to import the module from")
    routes.add_argument("--json", action="store_true", help="print JSON")
    routes.set_defaults(handler=_routes)

    plugins = commands.add_parser(
        "plugins", help="list plugins: installed ones, or what one app loads and why")
    plugins.add_argument("app", nargs="?", default=None,
                         help="module:attribute of an App instance (optional)")
    plugins.add_argument("--app-dir", default=".", help="directory to import the module from")
    plugins.add_argument("--json", action="store_true", help="print JSON")
    plugins.set_defaults(handler=_plugins)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``micropie`` console script."""
    args = _parser().parse_args(argv)
    importlib.invalidate_caches()
    try:
        return int(args.handler(args))
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
