"""The per-request object handlers see as ``self.request``."""

from __future__ import annotations

from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from .cookies import request_cookies
from .errors import HTTPError
from .headers import Headers
from .types import Receive, Scope
from .uploads import UploadedFiles

if TYPE_CHECKING:
    from .app import App
    from .multipart import MultipartReader

current_request: ContextVar[Request] = ContextVar("micropie_current_request")


def parse_urlencoded(data: str, *, max_fields: int | None = None) -> dict[str, list[str]]:
    """Parse ``a=1&a=2&b=&c`` into ``{"a": ["1", "2"]}``.

    Blank values (``b=``, a bare ``c``) are omitted, as MicroPie does, so the
    handler's parameter default applies. Raises ``ValueError`` when there are
    more than ``max_fields`` ``&``-separated pieces, counted (at C speed)
    before anything is split.
    """
    if not data:
        return {}
    if max_fields is not None and data.count("&") >= max_fields:
        raise ValueError(f"more than {max_fields} fields")
    result: dict[str, list[str]] = {}
    for pair in data.split("&"):
        name, _, value = pair.partition("=")
        if not value:
            continue
        # Most names and values need no decoding; unquote only those that do.
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        values = result.get(name)
        if values is None:
            result[name] = [value]
        else:
            values.append(value)
    return result


