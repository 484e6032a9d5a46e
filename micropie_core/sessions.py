"""The session protocol: cookie handling, id minting, rotation and store calls.

Stores only keep records; everything about cookies and ids lives here, so a
store plugin cannot get the security wrong.
"""

from __future__ import annotations

import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from .config import Setting
from .cookies import cookie_header, parse_cookie_bytes
from .errors import HTTPError
from .serialization import json_dumps

if TYPE_CHECKING:
    from .requests import Request

logger = logging.getLogger("micropie")

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32): 256 bits
#: What may stand in a cookie value without quoting (RFC 6265 cookie-octet).
_COOKIE_VALUE = re.compile(r"[!#-+\--:<-\[\]-~]{1,4096}")
#: Cookie headers whose session id a SessionManager remembers, and the longest it keeps.
_REMEMBERED_HEADERS = 1024
_MAX_REMEMBERED_HEADER = 1024
#: Seconds of inactivity before a session expires by default (MicroPie's name and value).
SESSION_TIMEOUT: int = 8 * 3600


def new_session_id() -> str:
    """A fresh, unguessable session id (256 bits from ``secrets``)."""
    import secrets  # here, not at the top: 6 ms of start-up for what only a new session needs

    return secrets.token_urlsafe(32)


def is_well_formed(session_id: str | None) -> bool:
    """Whether ``session_id`` could have been minted by :func:`new_session_id`."""
    return session_id is not None and _SESSION_ID.fullmatch(session_id) is not None


def valid_session_id(session_id: str) -> str | None:
    """The default ``id_validator``: ``session_id`` if :func:`new_session_id` could make it."""
    return session_id if _SESSION_ID.fullmatch(session_id) is not None else None


def _callable_or_none(value: Any) -> str | None:
    return None if value is None or callable(value) else "must be callable or None"


def session_settings() -> list[Setting]:
    """The ``sessions`` config keys that belong to the protocol (not to a store)."""
    return [
        Setting("sessions", "store", str, "memory", "Which store keeps sessions."),
        Setting("sessions", "cookie_name", str, "session_id", "Name of the session cookie.",
                check=lambda v: None if re.fullmatch(r"[A-Za-z0-9_.-]+", v)
                else "must be a cookie token (letters, digits, '_', '.', '-')"),
        Setting("sessions", "ttl", int, SESSION_TIMEOUT,
                "Seconds of inactivity before a session expires (sliding).",
                check=lambda v: None if v > 0 else "must be positive"),
        Setting("sessions", "absolute_lifetime", (int, type(None)), None,
                "Seconds after creation when a session expires regardless of activity.",
                check=lambda v: None if v is None or v > 0 else "must be positive or None"),
        Setting("sessions", "secure", (bool, type(None)), True,
                "Secure cookie flag (browsers accept it on http://localhost); False for "
                "plain-http deployments, None = only when the request came over https."),
        Setting("sessions", "samesite", str, "lax", "SameSite attribute of the cookie.",
                check=lambda v: None if v in ("lax", "strict", "none")
                else "must be 'lax', 'strict' or 'none'"),
        Setting("sessions", "id_factory", Callable, new_session_id,  # type: ignore[arg-type]
                "Makes a new session id: a function of no arguments returning a str "
                "(MicroPie's session_id_factory). Default: 256 bits from secrets.",
                check=lambda v: None if callable(v) else "must be callable"),
        Setting("sessions", "id_validator", (Callable, type(None)),  # type: ignore[arg-type]
                valid_session_id,
                "Takes a session id from a cookie and returns it (or its canonical form) "
                "if it may be looked up, else None (MicroPie's session_id_validator). "
                "None = look up any id.", check=_callable_or_none),
    ]


