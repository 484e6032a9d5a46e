"""What is never compressed: already-compressed types, and responses at risk of BREACH.

BREACH recovers a secret from a compressed response when the same body also
reflects input an attacker controls: the compressed size shrinks when a
guess matches the secret. The attacker needs the victim's browser to send
the requests, so the responses at risk are those that carry a secret tied to
the victim's credentials. By default the plugin therefore leaves alone any
response to a request that carries credentials (the session cookie, another
cookie listed in ``private_cookies``, an ``Authorization`` header), any
response that sets a cookie, and any response a handler marked with
:func:`mark_sensitive`, unless the response says it is the same for everyone
(``Cache-Control: public``). A handler that knows its response reflects no
input next to a secret opts in with :func:`mark_compressible`; the whole app
opts in with ``compress_private = True``.
"""

from __future__ import annotations

from micropie_core import Request

#: The scope key the two markers set; read by the compression middleware.
SCOPE_KEY = "micropie_compress.policy"
SENSITIVE = "sensitive"
COMPRESSIBLE = "compressible"

#: Media types (and ``type/`` prefixes) that are compressed already, or nearly always are.
DEFAULT_SKIP_TYPES = (
    "image/", "video/", "audio/", "font/woff", "font/woff2",
    "application/zip", "application/gzip", "application/x-gzip", "application/zstd",
    "application/x-bzip2", "application/x-xz", "application/x-7z-compressed",
    "application/vnd.rar", "application/x-rar-compressed", "application/pdf",
    "application/octet-stream",
)
#: Exceptions to the prefixes above: text formats under a binary-looking type.
COMPRESSIBLE_EXCEPTIONS = frozenset({"image/svg+xml", "image/x-icon",
                                     "image/vnd.microsoft.icon", "image/bmp"})


def mark_sensitive(request: Request) -> None:
    """Never compress this request's response (it mixes a secret with reflected input)."""
    request.scope[SCOPE_KEY] = SENSITIVE


def mark_compressible(request: Request) -> None:
    """Compress this response even though the request carries credentials.

    Only for responses that do not put a secret (a CSRF token, personal data)
    in the same body as anything taken from the request.
    """
    request.scope[SCOPE_KEY] = COMPRESSIBLE


def skipped_type(media_type: str, skip_types: tuple[str, ...]) -> bool:
    """Whether ``media_type`` (lowercase, parameters removed) is never compressed."""
    if media_type in COMPRESSIBLE_EXCEPTIONS:
        return False
    return any(media_type == skip or (skip.endswith("/") and media_type.startswith(skip))
               for skip in skip_types)
