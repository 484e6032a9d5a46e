"""The ``compress`` plugin: found through the ``micropie`` entry point, off until configured.

``App(config={"compress": {}})`` turns it on with the defaults; without a
``compress`` section it adds no layer, so it costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from micropie_core import App, Setting, hookimpl
from micropie_core.types import ASGIApp

from .encodings import KNOWN, available_codings
from .middleware import CompressMiddleware, Options
from .policy import DEFAULT_SKIP_TYPES

SECTION = "compress"


def _check_encodings(value: Any) -> str | None:
    unknown = [name for name in value if name not in KNOWN]
    if unknown or not value:
        return f"expected a non-empty list of {', '.join(KNOWN)}, found {unknown or value!r}"
    return None


def _check_strings(kind: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        bad = [item for item in value if not isinstance(item, str) or not item]
        return f"expected a list of {kind}, found {bad!r} in it" if bad else None

    return check


def _between(low: int, high: int) -> Callable[[int], str | None]:
    return lambda v: None if low <= v <= high else f"must be from {low} to {high}"


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting(SECTION, "encodings", (list, tuple), KNOWN,
                "Codings in order of preference; 'br' and 'zstd' are used only when the "
                "brotli / zstandard package is installed.", check=_check_encodings),
        Setting(SECTION, "minimum_size", int, 500,
                "Bodies shorter than this many bytes are sent as they are.",
                check=lambda v: None if v >= 0 else "must be 0 or more"),
        Setting(SECTION, "skip_types", (list, tuple), DEFAULT_SKIP_TYPES,
                "Media types never compressed; an entry ending in '/' is a prefix "
                "('image/'). The default lists compressed formats (images, video, audio, "
                "woff/woff2, archives, PDF).", check=_check_strings("media types")),
        Setting(SECTION, "compress_streams", bool, False,
                "Compress streamed responses too (each chunk is flushed as it is sent)."),
        Setting(SECTION, "buffer_limit", int, 4 * 1024 * 1024,
                "A body with a Content-Length up to this many bytes that arrives in "
                "chunks (a large static file) is gathered and compressed whole; larger "
                "ones count as streams.", check=lambda v: None if v >= 0 else "must be 0 or more"),
        Setting(SECTION, "compress_private", bool, False,
                "Compress responses to requests with credentials and responses that set "
                "cookies. Off by default because of BREACH: read docs/compression.md first."),
        Setting(SECTION, "private_cookies", (list, tuple), (),
                "Cookie names, besides the session cookie, whose presence makes a request "
                "private (e.g. your own auth cookie).", check=_check_strings("cookie names")),
        Setting(SECTION, "gzip_level", int, 6, "zlib level, 1 (fastest) to 9.",
                check=_between(1, 9)),
        Setting(SECTION, "brotli_quality", int, 4,
                "Brotli quality, 0 to 11; 4 compresses better than gzip at similar speed.",
                check=_between(0, 11)),
        Setting(SECTION, "zstd_level", int, 3, "Zstandard level, 1 to 19.",
                check=_between(1, 19)),
    ]


# tryfirst: the outermost wrapper among the plugins that do not ask for it too, so
# what the static plugin (and any other wrapper inside it) sends is compressed.
@hookimpl(tryfirst=True)
def register_asgi_middleware(app: App) -> list[Callable[[ASGIApp], ASGIApp]] | None:
    if SECTION not in app.config.given:
        return None
    settings = app.config[SECTION]
    options = Options(
        codings=available_codings(settings["encodings"], settings["gzip_level"],
                                  settings["brotli_quality"], settings["zstd_level"]),
        minimum_size=settings["minimum_size"],
        skip_types=tuple(entry.lower() for entry in settings["skip_types"]),
        compress_streams=settings["compress_streams"],
        compress_private=settings["compress_private"],
        buffer_limit=settings["buffer_limit"],
        private_cookies=(app.config["sessions"]["cookie_name"], *settings["private_cookies"]),
    )
    return [lambda inner: CompressMiddleware(inner, options)]
