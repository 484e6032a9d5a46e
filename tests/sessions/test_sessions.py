"""The session protocol of the core (micropie_core/sessions.py), seen through HTTP."""

from __future__ import annotations

import asyncio
import copy
import logging
import pickle
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from micropie_core import App, SessionBackend, SessionStore
from micropie_core._builtin.memory_sessions import MemoryStore
from micropie_core.hookspecs import hookimpl
from micropie_core.sessions import is_well_formed, new_session_id
from micropie_core.testing import TestClient, TestResponse
from tests.sessions.site import Site

Client = Callable[..., TestClient]


class CountingStore(SessionStore):
    """A memory store that records every call, so tests can see store traffic."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.calls: list[tuple[str, str]] = []
        self.fail: Exception | None = None

    async def load(self, session_id: str, ttl: int) -> dict[str, Any] | None:
        self.calls.append(("load", session_id))
        if self.fail:
            raise self.fail
        return await self.inner.load(session_id, ttl)

    async def save(
        self, session_id: str, record: dict[str, Any], ttl: int, *, only_if_exists: bool = False
    ) -> bool:
        self.calls.append(("save", session_id))
        if self.fail:
            raise self.fail
        return await self.inner.save(session_id, record, ttl, only_if_exists=only_if_exists)

    async def delete(self, session_id: str) -> None:
        self.calls.append(("delete", session_id))
        if self.fail:
            raise self.fail
        await self.inner.delete(session_id)


class UseStore:
    """A per-test plugin whose ``session_store`` hook provides ``store``."""

    def __init__(self, store: SessionStore) -> None:
        self.store = store

    @hookimpl
    def session_store(self) -> SessionStore:
        return self.store


def site(store: SessionStore | None = None, **sessions: Any) -> Site:
    plugins: list[Any] = ["sessions"]
    if store is not None:
        plugins.append(UseStore(store))
    return Site(plugins=plugins, config={"sessions": sessions} if sessions else None)


def cookie_attrs(response: TestResponse) -> dict[str, str]:
    (header,) = response.headers.getlist("set-cookie")
    first, *attributes = header.split(";")
    attrs = {"": first.strip()}
    for attribute in attributes:
        key, _, value = attribute.strip().partition("=")
        attrs[key.lower()] = value
    return attrs


def test_visit_counter_counts_with_the_memory_store(client: Client) -> None:
    c = client(site())
    assert [c.get("/visits").text for _ in range(3)] == ["1", "2", "3"]


def test_session_cookie_attributes(client: Client) -> None:
    response = client(site(ttl=600)).get("/visits")
    attrs = cookie_attrs(response)
    name, _, value = attrs[""].partition("=")
    assert name == "session_id" and is_well_formed(value)
    assert "httponly" in attrs and attrs["samesite"] == "Lax" and attrs["path"] == "/"
    assert attrs["max-age"] == "600"
    assert "secure" in attrs  # MicroPie's default; browsers accept it on http://localhost
    assert response.headers.get("cache-control") == "private"
    assert "Cookie" in response.headers.getlist("vary")


@pytest.mark.parametrize(("policy", "sent"), [
    ("public, max-age=600", "private, max-age=600"),
    ("s-maxage=60, max-age=10", "private, max-age=10"),
    ("no-store", "no-store"),
    ("private, no-cache", "private, no-cache"),
])
def test_a_handler_cache_policy_is_made_private_not_contradicted(
    client: Client, policy: str, sent: str
) -> None:
    response = client(site()).get("/cached", params={"policy": policy})
    assert response.headers.getlist("cache-control") == [sent]


def test_cookie_is_secure_over_https_or_when_configured(client: Client) -> None:
    assert "secure" in cookie_attrs(client(site(), base_url="https://x").get("/visits"))
    assert "secure" in cookie_attrs(client(site(secure=True)).get("/visits"))
    assert "secure" not in cookie_attrs(
        client(site(secure=False), base_url="https://x").get("/visits"))


def test_cookie_name_and_samesite_are_configurable(client: Client) -> None:
    c = client(site(cookie_name="sid", samesite="strict"))
    attrs = cookie_attrs(c.get("/visits"))
    assert attrs[""].startswith("sid=") and attrs["samesite"] == "Strict"
    assert c.get("/visits").text == "2"


def test_requests_that_do_not_touch_the_session_are_left_alone(client: Client) -> None:
    store = CountingStore()
    c = client(site(store))
    c.get("/visits")
    store.calls.clear()
    response = c.get("/plain")
    assert response.status_code == 200
    assert "set-cookie" not in response.headers and "vary" not in response.headers
    assert store.calls == [("load", c.cookies["session_id"])]  # the sliding TTL refresh only
    store.calls.clear()
    fresh = client(site(store)).get("/plain")
    assert "set-cookie" not in fresh.headers and store.calls == []


@pytest.mark.parametrize("value", [
    "x" * 4096, "attacker", "../../etc/passwd", "A" * 42, "A" * 44, '"quoted"', "é" * 43,
    "A" * 42 + "=", "", "a b c",
])
def test_malformed_cookies_cost_no_store_call_and_are_not_adopted(
    client: Client, value: str
) -> None:
    store = CountingStore()
    c = client(site(store))
    response = c.get("/visits", headers={"cookie": f"session_id={value}"})
    assert response.status_code == 200 and response.text == "1"
    assert [call for call, _ in store.calls] == ["save"]
    new_id = response.cookies["session_id"]
    assert new_id != value and is_well_formed(new_id)


def test_a_repeated_cookie_header_names_the_same_session_every_time(client: Client) -> None:
    store = CountingStore()
    c = client(site(store))
    c.get("/visits")
    session_id = c.cookies["session_id"]
    for header in [f"session_id={session_id}", f"a=1; session_id={session_id}",
                   f"session_id={session_id}"]:
        store.calls.clear()
        assert c.get("/peek", headers={"cookie": header}).text == "1"
        assert store.calls == [("load", session_id)]
    for _ in range(2):  # a malformed id is refused the second time as well
        store.calls.clear()
        response = c.get("/peek", headers={"cookie": "session_id=attacker"})
        assert response.text == "0" and store.calls == []


def test_distinct_cookie_headers_do_not_grow_the_app_without_bound(client: Client) -> None:
    app = site()
    c = client(app)
    for number in range(1500):
        c.get("/plain", headers={"cookie": f"session_id={number:043d}"})
    remembered = app._sessions._ids_by_cookie_header
    assert remembered is not None and 0 < len(remembered) <= 1024
    c.get("/plain", headers={"cookie": "session_id=" + "A" * 43 + "; pad=" + "x" * 5000})
    assert all(len(header) <= 1024 for header in remembered)


def test_a_custom_validator_is_asked_on_every_request(client: Client) -> None:
    revoked: set[str] = set()

    def validator(candidate: str) -> str | None:
        return candidate if is_well_formed(candidate) and candidate not in revoked else None

    c = client(site(id_validator=validator))
    assert c.get("/visits").text == "1"
    assert c.get("/visits").text == "2"
    revoked.add(c.cookies["session_id"])
    assert c.get("/visits").text == "1"  # the revoked id is no longer looked up


def test_an_attacker_chosen_well_formed_id_is_never_adopted(client: Client) -> None:
    store = CountingStore()
    chosen = new_session_id()
    response = client(site(store)).get("/visits", cookies={"session_id": chosen})
    assert response.text == "1"
    new_id = response.cookies["session_id"]
    assert new_id != chosen and chosen not in response.headers["set-cookie"]
    assert ("save", chosen) not in store.calls
    assert asyncio.run(store.inner.load(chosen, 60)) is None


def test_an_empty_session_rotates_to_a_fresh_id_when_populated(client: Client) -> None:
    c = client(site())
    c.get("/visits")
    first = c.cookies["session_id"]
    c.get("/logout")
    assert "session_id" not in c.cookies
    c.get("/visits")
    assert c.cookies["session_id"] != first


def test_regenerate_session_moves_data_to_a_new_id_and_deletes_the_old(client: Client) -> None:
    store = CountingStore()
    c = client(site(store))
    c.get("/visits")
    old = c.cookies["session_id"]
    c.get("/login")
    new = c.cookies["session_id"]
    assert new != old
    assert c.get("/peek").text == "1"  # data moved along
    assert c.get("/peek", cookies={"session_id": old}).text == "0"  # old id loads empty
    assert asyncio.run(store.inner.load(old, 60)) is None


def test_regenerate_session_alone_rotates_without_touching_the_data(client: Client) -> None:
    class Rotates(Site):
        async def rotate(self) -> str:
            self.request.regenerate_session()  # the session itself is never read
            return "rotated"

    store = CountingStore()
    c = client(Rotates(plugins=["sessions", UseStore(store)]))
    c.get("/visits")
    old = c.cookies["session_id"]
    response = c.get("/rotate")
    assert response.cookies["session_id"] != old
    assert asyncio.run(store.inner.load(old, 60)) is None
    assert c.get("/visits").text == "2"  # data moved along


def test_emptying_the_session_deletes_it_and_expires_the_cookie(client: Client) -> None:
    store = CountingStore()
    c = client(site(store))
    c.get("/visits")
    session_id = c.cookies["session_id"]
    response = c.get("/logout")
    attrs = cookie_attrs(response)
    assert attrs[""] == 'session_id=""' or attrs[""] == "session_id="
    assert attrs["max-age"] == "0"
    assert ("delete", session_id) in store.calls and len(store.inner) == 0


def test_a_read_only_request_saves_nothing_and_a_change_saves_once(client: Client) -> None:
    store = CountingStore()
    c = client(site(store))
    c.get("/visits")
    session_id = c.cookies["session_id"]
    store.calls.clear()
    c.get("/peek")
    assert store.calls == [("load", session_id)]
    store.calls.clear()
    c.get("/visits")
    assert store.calls == [("load", session_id), ("save", session_id)]


def test_writing_the_same_value_back_is_not_a_change(client: Client) -> None:
    class Rewrite(Site):
        async def same(self) -> str:
            self.request.session["visits"] = self.request.session["visits"]
            return "same"

    store = CountingStore()
    c = client(Rewrite(plugins=["sessions", UseStore(store)]))
    c.get("/visits")
    store.calls.clear()
    c.get("/same")
    assert [call for call, _ in store.calls] == ["load"]


def test_nested_mutations_are_saved(client: Client) -> None:
    class Carts(Site):
        async def count(self) -> str:
            return str(len(self.request.session.get("cart", [])))

    c = client(Carts(plugins=["sessions"]))
    c.get("/cart")
    c.get("/cart")
    assert c.get("/count").text == "2"


def test_store_failure_is_a_503_with_one_log_line_never_a_500(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    store = CountingStore()
    c = client(site(store))
    c.get("/visits")
    store.fail = ConnectionError("store down")
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = c.get("/visits")
    assert response.status_code == 503 and "unavailable" in response.text
    lines = [r for r in caplog.records if r.name == "micropie"]
    assert len(lines) == 1 and "store down" in lines[0].getMessage()
    assert lines[0].exc_info is None  # one line, not a traceback
    assert c.get("/plain").status_code == 200  # no session use, no error
    assert c.get("/visits", cookies={"session_id": ""}).status_code == 503  # a failing save
    store.fail = None
    assert c.get("/visits").text == "2"


def test_a_failing_delete_is_a_503(client: Client) -> None:
    store = CountingStore()
    c = client(site(store))
    c.get("/visits")
    store.fail = RuntimeError("disk full")
    store.inner = MemoryStore()
    assert c.get("/logout").status_code == 503


def test_a_broken_store_record_is_not_adopted(client: Client) -> None:
    class Broken(SessionStore):
        async def load(self, session_id: str, ttl: int) -> dict[str, Any] | None:
            return {"data": "not a dict", "created": "yesterday"}

        async def save(self, session_id: str, record: dict[str, Any], ttl: int, *,
                       only_if_exists: bool = False) -> bool:
            return True

        async def delete(self, session_id: str) -> None:
            return None

    response = client(site(Broken())).get("/visits", cookies={"session_id": new_session_id()})
    assert response.text == "1"


def test_memory_store_keeps_the_python_objects_the_handler_stored(client: Client) -> None:
    marker = object()

    class Objects(App):
        async def put(self) -> str:
            self.request.session.update(tags={"a", "b"}, when=datetime(2026, 1, 2), obj=marker)
            return "ok"

        async def get(self) -> str:
            session = self.request.session
            assert session["obj"] is marker and isinstance(session["when"], datetime)
            return ",".join(sorted(session["tags"]))

    c = client(Objects(plugins=["sessions"]))
    assert c.get("/put").text == "ok"
    assert c.get("/get").text == "a,b"


def test_absolute_lifetime_ends_a_session_however_active(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import micropie_core.sessions as sessions_module

    now = [1_000_000.0]

    class Clock:
        @staticmethod
        def time() -> float:
            return now[0]

    monkeypatch.setattr(sessions_module, "time", Clock)
    c = client(site(ttl=100, absolute_lifetime=150))
    assert cookie_attrs(c.get("/visits"))["max-age"] == "100"
    now[0] += 90
    assert c.get("/visits").text == "2"  # still alive
    now[0] += 50
    response = c.get("/visits")
    assert response.text == "3"
    assert cookie_attrs(response)["max-age"] == "10"  # capped by the absolute lifetime
    now[0] += 11
    assert c.get("/visits").text == "1"  # expired although it was just used


def test_deletion_wins_over_a_concurrent_write(client: Client) -> None:
    """Logout in one request while another, slower one changes the same session."""
    gate = asyncio.Event()

    class Slow(Site):
        async def slow(self) -> str:
            self.request.session["visits"] = 99
            await gate.wait()
            return "slow"

    app = Slow(plugins=["sessions"])
    c = client(app)
    c.get("/visits")

    async def race() -> TestResponse:
        slow = asyncio.ensure_future(c.arequest("GET", "/slow"))
        await asyncio.sleep(0.05)
        await c.arequest("GET", "/logout")
        gate.set()
        return await slow

    response = c.run(race())
    assert response.text == "slow" and cookie_attrs(response)["max-age"] == "0"
    assert c.get("/peek").text == "0"


def test_concurrent_writes_to_one_memory_session_all_land(client: Client) -> None:
    gates = {"a": asyncio.Event(), "b": asyncio.Event()}

    class Writers(Site):
        async def put(self, key: str) -> str:
            session = self.request.session
            session[key] = True
            await gates[key].wait()
            return ",".join(sorted(session))

        async def keys(self) -> str:
            return ",".join(sorted(self.request.session))

    c = client(Writers(plugins=["sessions"]))
    c.get("/visits")

    async def race() -> None:
        first = asyncio.ensure_future(c.arequest("GET", "/put/a"))
        second = asyncio.ensure_future(c.arequest("GET", "/put/b"))
        await asyncio.sleep(0.05)
        gates["a"].set()
        await first
        gates["b"].set()
        await second

    c.run(race())
    # The memory store keeps the session dict itself (as MicroPie does): both
    # requests changed the same object. (Redis: last write wins, tested there.)
    assert c.get("/keys").text == "a,b,visits"


class DictBackend(SessionBackend):
    """A MicroPie-style custom store."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}
        self.timeouts: list[int] = []

    async def load(self, session_id: str) -> dict[str, Any]:
        return self.data.get(session_id, {})

    async def save(self, session_id: str, data: dict[str, Any], timeout: int) -> None:
        self.timeouts.append(timeout)
        if data and timeout:
            self.data[session_id] = data
        else:
            self.data.pop(session_id, None)


