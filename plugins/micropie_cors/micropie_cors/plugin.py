"""The ``cors`` plugin: found through the ``micropie`` entry point, off until configured.

``App(config={"cors": {"allow_origins": [...]}})`` turns it on; without a
``cors`` section it adds no layer, so it costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from micropie_core import App, Setting, hookimpl
from micropie_core.types import ASGIApp

from .middleware import CORSMiddleware
from .policy import CorsPolicy, check_origins, check_tokens

SECTION = "cors"


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting(SECTION, "allow_origins", (list, tuple), (),
                "Origins whose pages may read responses: exact ('https://app.example.com'), "
                "a subdomain pattern ('https://*.example.com'), or '*' for any.",
                check=check_origins),
        Setting(SECTION, "allow_methods", (list, tuple), ("GET", "HEAD", "POST"),
                "Methods a preflight may ask for ('*' for any).",
                check=check_tokens("HTTP methods")),
        Setting(SECTION, "allow_headers", (list, tuple), (),
                "Request headers a preflight may ask for, besides the safelisted ones "
                "(Accept, Accept-Language, Content-Language, Content-Type); '*' for any.",
                check=check_tokens("header names")),
        Setting(SECTION, "allow_credentials", bool, False,
                "Let pages send cookies and read the responses (never with '*' origins)."),
        Setting(SECTION, "expose_headers", (list, tuple), (),
                "Response headers pages may read, besides the safelisted ones.",
                check=check_tokens("header names")),
        Setting(SECTION, "max_age", int, 600,
                "Seconds a browser may cache a preflight answer.",
                check=lambda v: None if v >= 0 else "must be 0 or more"),
    ]


@hookimpl
def register_asgi_middleware(app: App) -> list[Callable[[ASGIApp], ASGIApp]] | None:
    if SECTION not in app.config.given:
        return None
    policy = CorsPolicy(app.config[SECTION])

    def factory(inner: ASGIApp) -> ASGIApp:
        return CORSMiddleware(inner, policy)

    return [factory]