class SessionStore(ABC):
    """Where session records live. Implement it in a store plugin.

    A record is ``{"data": <the session dict>, "created": <epoch seconds>}``.
    Every method may raise on a storage failure; the app then answers 503 for
    requests that use the session.

    ``changes`` says how the app finds out that a loaded session changed:

    - ``"snapshot"`` (the default): the store copies records (it serialises
      them, as Redis does), so session values must be JSON-serialisable and a
      session is saved when its JSON encoding differs from the one loaded.
    - ``"live"``: the store keeps the data dict it was given and returns that
      same object on load (the memory store). Every change, nested ones too, is
      in the store as soon as it is made; values may be any Python object.
      The app saves only new, rotated and emptied sessions, and checks that a
      changed one still exists.
    - ``"always"``: every session a request used is saved (what MicroPie does
      with a custom ``SessionBackend``).
    """

    changes: ClassVar[Literal["snapshot", "live", "always"]] = "snapshot"

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
    (anything else reading that storage sees the same shape), and, as under
    MicroPie, every session a request used is saved: the backend may keep any
    value, and its own expiry may rely on those saves. Its interface has no
    room for a creation time, so ``absolute_lifetime`` does not apply to it.
    """

    changes = "always"

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


class StoreBackend(SessionBackend):
    """A :class:`SessionStore` seen through MicroPie's ``SessionBackend`` interface.

    ``App.session_backend`` returns one for the active store, so MicroPie code
    that calls ``app.session_backend.load/save`` directly keeps working.
    """

    def __init__(self, store: SessionStore, ttl: int = SESSION_TIMEOUT) -> None:
        self.store = store
        self.ttl = ttl

    async def load(self, session_id: str) -> dict[str, Any]:
        """The data of session ``session_id``, or ``{}``; refreshes its expiry."""
        record = await self.store.load(session_id, self.ttl)
        data = record.get("data") if isinstance(record, dict) else None
        return data if isinstance(data, dict) else {}

    async def save(self, session_id: str, data: dict[str, Any], timeout: int) -> None:
        """Keep ``data`` for ``timeout`` seconds; empty data or ``timeout <= 0`` deletes."""
        if not data or timeout <= 0:
            await self.store.delete(session_id)
            return
        if self.store.changes == "snapshot":
            _serialize(dict(data))  # name the key a JSON store cannot keep
        await self.store.save(session_id, {"data": data, "created": time.time()}, int(timeout))

    def as_store(self) -> SessionStore:
        """The store itself."""
        return self.store


def backend_for(store: SessionStore, ttl: int) -> SessionBackend:
    """``App.session_backend`` for an app whose sessions live in ``store``."""
    from ._builtin.memory_sessions import InMemorySessionBackend, MemoryStore

    if isinstance(store, MemoryStore):
        return InMemorySessionBackend(store=store, ttl=ttl)
    return StoreBackend(store, ttl)


class Session(dict[str, Any]):
    """The dict handlers see as ``request.session``; counts its top-level changes.

    ``version`` goes up with every assignment or deletion of a key; nested
    changes (``session["cart"].append(x)``) do not count (see
    :attr:`SessionStore.changes` for how each store notices them).
    """

    # A slot, not an instance __dict__: the memory store keeps one Session per
    # client, and the __dict__ the counter needed was a third of its bytes.
    __slots__ = ("version",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.version = 0

    def __reduce__(self) -> tuple[type[Session], tuple[dict[str, Any]]]:
        # copy and pickle would otherwise fill a Session made without __init__,
        # through __setitem__, before the counter exists.
        return Session, (dict(self),)

    def __setitem__(self, key: str, value: Any) -> None:
        self.version += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.version += 1
        super().__delitem__(key)

    def clear(self) -> None:
        self.version += 1
        super().clear()

    def pop(self, *args: Any) -> Any:
        self.version += 1
        return super().pop(*args)

    def popitem(self) -> tuple[str, Any]:
        self.version += 1
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.version += 1
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.version += 1
        super().update(*args, **kwargs)

    def __ior__(self, other: Any) -> Session:  # type: ignore[override,misc]
        self.version += 1
        super().__ior__(other)
        return self


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
        self.changes = store.changes if store is not None else "snapshot"
        self.cookie_name: str = settings["cookie_name"]
        self._cookie_name_bytes = self.cookie_name.encode("latin-1")
        self.ttl: int = settings["ttl"]
        self.absolute_lifetime: int | None = settings["absolute_lifetime"]
        self.secure: bool | None = settings["secure"]
        self.samesite: str = settings["samesite"]
        self.id_factory: Callable[[], str] = settings["id_factory"]
        self.id_validator: Callable[[str], str | None] | None = settings["id_validator"]
        # A browser sends the same Cookie header with every request: the id it
        # gives (a pure function of the header under the default validator) is
        # remembered instead of parsed and matched again, ~10k of the ~25k
        # instructions a session load cost (callgrind). A custom validator may
        # change its mind (revoked ids), so it is asked every time.
        self._ids_by_cookie_header: dict[bytes, str | None] | None = (
            {} if self.id_validator is valid_session_id else None
        )
        common = f"; Path=/; HttpOnly; SameSite={self.samesite.capitalize()}"
        self._cookie_attributes = (common, common + "; Secure")  # indexed by "secure?"

    # ------------------------------------------------------------------- ids

    def valid_id(self, candidate: str) -> str | None:
        """``candidate`` as the validator accepts it (canonical form), or ``None``."""
        validator = self.id_validator
        if validator is valid_session_id:  # the default, inlined: once per request
            return candidate if _SESSION_ID.fullmatch(candidate) is not None else None
        if validator is not None:
            try:
                result = validator(candidate)
            except Exception:
                logger.exception("The session id_validator failed for a cookie value")
                return None
            candidate = result if isinstance(result, str) else ""
        return candidate if _COOKIE_VALUE.fullmatch(candidate) else None

    def new_id(self) -> str:
        """A fresh id from ``id_factory``, checked by ``id_validator``."""
        if self.id_factory is new_session_id and self.id_validator is valid_session_id:
            return new_session_id()
        minted = self.id_factory()
        valid = self.valid_id(minted) if isinstance(minted, str) else None
        if valid is None:
            raise RuntimeError(
                f"The session id_factory returned {minted!r}, which the id_validator rejects "
                "(or which cannot stand in a cookie). Make the factory return ids the "
                "validator accepts, made of cookie-safe characters."
            )
        return valid

    def id_to_load(self, request: Request) -> str | None:
        """The session id worth a store call for this request, else ``None``."""
        if self.store is None or request._session is not None:
            return None
        return self._cookie_id(request)

    def _cookie_id(self, request: Request) -> str | None:
        """The valid session id in the request's cookies, else ``None``.

        ``request.cookies``'s parser decides (the same rules everywhere); a
        request whose Cookie headers do not even contain the cookie name is not
        parsed at all, and a Cookie header seen before gives the answer it gave
        then (see ``_ids_by_cookie_header``). A malformed id costs no store call.
        """
        cookies = request._cookies
        if cookies is not None:  # parsed already by someone else
            return self._id_in(cookies)
        raw = cookie_header(request.scope["headers"])
        if self._cookie_name_bytes not in raw:
            return None
        known = self._ids_by_cookie_header
        if known is not None and raw in known:  # bytes cache their hash: a cheap second lookup
            return known[raw]
        cookies = request._cookies = parse_cookie_bytes(raw)
        found = self._id_in(cookies)
        if known is not None and len(raw) <= _MAX_REMEMBERED_HEADER:
            if len(known) >= _REMEMBERED_HEADERS:
                known.clear()  # bounded, O(1) per request amortised, whatever clients send
            known[raw] = found
        return found

    def _id_in(self, cookies: dict[str, str]) -> str | None:
        session_id = cookies.get(self.cookie_name)
        return self.valid_id(session_id) if session_id is not None else None

    # ------------------------------------------------------------------ load

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
        if type(record) is not dict:
            return
        data = record.get("data")
        created = record.get("created")
        if not isinstance(data, dict) or not isinstance(created, (int, float)):
            return
        if self.absolute_lifetime is not None and time.time() - created > self.absolute_lifetime:
            try:  # best effort: the record is unusable either way
                await self.store.delete(session_id)
            except Exception as exc:
                _log_failure("delete", exc)
            return
        request._session_id = session_id
        request._session_created = created
        if self.changes == "live":
            # The stored object itself: no copy, no encoding. A plain dict
            # (saved through session_backend) becomes a Session once, in place.
            if type(data) is not Session:
                data = record["data"] = Session(data)
            request._session = data
            request._session_version = data.version  # mark_saved(), inline
        else:
            request._session = Session(data)
            self.mark_saved(request)

    def mark_saved(self, request: Request) -> None:
        """Take the request's session as it is now as stored (the dirty-check baseline)."""
        session = request._session
        if self.changes == "snapshot":
            request._session_snapshot = _serialize(dict(session or {}))
        elif type(session) is Session:
            request._session_version = session.version

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

    def reserve_id(self, request: Request, session_id: str | None = None) -> str:
        """Give the request's session the id ``session_id`` (or a new one) before it is stored.

        For WebSockets, whose only chance to set a cookie is the accept: the
        cookie goes out at once and the session is saved under this id later.
        """
        if session_id is None:
            session_id = self.new_id()
        else:
            valid = self.valid_id(session_id) if isinstance(session_id, str) else None
            if valid is None:
                raise ValueError(
                    f"session_id={session_id!r} was rejected by the session id_validator "
                    "(or cannot stand in a cookie); pass an id the validator accepts."
                )
            session_id = valid
        request._session_id = session_id
        request._session_new = True
        return session_id

    # ---------------------------------------------------------------- commit

    def _changed(self, request: Request, session: MutableMapping[str, Any]) -> bool:
        if self.changes == "always":
            return True
        if self.changes == "live":
            # Nested changes are in the store already (same objects); a
            # top-level change asks whether the session still exists.
            return type(session) is not Session or session.version != request._session_version
        return _serialize(dict(session)) != request._session_snapshot

    async def commit(self, request: Request, headers: list[tuple[str, str]]) -> None:
        """Persist changes, rotate ids and set or expire the cookie as needed.

        Store calls: none for an unchanged session (the load already refreshed
        its expiry), one ``save`` for a changed or new one, a ``delete`` when it
        was emptied or regenerated. A session owned by someone else (a parent
        app that mounted this one) is left to its owner. The cookie and cache
        headers are appended to ``headers`` (a response's header list).
        """
        session = request._session
        # type(), not isinstance(): UnavailableSession is an ABC, whose check costs ~1 us.
        if (type(session) is UnavailableSession or not request._session_accessed
                or request._session_external):
            return
        assert self.store is not None and session is not None
        headers.append(("Vary", "Cookie"))
        old_id = request._session_id
        if not session:
            if old_id is not None and not request._session_new:
                await self._delete(old_id)
                self._set_cookie(request, headers, "", max_age=0)
            return
        if old_id is not None and request._regenerate_session:
            await self._delete(old_id)
            old_id = request._session_id = None
            request._regenerate_session = False
        created = request._session_created or time.time()
        ttl = self.ttl if self.absolute_lifetime is None else self._ttl_for(created)
        if self.changes == "live" and type(session) is not Session:
            session = request._session = Session(session)  # the store keeps this object
        if old_id is None or request._session_new:
            # New, or moved to a fresh id: never reuse a client's id.
            session_id = old_id or self.new_id()
            await self._save(session_id, self._record(request, session, created), ttl,
                             only_if_exists=False)
            request._session_id = session_id
            request._session_created = created
        else:
            session_id = old_id
            if self._changed(request, session) and not await self._save(
                session_id, self._record(request, session, created), ttl, only_if_exists=True
            ):
                # Deleted meanwhile (logout elsewhere, expiry): deletion wins.
                self._set_cookie(request, headers, "", max_age=0)
                return
        self._set_cookie(request, headers, session_id, max_age=ttl)

    def _record(
        self, request: Request, session: MutableMapping[str, Any], created: float
    ) -> dict[str, Any]:
        """The record to save; it also becomes the request's dirty-check baseline."""
        if self.changes == "live":
            if type(session) is Session:
                request._session_version = session.version
            return {"data": session, "created": created}
        data = dict(session)
        if self.changes == "snapshot":
            try:
                request._session_snapshot = _serialize(data)
            except SessionValueError as exc:
                logger.error("Session not saved for %s %s: %s", request.method, request.path, exc)
                raise HTTPError(500, f"session value {exc.key!r} could not be stored "
                                     "(see the log)") from exc
        return {"data": data, "created": created}

    def _ttl_for(self, created: float) -> int:
        """The TTL under an ``absolute_lifetime`` (``commit`` uses ``ttl`` without one)."""
        assert self.absolute_lifetime is not None
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

    def cookie_header(self, request: Request, value: str, *, max_age: int) -> str:
        """The ``Set-Cookie`` value for session id ``value`` (``""`` with 0 expires it)."""
        # Ids and the cookie name are plain tokens, so the header is a plain
        # string template (``http.cookies`` costs more than the rest of a request).
        secure = self.secure
        if secure is None:
            secure = request.scope.get("scheme") in ("https", "wss")
        attributes = self._cookie_attributes[secure or self.samesite == "none"]
        return f"{self.cookie_name}={value}; Max-Age={max_age}{attributes}"

    def _set_cookie(
        self, request: Request, headers: list[tuple[str, str]], value: str, *, max_age: int
    ) -> None:
        headers.append(("Set-Cookie", self.cookie_header(request, value, max_age=max_age)))
        _make_private(headers)


