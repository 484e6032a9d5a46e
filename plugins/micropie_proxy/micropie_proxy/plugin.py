"""The ``proxy`` plugin: found through the ``micropie`` entry point, off until configured.

``App(config={"proxy": {"allowed_hosts": [...], "trusted_proxies": [...]}})``
turns it on; without a ``proxy`` section it adds no layer, so it costs nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from micropie_core import App, Setting, hookimpl
from micropie_core.origins import HostAllowList
from micropie_core.types import ASGIApp

from .forwarded import ProxyList
from .middleware import ProxyMiddleware

SECTION = "proxy"


def _check_hosts(value: Iterable[Any] | None) -> str | None:
    if value is None:
        return None
    items = list(value)
    if not all(isinstance(item, str) for item in items):
        return "expected host names such as 'example.com' or '*.example.com'"
    try:
        HostAllowList(items)
    except ValueError as exc:
        return str(exc)
    return None


def _check_proxies(value: Iterable[Any]) -> str | None:
    for item in value:
        if item in ("*", "unix"):
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except (TypeError, ValueError):
            return (f"expected IP addresses or networks such as '10.0.0.1' or '10.0.0.0/8' "
                    f"('unix' for a Unix socket, '*' for any peer), found {item!r}")
    return None


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting(SECTION, "allowed_hosts", (list, tuple, type(None)), None,
                "Host names this app serves: 'example.com', '*.example.com' (any subdomain); "
                "other Host headers get 400. None: any host.",
                check=_check_hosts),
        Setting(SECTION, "trusted_proxies", (list, tuple), (),
                "Peers whose forwarding headers are believed: addresses and networks "
                "('127.0.0.1', '10.0.0.0/8'), 'unix' for a Unix socket, '*' for any peer.",
                check=_check_proxies),
        Setting(SECTION, "header", str, "x-forwarded",
                "Which forwarding header the proxies set: 'x-forwarded' (X-Forwarded-For, "
                "-Proto, -Host) or 'forwarded' (RFC 7239). The other one is ignored.",
                check=lambda v: None if v in ("x-forwarded", "forwarded")
                else "must be 'x-forwarded' or 'forwarded'"),
    ]


@hookimpl(tryfirst=True)  # outermost: every other layer sees the rewritten scope
def register_asgi_middleware(app: App) -> list[Callable[[ASGIApp], ASGIApp]] | None:
    if SECTION not in app.config.given:
        return None
    settings = app.config[SECTION]
    hosts = settings["allowed_hosts"]
    allowed = HostAllowList(hosts) if hosts is not None else None
    proxies = ProxyList(settings["trusted_proxies"]) if settings["trusted_proxies"] else None
    if allowed is None and proxies is None:
        return None
    header = settings["header"]

    def factory(inner: ASGIApp) -> ASGIApp:
        return ProxyMiddleware(inner, proxies, header, allowed)

    return [factory]