class Request:
    """An HTTP request, as seen by handlers (``self.request``) and middleware.

    Everything that needs parsing (headers, cookies, query string) is parsed on
    first use. ``path_params``, ``query_params``, ``body_params``, ``files`` and
    ``session`` are plain attributes so middleware can rewrite them, as in MicroPie.
    """

    # Immutable defaults live on the class so that constructing a request (once
    # per HTTP request) sets only what every request needs.
    _headers: Headers | None = None
    _cookies: dict[str, str] | None = None
    _query_params: dict[str, list[str]] | None = None
    _body_params: dict[str, list[str]] | None = None
    _files: UploadedFiles | None = None
    _json: Any = None
    _body: bytes = b""
    body_parsed = False
    _session: MutableMapping[str, Any] | None = None
    _session_id: str | None = None
    _session_created: float | None = None
    _session_snapshot: bytes = b""  # JSON of the stored session ("snapshot" stores)
    _session_version = 0  # Session.version when loaded or saved ("live" stores)
    _session_new = False  # _session_id was given out but may not be stored yet (WebSockets)
    _session_external = False  # the session belongs to an app that mounted this one
    _regenerate_session = False
    _route_handler: str | None = None  # explicit routing, set by middleware
    _subapp: Any = None  # sub-app mounting, set by middleware
    # True until the body is known to be received to its end (or absent): an
    # error response before that closes an HTTP/1.x connection (see App.__call__),
    # including one for bad framing headers, raised before the body is looked at.
    _body_pending = True

    def __init__(self, scope: Scope, receive: Receive | None = None, app: App | None = None):
        self.scope = scope
        self.method: str = scope.get("method", "GET")
        self.path: str = scope.get("path", "/")
        self.app = app
        self._receive = receive
        self.path_params: list[Any] = []  # str segments, or what an explicit router set
        # Read on every request: CPython 3.11 reads an instance attribute with a
        # specialised instruction, a class-level default with a generic lookup.
        self._form_reader: MultipartReader | None = None  # a multipart body still being parsed
        self._session_accessed = False

    @property
    def headers(self) -> Headers:
        """Case-insensitive request headers; repeated headers are kept."""
        if self._headers is None:
            self._headers = Headers(self.scope.get("headers"))
        return self._headers

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies sent by the client (first value wins for repeated names).

        Parsed by :mod:`micropie_core.cookies` (browser rules, linear time); a
        ``Cookie`` header over 64 KiB is a 400.
        """
        if self._cookies is None:
            self._cookies = request_cookies(self.scope.get("headers") or [])
        return self._cookies

    @property
    def query_params(self) -> dict[str, list[str]]:
        """Query string as ``{name: [values]}``."""
        if self._query_params is None:
            raw = self.scope.get("query_string", b"")
            if not raw:
                self._query_params = {}
            else:
                limit = self.app.limits.max_form_fields if self.app is not None else None
                try:
                    self._query_params = parse_urlencoded(raw.decode("latin-1"),
                                                          max_fields=limit)
                except ValueError:
                    raise HTTPError(
                        413, f"Too many query string fields (the limit is {limit})"
                    ) from None
        return self._query_params

    @query_params.setter
    def query_params(self, value: dict[str, list[str]]) -> None:
        self._query_params = value

    @property
    def body_params(self) -> dict[str, list[str]]:
        """Form fields of the body as ``{name: [values]}``.

        Starts from the scope's ``body_params`` when there is one (how MicroPie
        hands a parsed form to a mounted app, and what ``Request(scope)`` takes).
        """
        if self._body_params is None:
            self._body_params = self.scope.get("body_params") or {}
        return self._body_params

    @body_params.setter
    def body_params(self, value: dict[str, list[str]]) -> None:
        self._body_params = value

    @property
    def files(self) -> UploadedFiles:
        """Uploaded files (:class:`~micropie_core.UploadedFile`) by field name.

        ``files[name]`` is the first file sent under ``name``; for a multipart
        body this is an :class:`~micropie_core.uploads.UploadedFiles` whose
        ``getlist(name)`` gives all of them. Files after the first one may still
        be arriving when the handler starts: see :meth:`load_form`.
        """
        if self._files is None:
            self._files = UploadedFiles()
        return self._files

    @files.setter
    def files(self, value: dict[str, Any]) -> None:
        self._files = value if isinstance(value, UploadedFiles) else UploadedFiles.of(value)

    @property
    def content_type(self) -> str:
        """The media type of the body, lower-cased, without parameters."""
        return (self.headers.get("content-type") or "").partition(";")[0].strip().lower()

    @property
    def client(self) -> tuple[str, int] | None:
        """``(host, port)`` of the peer, when the server reports it."""
        client = self.scope.get("client")
        return (client[0], client[1]) if client else None

    @property
    def session(self) -> MutableMapping[str, Any]:
        """This client's session data; changes are saved when the response is sent."""
        self._session_accessed = True
        if self._session is None:
            self._session = {} if self.app is None else self.app._sessions.attach(self)
        return self._session

    @session.setter
    def session(self, value: MutableMapping[str, Any]) -> None:
        self._session_accessed = True
        self._session = value

    def query(self, name: str, default: str | None = None) -> str | None:
        """First value of query parameter ``name``, or ``default``."""
        values = self.query_params.get(name)
        return values[0] if values else default

    def form(self, name: str, default: str | None = None) -> str | None:
        """First value of form field ``name``, or ``default``."""
        values = self.body_params.get(name)
        return values[0] if values else default

    def json(self, name: str | None = None, default: Any = None) -> Any:
        """The parsed JSON body, or one key of a top-level JSON object.

        Without a JSON body, ``json()`` is ``{}`` (as in MicroPie) unless a
        ``default`` is given. A ``json_body`` in the scope (how MicroPie hands a
        parsed body to a mounted app) counts as the body.
        """
        data = self._json
        if data is None:
            data = self.scope.get("json_body")
        if name is None:
            if data is None:
                return {} if default is None else default
            return data
        if isinstance(data, dict):
            return data.get(name, default)
        return default

    async def body(self) -> bytes:
        """The raw request body (read before the handler runs, within the limits).

        Empty for ``multipart/form-data``, which is streamed into
        ``body_params`` and ``files`` instead.
        """
        return self._body

    async def load_form(self) -> None:
        """Wait until a multipart body has been parsed to its end.

        Handlers start while a multipart body is still arriving (at its first
        file). Afterwards ``body_params`` and ``files`` are complete; files not
        read yet wait on disk. Raises ``HTTPError`` (400/408/413) if the rest
        of the body is malformed or over a limit, ``ClientDisconnect`` if the
        client went away, ``UploadClosedError`` once the handler has returned.
        Returns at once for every other body.
        """
        if self._form_reader is not None:
            await self._form_reader.wait_for(None)

    def regenerate_session(self) -> None:
        """Move this session to a fresh id when the response is sent (after login)."""
        self._regenerate_session = True
        self._session_accessed = True  # rotate even if the handler never reads the session
