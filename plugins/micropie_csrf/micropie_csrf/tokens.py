"""The per-session CSRF secret, and the masked tokens pages and clients send back.

The secret (32 random bytes) lives in the session under ``csrf.session_key``,
next to a digest of the session id it was issued for. Whenever the session
moves to another id (``request.regenerate_session()`` at login, or any other
rotation) the next use finds a different id and issues a new secret, so a
token never outlives the session id it was issued with.

What a page embeds is *masked*: a fresh random pad followed by the secret
XOR the pad. Every rendering differs, so a compressed response that also
reflects attacker-chosen text reveals nothing about the secret (BREACH).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from micropie_core import Request, current_request

if TYPE_CHECKING:
    from .protection import CsrfProtection

__all__ = ["csrf_token", "rotate_csrf_token"]

SECRET_BYTES = 32
_MINTED = "micropie_csrf.minted"  # scope key: this request issued the session's secret


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def mask(secret: bytes) -> str:
    """A token for ``secret`` that differs on every call."""
    pad = secrets.token_bytes(SECRET_BYTES)
    return _encode(pad + bytes(a ^ b for a, b in zip(secret, pad, strict=True)))


def matches(token: str, secret: bytes) -> bool:
    """Whether ``token`` (as :func:`mask` made it) carries ``secret``; constant time."""
    raw = _decode(token) if token.isascii() and len(token) < 100 else None
    if raw is None or len(raw) != 2 * SECRET_BYTES:
        return False
    pad, masked = raw[:SECRET_BYTES], raw[SECRET_BYTES:]
    return hmac.compare_digest(bytes(a ^ b for a, b in zip(masked, pad, strict=True)), secret)


def _id_digest(session_id: str | None) -> str | None:
    if session_id is None:
        return None
    return hashlib.sha256(session_id.encode("latin-1")).hexdigest()[:32]


def stored_secret(protection: CsrfProtection, request: Request, *, issue: bool) -> bytes | None:
    """The session's secret, bound to its current id; issued (or renewed) when ``issue``.

    Without ``issue`` (checking a submitted token) a secret issued for another
    session id counts as none: that is exactly the token replay to refuse.
    """
    session: MutableMapping[str, Any] = request.session
    key = protection.session_key
    found = session.get(key)
    entry: dict[str, Any] = found if isinstance(found, dict) else {}
    encoded = entry.get("secret")
    secret = _decode(encoded) if isinstance(encoded, str) else None
    if secret is not None and len(secret) == SECRET_BYTES:
        bound = entry.get("sid")
        cookie_id = request.cookies.get(protection.cookie_name)
        if bound is None:
            # Issued for a brand-new session, whose id was minted when that
            # response was sent. A later request that finds the secret loaded
            # the session through that very id: bind the secret to it.
            if not request.scope.get(_MINTED) and cookie_id is not None:
                session[key] = {"secret": encoded, "sid": _id_digest(cookie_id)}
            return secret
        if hmac.compare_digest(str(bound), _id_digest(cookie_id) or ""):
            return secret
    if not issue:
        return None
    secret = secrets.token_bytes(SECRET_BYTES)
    session[key] = {"secret": _encode(secret), "sid": None}
    request.scope[_MINTED] = True
    return secret


def _protection_of(request: Request | None) -> tuple[CsrfProtection, Request]:
    if request is None:
        try:
            request = current_request.get()
        except LookupError:
            raise RuntimeError(
                "csrf_token() needs a request: call it while one is handled, or pass "
                "csrf_token(request)."
            ) from None
    protection = getattr(request.app, "_micropie_csrf", None)
    if protection is None:
        raise RuntimeError(
            "csrf_token() was called, but CSRF protection is off for this app: turn it "
            "on with App(config={'csrf': {}}) (micropie-csrf installed and not blocked)."
        )
    return protection, request


def csrf_token(request: Request | None = None) -> str:
    """The CSRF token to embed in a form or send as the ``X-CSRF-Token`` header.

    Call it in a handler (``request`` defaults to the current one). It issues
    the session's secret on first use (which creates the session), and returns
    a differently masked token each time; every one of them is valid until the
    session's id changes.
    """
    protection, request = _protection_of(request)
    secret = stored_secret(protection, request, issue=True)
    assert secret is not None
    return mask(secret)


def rotate_csrf_token(request: Request | None = None) -> str:
    """Replace the session's secret now (tokens issued before stop working); return a token.

    ``request.regenerate_session()`` already renews it on the next request;
    call this when a privilege change does not regenerate the session.
    """
    protection, request = _protection_of(request)
    request.session.pop(protection.session_key, None)
    request.scope.pop(_MINTED, None)
    return csrf_token(request)