def _make_private(headers: list[tuple[str, str]]) -> None:
    """Keep shared caches from storing a response that sets a session cookie.

    A handler's own ``Cache-Control`` is kept, minus what would let a shared
    cache store it (``public``, ``s-maxage``), plus ``private``; one header,
    never two that contradict each other.
    """
    for name, _ in headers:  # a loop, not any(...): a generator costs ~1 us here
        if name.lower() == "cache-control":
            break
    else:
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


class SessionValueError(TypeError):
    """A session value the session store cannot keep (the message names the key)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _serialize(data: dict[str, Any]) -> bytes:
    try:
        return json_dumps(data)
    except TypeError:
        pass
    for key, value in data.items():  # the error path only: find the key to name
        try:
            json_dumps(value)
        except TypeError as exc:
            message = (
                f"request.session[{key!r}] holds a {type(value).__name__}, which this "
                f"session store cannot keep ({exc}). Stores such as Redis keep JSON: str, "
                "numbers, bool, None, lists, dicts, datetime, uuid, dataclasses. Store a "
                "JSON-friendly form instead (e.g. a list for a set, an id for an object), "
                "or use the memory store, which keeps Python objects."
            )
            raise SessionValueError(key, message) from None
    raise SessionValueError("", "request.session cannot be encoded as JSON")  # pragma: no cover
