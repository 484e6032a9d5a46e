"""``RedisStore``: session records as JSON strings under ``<prefix><session id>``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, cast
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from micropie_core import HTTPError, SessionStore, json_dumps, json_loads

from .breaker import CircuitBreaker, CircuitOpen

logger = logging.getLogger("micropie.sessions_redis")

#: A load waiting for the next pipeline: key, TTL, and the future its answer goes to.
_PendingLoad = tuple[str, int, "asyncio.Future[Any]"]
#: Failures that mean "Redis is not answering" and open the circuit breaker.
_OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)


class RedisUnavailable(Exception):
    """Redis could not serve a session operation; the app answers 503."""


def describe_url(url: str) -> str:
    """``redis://host:port/db`` without credentials, fit for log lines."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class RedisStore(SessionStore):
    """Sessions in Redis: one ``GETEX`` per load, one ``SET ... EX`` per changed save.

    Loads that arrive in the same event-loop turn share one pipelined round trip.

    Every key has an expiry. Each operation is bounded by ``timeout`` seconds
    (waiting for a connection, connect and read), is never retried, and after an
    outage-type failure a :class:`CircuitBreaker` makes further operations fail
    immediately for ``breaker_seconds`` before one probe tries Redis again.

    At most ``pool_size`` connections are open; an operation that finds all of
    them in use waits for one (within its ``timeout``). That is back-pressure,
    not an outage: it never opens the breaker.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "micropie:session:",
        timeout: float = 1.0,
        breaker_seconds: float = 1.0,
        pool_size: int = 100,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout = timeout
        self.pool_size = pool_size
        self.location = describe_url(url)
        self.breaker = CircuitBreaker(breaker_seconds)
        self._client: aioredis.Redis | None = None
        # One slot per pooled connection: redis-py's own pool raises
        # MaxConnectionsError instead of waiting (~190 503s at every cold start
        # under 256 concurrent requests, issue 12).
        self._slots: asyncio.Semaphore | None = None
        self._pending_loads: list[_PendingLoad] | None = None
        self._load_tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        """Create the connection pool and check Redis answers (startup hook).

        An unreachable Redis does not stop the app from starting: it is logged,
        session requests answer 503 until Redis is back, the rest works.
        """
        if self._client is not None:
            return
        self._slots = asyncio.Semaphore(self.pool_size)
        self._client = aioredis.Redis.from_url(
            self.url,
            max_connections=self.pool_size,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
        )
        try:
            await self._run("answer PING", lambda client: client.ping())
        except RedisUnavailable as exc:
            logger.warning("Redis session store not reachable at startup: %s", exc)

    async def close(self) -> None:
        """Close the connection pool (shutdown hook)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # ------------------------------------------------------------------ SessionStore

    def key(self, session_id: str) -> str:
        """The Redis key holding ``session_id``."""
        return self.prefix + session_id

    async def load(self, session_id: str, ttl: int) -> dict[str, Any] | None:
        key = self.key(session_id)
        raw = await self._load_raw(key, ttl)
        if raw is None:
            return None
        try:
            record = json_loads(cast(bytes, raw))
        except HTTPError:
            logger.warning("Ignoring a session record that is not JSON under key %r", key)
            return None
        return record if isinstance(record, dict) else None

    async def save(
        self, session_id: str, record: dict[str, Any], ttl: int, *, only_if_exists: bool = False
    ) -> bool:
        key, value = self.key(session_id), json_dumps(record)
        stored = await self._run(
            "save a session",
            lambda client: client.set(key, value, ex=ttl, xx=only_if_exists),
        )
        return bool(stored)

    async def delete(self, session_id: str) -> None:
        key = self.key(session_id)
        await self._run("delete a session", lambda client: client.delete(key))

    # ------------------------------------------------------------------ batched loads

    async def _load_raw(self, key: str, ttl: int) -> Any:
        """``GETEX key EX ttl``, sent together with the other loads of this loop turn.

        Requests that arrive together (a server hands the app every request it
        read in one event-loop turn) load their sessions in one pipeline: one
        write and one read for all of them instead of one each, and one pooled
        connection. Each still gets its own GETEX and its own answer; a failure
        of the round trip fails every load in it, as it would have one by one.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        batch = self._pending_loads
        if batch is None:
            batch = self._pending_loads = []
            loop.call_soon(self._send_loads)
        batch.append((key, ttl, waiter))
        return await waiter

    def _send_loads(self) -> None:
        batch, self._pending_loads = self._pending_loads or [], None
        task = asyncio.get_running_loop().create_task(self._run_loads(batch))
        self._load_tasks.add(task)  # a reference, so the task is not collected midway
        task.add_done_callback(self._load_tasks.discard)

    async def _run_loads(self, batch: list[_PendingLoad]) -> None:
        try:
            if len(batch) == 1:
                key, ttl, _ = batch[0]
                answers = [await self._run("load a session",
                                           lambda client: client.getex(key, ex=ttl))]
            else:
                answers = await self._run(
                    f"load {len(batch)} sessions", lambda client: _getex_all(client, batch)
                )
        except Exception as exc:
            for _, _, waiter in batch:
                if not waiter.done():
                    waiter.set_exception(_copy_of(exc))
            return
        except BaseException:  # cancelled (shutdown): so are the loads waiting on it
            for _, _, waiter in batch:
                waiter.cancel()
            raise
        for (_, _, waiter), answer in zip(batch, answers, strict=True):
            if waiter.done():  # its request was cancelled meanwhile
                continue
            if isinstance(answer, Exception):
                refused = self._refused("load a session", answer)
                refused.__cause__ = answer
                waiter.set_exception(refused)
            else:
                waiter.set_result(answer)

    # ------------------------------------------------------------------ internals

    async def _run(self, operation: str, call: Callable[[aioredis.Redis], Any]) -> Any:
        client, slots = self._client, self._slots
        if client is None or slots is None:
            raise RedisUnavailable(
                f"the Redis session store ({self.location}) is not open: the app's startup "
                "(ASGI lifespan) has not run or shutdown already closed it"
            )
        try:
            probe = self.breaker.before_call()
        except CircuitOpen as exc:
            raise RedisUnavailable(f"Redis at {self.location} is down: {exc}") from None
        loop = asyncio.get_running_loop()
        start = loop.time()
        called: float | None = None  # when a connection slot was ours
        try:
            async with asyncio.timeout(self.timeout):
                async with slots:
                    called = loop.time()
                    result = await cast(Awaitable[Any], call(client))
        except (TimeoutError, MaxConnectionsError) as exc:
            # Redis is deemed down only if it left a call unanswered for at least
            # half the budget; a budget spent waiting for a busy connection is
            # back-pressure (the app is overloaded, Redis is fine): no breaker.
            if (called is not None and not isinstance(exc, MaxConnectionsError)
                    and loop.time() - called >= self.timeout / 2):
                self._outage(probe, operation, exc)
            self.breaker.released(probe)
            waited = (called if called is not None else loop.time()) - start
            raise RedisUnavailable(
                f"Redis at {self.location}: all {self.pool_size} connections were in use for "
                f"{waited:.2f} s of the {self.timeout} s budget, so the request could not "
                f"{operation}; raise sessions.pool_size (and Redis's maxclients) or "
                "sessions.timeout"
            ) from exc
        except _OUTAGE_ERRORS as exc:
            self._outage(probe, operation, exc)
        except RedisError as exc:
            self.breaker.released(probe)
            raise self._refused(operation, exc) from exc
        except BaseException:
            self.breaker.released(probe)
            raise
        if self.breaker.is_open:
            logger.warning("Redis session store at %s is reachable again", self.location)
        self.breaker.succeeded(probe)
        return result

    def _refused(self, operation: str, exc: BaseException) -> RedisUnavailable:
        """Redis answered, with an error (a command it refused, not an outage)."""
        return RedisUnavailable(
            f"Redis at {self.location} refused to {operation}: {type(exc).__name__}: {exc}"
        )

    def _outage(self, probe: bool, operation: str, exc: BaseException) -> NoReturn:
        """Redis did not answer: open the breaker, say so once, raise RedisUnavailable."""
        was_open = self.breaker.is_open
        self.breaker.failed(probe, exc)
        if not was_open:
            logger.warning(
                "Redis session store at %s unreachable (%s); session requests answer 503 "
                "and Redis is retried every %s s", self.location, self.breaker.last_error,
                self.breaker.open_seconds,
            )
        detail = self.breaker.last_error
        if isinstance(exc, TimeoutError) and not isinstance(exc, RedisError):
            detail = f"no answer within {self.timeout} s"
        raise RedisUnavailable(
            f"Redis at {self.location} failed to {operation}: {detail}"
        ) from exc


async def _getex_all(
    client: aioredis.Redis, batch: list[_PendingLoad]
) -> list[Any]:
    """One pipeline (no MULTI) of a GETEX per load; errors come back in place."""
    async with client.pipeline(transaction=False) as pipeline:
        for key, ttl, _ in batch:
            pipeline.getex(key, ex=ttl)
        return await pipeline.execute(raise_on_error=False)


def _copy_of(exc: BaseException) -> BaseException:
    """``exc`` for one more waiter: each raise adds to a traceback, so each gets its own."""
    if isinstance(exc, RedisUnavailable):
        copy = RedisUnavailable(*exc.args)
        copy.__cause__ = exc.__cause__
        return copy
    return exc