def test_micropie_session_backend_keeps_working(client: Client) -> None:
    backend = DictBackend()
    c = client(Site(backend, config={"sessions": {"ttl": 60}}))
    assert [c.get("/visits").text for _ in range(3)] == ["1", "2", "3"]
    assert list(backend.data) == [c.cookies["session_id"]] and backend.timeouts == [60, 60, 60]
    assert backend.data[c.cookies["session_id"]] == {"visits": 3}  # stored as MicroPie did
    c.get("/logout")
    assert backend.data == {}


def test_no_store_gives_a_clear_error(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="micropie"):
        assert client(Site(plugins=[])).get("/visits").status_code == 500
    assert "'sessions' plugin was left out" in caplog.text


def test_a_session_can_be_copied_and_pickled_by_handler_code(client: Client) -> None:
    class Snapshots(Site):
        async def copies(self) -> dict[str, Any]:
            session = self.request.session
            session["cart"] = ["apple"]
            copies = [copy.copy(session), copy.deepcopy(session),
                      pickle.loads(pickle.dumps(session))]
            for duplicate in copies:
                duplicate["more"] = 1  # a copy is a working session dict of its own
            return {"copies": [dict(d) for d in copies], "session": dict(session)}

    body = client(Snapshots()).get("/copies").json()
    assert body["session"] == {"cart": ["apple"]}
    assert body["copies"] == [{"cart": ["apple"], "more": 1}] * 3
