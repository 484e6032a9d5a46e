"""The ``csrf`` plugin: found through the ``micropie`` entry point, off until configured.

``App(config={"csrf": {}})`` turns it on: ``app_created`` then registers a
:class:`~micropie_csrf.protection.CsrfProtection` for that app alone, whose
``prepare_request`` checks unsafe requests. Without a ``csrf`` section no
per-request hook is registered, so the plugin costs nothing.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from typing import Any

from micropie_core import App, ConfigError, Setting, hookimpl
from micropie_core.origins import OriginAllowList

from .protection import CsrfProtection

SECTION = "csrf"
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _check_origins(value: Iterable[Any]) -> str | None:
    items = list(value)
    if not all(isinstance(item, str) for item in items) or "*" in items:
        return "expected origins such as 'https://example.com' or 'https://*.example.com'"
    try:
        OriginAllowList(items)
    except ValueError as exc:
        return str(exc)
    return None


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting(SECTION, "field_name", str, "csrf_token",
                "Form field that carries the token in urlencoded and multipart bodies.",
                check=lambda v: None if _NAME.fullmatch(v)
                else "must be letters, digits, '_', '.' or '-'"),
        Setting(SECTION, "header_name", str, "X-CSRF-Token",
                "Request header that carries the token (JSON and other clients).",
                check=lambda v: None if _TOKEN.fullmatch(v) else "must be a header name"),
        Setting(SECTION, "trusted_origins", (list, tuple), (),
                "Other origins whose pages may send unsafe requests here "
                "('https://app.example.com', 'https://*.example.com').",
                check=_check_origins),
        Setting(SECTION, "exempt", (list, tuple, set, frozenset), (),
                "Handler names not checked (webhooks, APIs authenticated otherwise); "
                "adds to the App subclass's _csrf_exempt.",
                check=lambda v: None if all(isinstance(n, str) for n in v)
                else "must be handler names"),
        Setting(SECTION, "session_key", str, "_csrf",
                "Session key that holds the per-session secret."),
    ]


def _exempt_handlers(app: App) -> set[str]:
    cls = type(app)
    declared = getattr(cls, "_csrf_exempt", ())
    if isinstance(declared, str):
        raise ConfigError(
            f"{cls.__name__}._csrf_exempt expects a set of handler names, got the string "
            f"{declared!r}; write _csrf_exempt = {{{declared!r}}}."
        )
    names = {*declared, *app.config[SECTION]["exempt"]}
    for name in sorted(names, key=str):
        if not (isinstance(name, str) and not name.startswith("_")
                and inspect.isfunction(getattr(cls, name, None))):
            raise ConfigError(
                f"CSRF exemption {name!r} (from {cls.__name__}._csrf_exempt or "
                f"csrf.exempt) is not a handler of {cls.__name__}; exemptions name "
                "handler methods, e.g. _csrf_exempt = {'webhook'}."
            )
    return names


@hookimpl
def app_created(app: App) -> None:
    if SECTION not in app.config.given:
        return
    protection = CsrfProtection(app, app.config[SECTION], _exempt_handlers(app))
    app._micropie_csrf = protection  # type: ignore[attr-defined]
    app.plugins.register(protection, "csrf.protection")
