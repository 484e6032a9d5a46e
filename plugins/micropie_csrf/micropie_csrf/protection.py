"""The checks on unsafe requests, and what templates see; registered per app when configured."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Iterable, Mapping
from html import escape
from typing import Any
from urllib.parse import urlsplit

from micropie_core import App, HTTPError, Request, hookimpl
from micropie_core.origins import OriginAllowList, normalize_origin
from micropie_core.routing import path_segments

from .tokens import csrf_token, matches, stored_secret

__all__ = ["CsrfProtection"]

#: Methods that must not change anything (RFC 9110 §9.2.1): never checked.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _refuse(reason: str) -> HTTPError:
    return HTTPError(403, f"CSRF check failed: {reason}")


class CsrfProtection:
    """The ``csrf`` section of one app: checks unsafe requests, feeds templates.

    ``micropie_csrf.plugin`` registers one per app with
    ``app.plugins.register(...)`` when the app's config has a ``csrf``
    section, so apps without it pay nothing per request.
    """

    def __init__(self, app: App, settings: Mapping[str, Any], exempt: Iterable[str]) -> None:
        self.app_class = type(app)
        self.field_name: str = settings["field_name"]
        self.header_name: str = settings["header_name"]
        self.session_key: str = settings["session_key"]
        self.cookie_name: str = app.config["sessions"]["cookie_name"]
        self.trusted = OriginAllowList(settings["trusted_origins"])
        self.exempt = frozenset(exempt)

    # ------------------------------------------------------------------ hooks

    @hookimpl
    def prepare_request(self, request: Request) -> Awaitable[None] | None:
        """Check an unsafe, non-exempt request (a coroutine); nothing to await otherwise."""
        if request.method in SAFE_METHODS or self._is_exempt(request):
            return None
        return self._check(request)

    @hookimpl
    def template_context(self, request: Request | None) -> dict[str, Any] | None:
        """``csrf_token`` and ``csrf_input()`` for templates rendered during a request."""
        if request is None:
            return None
        token = LazyToken(request)
        return {"csrf_token": token, "csrf_input": HiddenInput(self.field_name, token)}

    # ----------------------------------------------------------------- checks

    def _is_exempt(self, request: Request) -> bool:
        """Whether the handler the URL names is exempt (``/hook/x``: hook, ``/``: index)."""
        if not self.exempt:
            return False
        # The segments the core routes on (root_path removed, escapes decoded).
        scope = request.scope
        segments = path_segments(request.path, scope.get("raw_path"), scope.get("root_path", ""))
        first = segments[0] if segments else "index"
        if first in self.exempt:
            return True
        # An unknown first segment is served by index (or is a 404 anyway).
        return "index" in self.exempt and not inspect.isfunction(
            getattr(self.app_class, first, None))

    async def _check(self, request: Request) -> None:
        self._check_origin(request)
        if self.cookie_name not in request.cookies:
            raise _refuse("the request carries no session cookie, so there is no CSRF "
                          "token to compare with (are cookies blocked?)")
        secret = stored_secret(self, request, issue=False)
        if secret is None:
            raise _refuse("this session has no valid CSRF token (the session expired or "
                          "changed since the form was rendered); reload the form")
        submitted = request.headers.get(self.header_name) or request.form(self.field_name)
        if submitted is None and request.content_type == "multipart/form-data":
            await request.load_form()  # the field came after a file
            submitted = request.form(self.field_name)
        if submitted is None:
            raise _refuse(f"no {self.field_name!r} form field and no {self.header_name} "
                          "header was sent")
        if not matches(submitted, secret):
            raise _refuse("the CSRF token does not belong to this session")

    def _check_origin(self, request: Request) -> None:
        """The request must come from a page of this site (or a trusted origin)."""
        scheme = "https" if request.scope.get("scheme") in ("https", "wss") else "http"
        host = request.headers.get("host")
        own = normalize_origin(f"{scheme}://{host}") if host else None
        origin = request.headers.get("origin")
        if origin is not None:
            source, what = normalize_origin(origin), "Origin"
        else:
            referer = request.headers.get("referer")
            if referer is None:
                if scheme == "https":
                    raise _refuse("an HTTPS request needs an Origin or Referer header from "
                                  "the browser, and this one has neither")
                return
            source, what = _origin_of(referer), "Referer"
        if source is None:
            raise _refuse(f"the {what} header is not a web origin (e.g. 'null' from a "
                          "sandboxed page or a local file)")
        if source != own and not self.trusted.allows(source):
            raise _refuse(f"the {what} header names another site; add it to "
                          "csrf.trusted_origins if its pages may post here")


def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc or "@" in parts.netloc:
        return None
    return normalize_origin(f"{parts.scheme}://{parts.netloc}")


class LazyToken:
    """``{{ csrf_token }}`` in a template: issued only if the template uses it."""

    __slots__ = ("_request", "_token")

    def __init__(self, request: Request) -> None:
        self._request = request
        self._token: str | None = None

    def __str__(self) -> str:
        if self._token is None:
            self._token = csrf_token(self._request)
        return self._token

    def __html__(self) -> str:
        return str(self)  # URL-safe base64: nothing to escape


class HiddenInput:
    """``{{ csrf_input() }}``: the hidden form field that carries the token."""

    __slots__ = ("_name", "_token")

    def __init__(self, name: str, token: LazyToken) -> None:
        self._name = name
        self._token = token

    def __call__(self) -> HiddenInput:
        return self

    def __str__(self) -> str:
        return (f'<input type="hidden" name="{escape(self._name)}" '
                f'value="{self._token}">')

    def __html__(self) -> str:
        return str(self)
