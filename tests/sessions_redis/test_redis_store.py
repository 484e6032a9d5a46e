"""micropie-sessions-redis against a real redis-server (never skipped: no Redis, no pass)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from micropie_sessions_redis import RedisStore

from micropie_core import App
from micropie_core.errors import ConfigError
from micropie_core.plugins import available_plugins
from micropie_core.sessions import is_well_formed, new_session_id
from micropie_core.testing import TestClient, TestResponse
from tests.sessions.site import Site
from tests.support import RedisServer, UvicornProcess

Client = Callable[..., TestClient]



@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own, so tests sharing one Redis never see each other."""
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture
def inspect_redis(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as connection:
        yield connection


def redis_site(url: str, prefix: str, **sessions: Any) -> Site:
    return Site(config={"sessions": {"store": "redis", "url": url, "prefix": prefix, **sessions}})


def command_counts(connection: redis.Redis) -> dict[str, int]:
    stats = connection.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def commands_during(connection: redis.Redis, action: Callable[[], object]) -> dict[str, int]:
    before = command_counts(connection)
    action()
    after = command_counts(connection)
    delta = {name: calls - before.get(name, 0) for name, calls in after.items()}
    delta["info"] -= 1  # our own INFO
    return {name: calls for name, calls in delta.items() if calls}


def test_plugin_is_discoverable_through_its_entry_point() -> None:
    infos = {info.name: info for info in available_plugins()}
    assert infos["sessions_redis"].distribution == "micropie-sessions-redis"
    assert "sessions_redis" in App().plugins.active_names()


def test_configuration_errors_are_clear() -> None:
    with pytest.raises(ConfigError, match="expected a URL like redis://"):
        App(config={"sessions": {"store": "redis", "url": "http://localhost"}})
    with pytest.raises(ConfigError, match="Did you mean 'prefix'"):
        App(config={"sessions": {"store": "redis", "prefx": "x"}})
    with pytest.raises(ConfigError, match=r"timeout.*positive"):
        App(config={"sessions": {"store": "redis", "timeout": 0}})
    with pytest.raises(ConfigError, match=r"timeout.*expects int or float"):
        App(config={"sessions": {"store": "redis", "timeout": "1s"}})


def test_visit_counter_counts_with_redis(client: Client, redis_url: str, prefix: str,
                                         inspect_redis: redis.Redis) -> None:
    c = client(redis_site(redis_url, prefix, ttl=300))
    assert [c.get("/visits").text for _ in range(3)] == ["1", "2", "3"]
    key = prefix + c.cookies["session_id"]
    raw = inspect_redis.get(key)
    assert isinstance(raw, bytes)
    stored = json.loads(raw)
    assert stored["data"] == {"visits": 3}
    assert 0 < inspect_redis.ttl(key) <= 300


def test_attacker_chosen_id_is_never_echoed_nor_stored(
    client: Client, redis_url: str, prefix: str, inspect_redis: redis.Redis
) -> None:
    chosen = new_session_id()
    c = client(redis_site(redis_url, prefix))
    for value in (chosen, "attacker", "x" * 4096):
        response = c.get("/visits", headers={"cookie": f"session_id={value}"})
        assert response.text == "1"
        assert value not in response.headers["set-cookie"]
        assert is_well_formed(response.cookies["session_id"])
    keys = {key.decode() for key in inspect_redis.scan_iter(match=prefix + "*")}
    assert len(keys) == 3 and prefix + chosen not in keys
    assert not any("attacker" in key or "xxxx" in key for key in keys)


def test_regenerate_deletes_the_old_id(client: Client, redis_url: str, prefix: str,
                                       inspect_redis: redis.Redis) -> None:
    c = client(redis_site(redis_url, prefix))
    c.get("/visits")
    old = c.cookies["session_id"]
    c.get("/login")
    new = c.cookies["session_id"]
    assert new != old and not inspect_redis.exists(prefix + old)
    assert c.get("/peek").text == "1"
    assert c.get("/peek", cookies={"session_id": old}).text == "0"
    c.get("/logout")
    assert not inspect_redis.exists(prefix + new)


def test_one_command_to_read_two_to_change(client: Client, redis_server: RedisServer,
                                           prefix: str) -> None:
    c = client(redis_site(redis_server.url, prefix, ttl=100))
    with redis.Redis.from_url(redis_server.url) as r:
        assert commands_during(r, lambda: c.get("/visits")) == {"set": 1}  # new session
        assert commands_during(r, lambda: c.get("/peek")) == {"getex": 1}
        assert commands_during(r, lambda: c.get("/plain")) == {"getex": 1}  # TTL refresh
        assert commands_during(r, lambda: c.get("/visits")) == {"getex": 1, "set": 1}
        assert commands_during(r, lambda: c.get("/logout")) == {"getex": 1, "del": 1}
        assert commands_during(r, lambda: c.get("/plain")) == {}  # no cookie, no Redis


def test_every_load_slides_the_ttl(client: Client, redis_url: str, prefix: str,
                                   inspect_redis: redis.Redis) -> None:
    c = client(redis_site(redis_url, prefix, ttl=1000))
    c.get("/visits")
    key = prefix + c.cookies["session_id"]
    inspect_redis.expire(key, 5)
    c.get("/peek")
    assert inspect_redis.ttl(key) > 900


def test_a_corrupt_record_starts_a_new_session(client: Client, redis_url: str, prefix: str,
                                               inspect_redis: redis.Redis) -> None:
    session_id = new_session_id()
    inspect_redis.set(prefix + session_id, b"{not json", ex=60)
    c = client(redis_site(redis_url, prefix))
    response = c.get("/visits", cookies={"session_id": session_id})
    assert response.status_code == 200 and response.text == "1"
    assert c.cookies["session_id"] != session_id


def test_concurrent_requests_last_write_wins_and_deletion_wins(
    client: Client, redis_url: str, prefix: str
) -> None:
    gates: dict[str, asyncio.Event] = {}

    class Slow(Site):
        async def slow(self, key: str) -> str:
            self.request.session[key] = True
            await gates.setdefault(key, asyncio.Event()).wait()
            return "done"

        async def keys(self) -> str:
            return ",".join(sorted(self.request.session))

    c = client(Slow(config={"sessions": {"store": "redis", "url": redis_url, "prefix": prefix}}))
    c.get("/visits")

    async def write_race() -> None:  # a and b load the same session; b saves, then a
        a = asyncio.ensure_future(c.arequest("GET", "/slow/a"))
        b = asyncio.ensure_future(c.arequest("GET", "/slow/b"))
        await asyncio.sleep(0.1)
        gates["b"].set()
        await b
        gates["a"].set()
        await a

    c.run(write_race())
    assert c.get("/keys").text == "a,visits"  # a was saved last: b's change is lost

    async def logout_race() -> TestResponse:
        slow = asyncio.ensure_future(c.arequest("GET", "/slow/c"))
        await asyncio.sleep(0.1)
        await c.arequest("GET", "/logout")
        gates["c"].set()
        return await slow

    response = c.run(logout_race())
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert c.get("/keys").text == ""  # the slower write did not undo the logout


def test_pool_opens_at_startup_and_closes_at_shutdown(redis_server: RedisServer,
                                                      prefix: str) -> None:
    app = redis_site(redis_server.url, prefix)
    with redis.Redis.from_url(redis_server.url) as r:
        def clients() -> int:
            return int(r.info("clients")["connected_clients"])

        alone = clients()
        with TestClient(app) as c:
            assert clients() == alone + 1  # the startup PING
            c.get("/visits")
        assert clients() == alone


SERVED_APP = '''
import os
from micropie_core import App

class Shared(App):
    async def visits(self):
        count = self.request.session.get("visits", 0) + 1
        self.request.session["visits"] = count
        return str(count)

app = Shared(config={"sessions": {"store": "redis", "url": os.environ["TEST_REDIS_URL"],
                                  "prefix": os.environ["TEST_REDIS_PREFIX"]}})
'''


def test_two_servers_share_sessions_through_redis(tmp_path: Path, redis_url: str,
                                                  prefix: str) -> None:
    (tmp_path / "shared_app.py").write_text(textwrap.dedent(SERVED_APP))
    env = {"TEST_REDIS_URL": redis_url, "TEST_REDIS_PREFIX": prefix}
    with UvicornProcess("shared_app:app", tmp_path, env=env) as one, \
            UvicornProcess("shared_app:app", tmp_path, env=env) as two:
        assert one.port != two.port
        first = httpx.get(f"{one.url}/visits", timeout=10)
        assert first.text == "1"
        cookie = {"session_id": first.cookies["session_id"]}
        assert httpx.get(f"{two.url}/visits", cookies=cookie, timeout=10).text == "2"
        assert httpx.get(f"{one.url}/visits", cookies=cookie, timeout=10).text == "3"


def timed(c: TestClient, path: str) -> tuple[int, float]:
    start = time.monotonic()
    status = c.get(path).status_code
    return status, time.monotonic() - start


def wait_until_ok(c: TestClient, path: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while c.get(path).status_code != 200:
        assert time.monotonic() < deadline, f"{path} did not recover within {within} s"
        time.sleep(0.1)


def test_outage_answers_503_quickly_and_recovers_without_restart(
    client: Client, redis_server: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    c = client(redis_site(redis_server.url, prefix))
    assert c.get("/visits").text == "1"
    redis_server.stop()
    with caplog.at_level(logging.ERROR, logger="micropie"):
        for path in ("/visits", "/peek", "/login"):
            status, elapsed = timed(c, path)
            assert status == 503 and elapsed < 1.5
    failures = [r for r in caplog.records if r.name == "micropie"]
    assert len(failures) == 3 and all("Redis at" in r.getMessage() for r in failures)
    assert c.get("/plain").status_code == 200
    fresh = client(redis_site(redis_server.url, prefix))
    assert fresh.get("/visits").status_code == 503  # a new session cannot be saved either
    assert fresh.get("/plain").status_code == 200
    redis_server.start()  # same port, empty: the old session is gone, the app works again
    wait_until_ok(c, "/visits")
    assert c.get("/visits").text == "2"


def test_a_hung_redis_times_out_then_fails_fast(
    client: Client, redis_server: RedisServer, prefix: str
) -> None:
    c = client(redis_site(redis_server.url, prefix, timeout=1.0))
    assert c.get("/visits").text == "1"
    assert redis_server.process is not None
    redis_server.process.send_signal(signal.SIGSTOP)  # accepts connections, never answers
    try:
        status, elapsed = timed(c, "/visits")
        assert status == 503 and elapsed < 1.5  # the 1 s timeout plus a margin
        status, elapsed = timed(c, "/visits")
        assert status == 503 and elapsed < 0.5  # circuit open: no second wait
        assert c.get("/plain").status_code == 200
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    wait_until_ok(c, "/peek")
    assert c.get("/visits").text == "2"


def test_app_starts_while_redis_is_down_and_serves_once_it_is_up(
    client: Client, redis_server: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="micropie.sessions_redis"):
        c = client(redis_site(redis_server.url, prefix))
    assert "not reachable at startup" in caplog.text
    assert c.get("/visits").status_code == 503
    assert c.get("/plain").status_code == 200
    redis_server.start()
    wait_until_ok(c, "/visits")


def test_store_used_outside_the_app_lifecycle_fails_clearly(redis_url: str) -> None:
    store = RedisStore(redis_url)
    with pytest.raises(Exception, match="not open"):
        asyncio.run(store.load(new_session_id(), 10))


def concurrent_peeks(app: App, count: int) -> list[int]:
    """``count`` session reads at once, on a cold app (no Redis connection open yet but one)."""
    async def main() -> list[int]:
        async with TestClient(app) as c:
            first = await c.aget("/visits")
            assert first.status_code == 200
            responses = await asyncio.gather(*(c.aget("/peek") for _ in range(count)))
            return [r.status_code for r in responses]

    return asyncio.run(main())


def test_more_concurrent_requests_than_pooled_connections_wait_instead_of_503(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # 256 requests at once against the default pool (100 connections): the ones
    # that find every connection in use wait for one (back-pressure), no outage.
    # A generous budget, so that a slow shared machine is not what is tested.
    app = redis_site(redis_url, prefix, timeout=30)
    with caplog.at_level(logging.WARNING):
        statuses = concurrent_peeks(app, 256)
    assert statuses == [200] * 256
    assert "unreachable" not in caplog.text
    assert "failed to" not in caplog.text


def test_a_small_pool_serves_many_concurrent_requests_without_tripping_the_breaker(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = redis_site(redis_url, prefix, pool_size=2, timeout=30)
    with caplog.at_level(logging.WARNING):
        statuses = concurrent_peeks(app, 100)
    assert statuses == [200] * 100
    assert "unreachable" not in caplog.text


def test_pool_size_must_be_a_positive_int() -> None:
    with pytest.raises(ConfigError, match=r"pool_size.*positive"):
        App(config={"sessions": {"store": "redis", "pool_size": 0}})
    with pytest.raises(ConfigError, match=r"pool_size.*expects int"):
        App(config={"sessions": {"store": "redis", "pool_size": 1.5}})


def test_a_value_redis_cannot_store_is_a_logged_error_naming_the_key(
    client: Client, redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    class Tags(Site):
        async def tag(self) -> str:
            self.request.session["tags"] = {"a", "b"}  # a set: JSON has no such type
            return "x"

    app = Tags(config={"sessions": {"store": "redis", "url": redis_url, "prefix": prefix}})
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(app).get("/tag")
    assert response.status_code == 500
    assert "'tags'" in response.text  # not a bare 500: the page names the key
    assert "request.session['tags'] holds a set" in caplog.text
    assert "Unhandled exception" not in caplog.text


def stored_sessions(connection: redis.Redis, prefix: str, count: int) -> list[str]:
    """``count`` sessions written straight into Redis, session ``i`` holding visits=i."""
    ids = [new_session_id() for _ in range(count)]
    for visits, session_id in enumerate(ids):
        record = {"data": {"visits": visits}, "created": time.time()}
        connection.set(prefix + session_id, json.dumps(record), ex=600)
    return ids


def test_concurrent_reads_of_different_sessions_each_get_their_own(
    redis_url: str, prefix: str, inspect_redis: redis.Redis
) -> None:
    ids = stored_sessions(inspect_redis, prefix, 40)
    unknown = new_session_id()

    async def main() -> list[str]:
        async with TestClient(redis_site(redis_url, prefix)) as c:
            cookies = [*ids, unknown, "not-an-id", *reversed(ids)]
            responses = await asyncio.gather(
                *(c.aget("/peek", headers={"cookie": f"session_id={value}"})
                  for value in cookies))
            return [r.text for r in responses]

    texts = asyncio.run(main())
    expected = [str(i) for i in range(40)]
    assert texts == [*expected, "0", "0", *reversed(expected)]


def test_reads_that_arrive_together_share_one_connection(
    redis_url: str, prefix: str, inspect_redis: redis.Redis
) -> None:
    ids = stored_sessions(inspect_redis, prefix, 50)
    before = int(inspect_redis.info("stats")["total_connections_received"])

    async def main() -> list[str]:
        async with TestClient(redis_site(redis_url, prefix)) as c:
            responses = await asyncio.gather(
                *(c.aget("/peek", headers={"cookie": f"session_id={value}"}) for value in ids))
            return [r.text for r in responses]

    assert asyncio.run(main()) == [str(i) for i in range(50)]
    opened = int(inspect_redis.info("stats")["total_connections_received"]) - before
    # One for the startup PING, one for the pipeline of 50 GETEXs (one each before),
    # and a little room for other tests of the same Redis running meanwhile.
    assert opened <= 4


def test_a_failed_round_trip_answers_503_to_every_read_in_it(
    redis_server: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    with redis.Redis.from_url(redis_server.url) as connection:
        ids = stored_sessions(connection, prefix, 10)

    async def main() -> list[int]:
        async with TestClient(redis_site(redis_server.url, prefix, timeout=2)) as c:
            redis_server.stop()
            try:
                responses = await asyncio.gather(
                    *(c.aget("/peek", headers={"cookie": f"session_id={value}"})
                      for value in ids))
            finally:
                redis_server.start()
            return [r.status_code for r in responses]

    with caplog.at_level(logging.WARNING):
        assert asyncio.run(main()) == [503] * 10
    assert "unreachable" in caplog.text
