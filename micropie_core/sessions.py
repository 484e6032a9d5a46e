"""The session protocol: cookie handling, id minting, rotation and store calls.

Stores only keep bytes-free JSON records; everything about cookies and ids lives
here, so a store plugin cannot get the security wrong.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from .config import Setting
from .errors import HTTPError
from .serialization import json_dumps

if TYPE_CHECKING:
    from .requests import Request

logger = logging.getLogger("micropie")

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32): 256 bits


def new_session_id() -> str:
    """A fresh, unguessable session id (256 bits from ``secrets``)."""
    return secrets.token_urlsafe(32)


def is_well_formed(session_id: str | None) -> bool:
    """Whether ``session_id`` could have been minted by :func:`new_session_id`."""
    return session_id is not None and _SESSION_ID.fullmatch(session_id) is not None


def session_settings() -> list[Setting]:
    """The ``sessions`` config keys that belong to the protocol (not to a store)."""
    return [
        Setting("sessions", "store", str, "memory", "Which store keeps sessions."),
        Setting("sessions", "cookie_name", str, "session_id", "Name of the session cookie.",
                check=lambda v: None if re.fullmatch(r"[A-Za-z0-9_.-]+", v)
                else "must be a cookie token (letters, digits, '_', '.', '-')"),
        Setting("sessions", "ttl", int, 8 * 3600,
                "Seconds of inactivity before a session expires (sliding).",
                check=lambda v: None if v > 0 else "must be positive"),
        Setting("sessions", "absolute_lifetime", (int, type(None)), None,
                "Seconds after creation when a session expires regardless of activity.",
                check=lambda v: None if v is None or v > 0 else "must be positive or None"),
        Setting("sessions", "secure", (bool, type(None)), None,
                "Secure cookie flag: None = only when the request came over https."),
        Setting("sessions", "samesite", str, "lax", "SameSite attribute of the cookie.",
                check=lambda v: None if v in ("lax", "strict", "none")
                else "must be 'lax', 'strict' or 'none'"),
    ]


class SessionStore(ABC):
    """Where session records live. Implement it in a store plugin.

    Records are JSON-serialisable dicts. Every method may raise on a storage
    failure; the app then answers 503 for requests that use the session.
    """

    @abstractmethod
    async def load(self, session_id: str, ttl: int) -> dict[str, Any] | None:
        """Return the record and extend its expiry to ``ttl`` seconds, or ``None``."""

    @abstractmethod
    async def save(
        self, session_id: str, record: dict[str, Any], ttl: int, *, only_if_exists: bool = False
    ) -> bool | None:
        """Store ``record`` so that it expires after ``ttl`` seconds.

        With ``only_if_exists`` (an update of a session loaded earlier in the
        request) store it only if ``session_id`` is still there, and return
        ``False`` if it is not: a session deleted meanwhile (logout in another
        request, regeneration, expiry) is then not brought back. A store that
        cannot check returns ``None`` and the write simply wins.
        """

    @abstractmethod
    async def delete(self, session_id: str) -> None:
        """Forget ``session_id`` (no error if it is unknown)."""


class SessionBackend(ABC):
    """MicroPie-compatible custom store: pass one as ``App(session_backend=...)``."""

    @abstractmethod
    async def load(self, session_id: str) -> dict[str, Any]:
        """Return the stored data, or ``{}`` if there is none."""

    @abstractmethod
    async def save(self, session_id: str, data: dict[str, Any], timeout: int) -> None:
        """Store ``data`` for ``timeout`` seconds; empty data or 0 means delete."""

    def as_store(self) -> SessionStore:
        """Adapt this backend to the :class:`SessionStore` interface."""
        return _BackendStore(self)


class _BackendStore(SessionStore):
    """A MicroPie ``SessionBackend`` as a store.

    The backend stores the session data dict itself, exactly as under MicroPie
    (anything else reading that storage sees the same shape). Its interface has
    no room for a creation time, so ``absolute_lifetime`` does not apply to it.
    """

    def __init__(self, backend: SessionBackend) -> None:
        self.backend = backend

    async def load(self, session_id: str, ttl: int) -> dict[str, Any] | None:
        data = await self.backend.load(session_id)
        if not data:
            return None
        return {"data": data, "created": time.time()}

    async def save(
        self, session_id: str, record: dict[str, Any], ttl: int, *, only_if_exists: bool = False
    ) -> None:
        await self.backend.save(session_id, record["data"], ttl)

    async def delete(self, session_id: str) -> None:
        await self.backend.save(session_id, {}, 0)


class Session(dict[str, Any]):
    """The dict handlers see as ``request.session``; remembers whether it changed."""

    modified = False

    def __setitem__(self, key: str, value: Any) -> None:
        self.modified = True
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.modified = True
        super().__delitem__(key)

    def clear(self) -> None:
        self.modified = True
        super().clear()

    def pop(self, *args: Any) -> Any:
        self.modified = True
        return super().pop(*args)

    def popitem(self) -> tuple[str, Any]:
        self.modified = True
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.modified = True
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.modified = True
        super().update(*args, **kwargs)


class UnavailableSession(MutableMapping[str, Any]):
    """Stands in for a session whose store failed: any use answers 503."""

    def __init__(self, cause: BaseException) -> None:
        self.cause = cause

    def _fail(self) -> HTTPError:
        return HTTPError(503, "Session store unavailable")

    def __getitem__(self, key: str) -> Any:
        raise self._fail()

    def __setitem__(self, key: str, value: Any) -> None:
        raise self._fail()

    def __delitem__(self, key: str) -> None:
        raise self._fail()

    def __iter__(self) -> Iterator[str]:
        raise self._fail()

    def __len__(self) -> int:
        raise self._fail()


class SessionManager:
    """Loads the session a request's cookie points at and saves it afterwards."""

    def __init__(self, store: SessionStore | None, settings: dict[str, Any]) -> None:
        self.store = store
        self.cookie_name: str = settings["cookie_name"]
        self._cookie_name_bytes = self.cookie_name.encode("latin-1")
        self.ttl: int = settings["ttl"]
        self.absolute_lifetime: int | None = settings["absolute_lifetime"]
        self.secure: bool | None = settings["secure"]
        self.samesite: str = settings["samesite"]
        common = f"; Path=/; HttpOnly; SameSite={self.samesite.capitalize()}"
        self._cookie_attributes = (common, common + "; Secure")  # indexed by "secure?"

    def id_to_load(self, request: Request) -> str | None:
        """The session id worth a store call for this request, else ``None``."""
        if self.store is None or request._session is not None:
            return None
        return self._cookie_id(request)

    def _cookie_id(self, request: Request) -> str | None:
        """The well-formed session id in the request's cookies, else ``None``.

        ``request.cookies`` decides (one parser, the same rules everywhere);
        a request whose Cookie headers do not even contain the cookie name
        is not parsed at all. A malformed id costs no store call.
        """
        name = self._cookie_name_bytes
        if not any(header == b"cookie" and name in value
                   for header, value in request.scope["headers"]):
            return None
        session_id = request.cookies.get(self.cookie_name)
        return session_id if is_well_formed(session_id) else None

    async def load(self, request: Request, session_id: str) -> None:
        """Load session ``session_id`` (:meth:`id_to_load`'s answer); unknown ids are not adopted.

        A store failure is logged once and leaves an :class:`UnavailableSession`:
        the request answers 503 only if it uses the session.
        """
        assert self.store is not None  # id_to_load() checked it
        try:
            record = await self.store.load(session_id, self.ttl)
        except Exception as exc:
            _log_failure("load", exc)
            request._session = UnavailableSession(exc)
            return
        data = record.get("data") if isinstance(record, dict) else None
        created = record.get("created") if isinstance(record, dict) else None
        if not isinstance(data, dict) or not isinstance(created, (int, float)):
            return
        if self.absolute_lifetime is not None and time.time() - created > self.absolute_lifetime:
            try:  # best effort: the record is unusable either way
                await self.store.delete(session_id)
            except Exception as exc:
                _log_failure("delete", exc)
            return
        request._session = Session(data)
        request._session_id = session_id
        request._session_created = created
        request._session_snapshot = _serialize(data)

    def attach(self, request: Request) -> MutableMapping[str, Any]:
        """A new empty session for a request that had none."""
        if self.store is None:
            raise RuntimeError(
                "request.session needs a session store, and none is active: the built-in "
                "'sessions' plugin was left out of App(plugins=...) / MICROPIE_PLUGINS or "
                "blocked. Enable it, or pass App(session_backend=...)."
            )
        request._session_snapshot = b"{}"
        return Session()

    async def commit(self, request: Request, response: Any) -> None:
        """Persist changes, rotate ids and set or expire the cookie as needed.

        Store calls: none for an unchanged session (the load already refreshed
        its expiry), one ``save`` for a changed or new one, a ``delete`` when it
        was emptied or regenerated.
        """
        session = request._session
        if isinstance(session, UnavailableSession) or not request._session_accessed:
            return
        assert self.store is not None and session is not None
        response.headers.append(("Vary", "Cookie"))
        old_id = request._session_id
        data = dict(session)
        if not data:
            if old_id is not None:
                await self._delete(old_id)
                self._set_cookie(request, response, "", max_age=0)
            return
        serialized = _serialize(data)
        if old_id is not None and request._regenerate_session:
            await self._delete(old_id)
            old_id = None
        created = request._session_created or time.time()
        ttl = self._ttl_for(created)
        record = {"data": data, "created": created}
        if old_id is None:  # new, or moved to a fresh id: never reuse a client's id
            session_id = new_session_id()
            await self._save(session_id, record, ttl, only_if_exists=False)
        else:
            session_id = old_id
            if serialized != request._session_snapshot and not await self._save(
                session_id, record, ttl, only_if_exists=True
            ):
                # Deleted meanwhile (logout elsewhere, expiry): deletion wins.
                self._set_cookie(request, response, "", max_age=0)
                return
        self._set_cookie(request, response, session_id, max_age=ttl)

    def _ttl_for(self, created: float) -> int:
        if self.absolute_lifetime is None:
            return self.ttl
        remaining = int(created + self.absolute_lifetime - time.time())
        return max(1, min(self.ttl, remaining))

    async def _save(
        self, session_id: str, record: dict[str, Any], ttl: int, *, only_if_exists: bool
    ) -> bool:
        assert self.store is not None
        try:
            stored = await self.store.save(session_id, record, ttl, only_if_exists=only_if_exists)
        except Exception as exc:
            _log_failure("save", exc)
            raise HTTPError(503, "Session store unavailable") from exc
        return stored is not False

    async def _delete(self, session_id: str) -> None:
        assert self.store is not None
        try:
            await self.store.delete(session_id)
        except Exception as exc:
            _log_failure("delete", exc)
            raise HTTPError(503, "Session store unavailable") from exc

    def _set_cookie(self, request: Request, response: Any, value: str, *, max_age: int) -> None:
        # Ids and the cookie name are plain tokens, so the header is a plain
        # string template (``http.cookies`` costs more than the rest of a request).
        secure = self.secure
        if secure is None:
            secure = request.scope.get("scheme") in ("https", "wss")
        attributes = self._cookie_attributes[secure or self.samesite == "none"]
        response.headers.append(
            ("Set-Cookie", f"{self.cookie_name}={value}; Max-Age={max_age}{attributes}")
        )
        _make_private(response.headers)


