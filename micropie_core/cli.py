"""The ``micropie`` command: ``micropie run module:app`` and ``micropie plugins``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .errors import PluginError
from .plugins import PluginHost, available_plugins


def _run(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        print("micropie run needs uvicorn: pip install 'micropie-core[server]'", file=sys.stderr)
        return 2
    if ":" not in args.app:
        print(f"Expected APP as module:attribute (e.g. app:app), got {args.app!r}. "
              f"Try: micropie run {_suggest_target(args.app)}", file=sys.stderr)
        return 2
    uvicorn.run(args.app, host=args.host, port=args.port, reload=args.reload,
                workers=args.workers, app_dir=args.app_dir)
    return 0


def _suggest_target(given: str) -> str:
    """``examples/hello.py`` → ``hello:app --app-dir examples``; ``hello`` → ``hello:app``."""
    folder, _, file = given.rpartition("/")
    module = file.removesuffix(".py") or "app"
    return f"{module}:app" + (f" --app-dir {folder}" if folder else "")


def _plugins(args: argparse.Namespace) -> int:
    try:
        host = PluginHost()
        active = set(host.active_names())
        error = None
    except PluginError as exc:
        host, active, error = None, set(), exc
    rows = [("NAME", "VERSION", "DISTRIBUTION", "ACTIVE", "HOOKS")]
    for info in available_plugins():
        hooks = ""
        if host is not None and info.name in active:
            plugin = host.manager.get_plugin(info.name)
            hooks = ", ".join(sorted(
                caller.name for caller in host.manager.get_hookcallers(plugin) or []))
        rows.append((info.name, info.version, info.distribution,
                     "yes" if info.name in active else "no", hooks))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
              + "  " + row[4])
    if error is not None:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``micropie`` console script."""
    parser = argparse.ArgumentParser(
        prog="micropie", description="micropie run module:app | micropie plugins")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve an app with uvicorn")
    run.add_argument("app", help="module:attribute of the App instance, e.g. app:app")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--reload", action="store_true", help="restart when code changes")
    run.add_argument("--workers", type=int, default=None)
    run.add_argument("--app-dir", default=".", help="directory to import the module from")
    run.set_defaults(handler=_run)
    plugins = commands.add_parser("plugins", help="list installed plugins")
    plugins.set_defaults(handler=_plugins)
    args = parser.parse_args(argv)
    importlib.invalidate_caches()
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
