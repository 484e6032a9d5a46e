"""What an App serves and which plugins it runs, as plain data (``micropie routes/plugins``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .plugins import PluginHost, available_plugins
from .routing import websocket_handler_names

if TYPE_CHECKING:
    from .app import App

_KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: "positional",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional or keyword",
    inspect.Parameter.VAR_POSITIONAL: "*args (remaining path segments)",
    inspect.Parameter.KEYWORD_ONLY: "keyword",
    inspect.Parameter.VAR_KEYWORD: "**kwargs (remaining names)",
}


def _signature(function: Callable[..., Any]) -> inspect.Signature:
    try:
        return inspect.signature(function, eval_str=True)
    except Exception:  # an annotation that does not evaluate: show it as written
        return inspect.signature(function)


def _annotation(value: Any) -> str | None:
    if value is inspect.Parameter.empty:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, type):
        return value.__qualname__ if value.__module__ == "builtins" else (
            f"{value.__module__}.{value.__qualname__}")
    return inspect.formatannotation(value)


def _parameters(function: Callable[..., Any], skip: int) -> list[dict[str, Any]]:
    """The handler's parameters after ``self`` (and ``skip`` more, e.g. the WebSocket)."""
    params = list(_signature(function).parameters.values())[1 + skip:]
    described = []
    for param in params:
        entry: dict[str, Any] = {
            "name": param.name,
            "kind": _KINDS[param.kind],
            "annotation": _annotation(param.annotation),
            "required": param.default is inspect.Parameter.empty
            and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD),
        }
        if param.default is not inspect.Parameter.empty:
            entry["default"] = repr(param.default)
        described.append(entry)
    return described


def _shown_signature(name: str, function: Callable[..., Any], skip: int) -> str:
    signature = _signature(function)
    params = list(signature.parameters.values())[1 + skip:]
    shown = signature.replace(parameters=params, return_annotation=inspect.Signature.empty)
    return f"{name}{shown}"


def describe_routes(app: App) -> dict[str, list[dict[str, Any]]]:
    """Every HTTP route and every ``ws_*`` handler of ``app``, sorted by path.

    Each entry has ``path``, ``handler``, ``signature`` and ``parameters`` (name,
    kind, annotation, default, required); HTTP routes also ``methods`` (``None``
    = every method), ``max_body_size`` and ``catch_all`` (``index`` serving
    unknown first segments).
    """
    from .app import App as BaseApp

    http = []
    for name, route in sorted(app._routes.items(), key=lambda item: (item[0] != "index", item[0])):
        http.append({
            "path": "/" if name == "index" else f"/{name}",
            "handler": name,
            "signature": _shown_signature(name, route.function, 0),
            "is_async": route.is_async,
            "methods": None if route.methods is None else sorted(route.methods),
            "max_body_size": route.max_body_size if route.has_body_limit
            else app.limits.max_body_size,
            "catch_all": name == "index" and route.accepts_path_segments,
            "parameters": _parameters(route.function, 0),
        })
    websocket = []
    for name in websocket_handler_names(type(app), BaseApp):
        function = getattr(type(app), name)
        short = name.removeprefix("ws_")
        websocket.append({
            "path": "/" if short == "index" else f"/{short}",
            "handler": name,
            "signature": _shown_signature(name, function, 1),
            "parameters": _parameters(function, 1),
        })
    return {"http": http, "websocket": websocket}


def describe_plugins(host: PluginHost) -> list[dict[str, Any]]:
    """Every available plugin (built-in and installed), plus plugin objects, for one host.

    Each entry: ``name``, ``distribution``, ``version``, ``active``, ``hooks``
    (the hooks it implements, when active) and ``reason`` (why it is inactive).
    """
    rows = []
    listed = set()
    for info in available_plugins():
        listed.add(info.name)
        reason = host.inactive_reason(info.name)
        rows.append({
            "name": info.name, "distribution": info.distribution, "version": info.version,
            "active": reason is None, "hooks": _hooks(host, info.name) if reason is None else [],
            "reason": reason,
        })
    for name in host.active_names():
        if name not in listed:  # an object passed in App(plugins=[...]) or registered
            source = ("(registered by a plugin)" if name in host.registered_in_app_created
                      else "(object in App(plugins=[...]))")
            rows.append({"name": name, "distribution": source,
                         "version": "", "active": True, "hooks": _hooks(host, name),
                         "reason": None})
    return rows


def _hooks(host: PluginHost, name: str) -> list[str]:
    plugin = host.manager.get_plugin(name)
    return sorted(caller.name for caller in host.manager.get_hookcallers(plugin) or [])