def _make_private(headers: list[tuple[str, str]]) -> None:
    """Keep shared caches from storing a response that sets a session cookie.

    A handler's own ``Cache-Control`` is kept, minus what would let a shared
    cache store it (``public``, ``s-maxage``), plus ``private``; one header,
    never two that contradict each other.
    """
    if not any(name.lower() == "cache-control" for name, _ in headers):
        headers.append(("Cache-Control", "private"))  # the usual case: no policy of its own
        return
    directives: list[str] = []
    kept: list[tuple[str, str]] = []
    for name, value in headers:
        if name.lower() == "cache-control":
            directives += [d.strip() for d in value.split(",") if d.strip()]
        else:
            kept.append((name, value))
    shared_only = ("public", "private", "s-maxage")
    directives = [d for d in directives if d.lower().partition("=")[0] not in shared_only]
    if not any(d.lower() == "no-store" for d in directives):
        directives.insert(0, "private")
    kept.append(("Cache-Control", ", ".join(directives)))
    headers[:] = kept


def _log_failure(operation: str, exc: BaseException) -> None:
    logger.error("Session store failed to %s a session: %s: %s", operation,
                 type(exc).__name__, exc)


def _serialize(data: dict[str, Any]) -> bytes:
    try:
        return json_dumps(data)
    except TypeError as exc:
        raise TypeError(
            f"request.session holds a value that cannot be stored: {exc}. Session values "
            "must be JSON-serialisable (str, numbers, bool, None, lists, dicts, datetime, "
            "uuid, dataclasses); store an id or a dict instead."
        ) from None
