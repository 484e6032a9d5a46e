from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from micropie_core import App, Response, UploadedFile
from micropie_core.testing import TestClient

pytest_plugins = ["pytester"]


class Site(App):
    async def index(self) -> str:
        return "home"

    async def set(self, name: str, value: str) -> Response:
        response = Response("set")
        response.set_cookie(name, value)
        return response

    async def unset(self, name: str) -> Response:
        response = Response("unset")
        response.delete_cookie(name)
        return response

    async def show(self) -> dict[str, str]:
        return self.request.cookies

    async def echo_query(self) -> dict[str, list[str]]:
        return self.request.query_params

    async def headers(self) -> dict[str, list[str]]:
        return {"x": self.request.headers.getlist("X-Multi"),
                "host": self.request.headers.getlist("Host")}


def test_cookie_jar_keeps_and_expires_cookies() -> None:
    with TestClient(Site()) as c:
        c.get("/set/flavour/mint")
        assert c.get("/show").json() == {"flavour": "mint"}
        assert c.get("/show", cookies={"extra": "1"}).json() == {"flavour": "mint", "extra": "1"}
        c.get("/unset/flavour")
        assert c.get("/show").json() == {}


def test_params_and_repeated_headers() -> None:
    with TestClient(Site()) as c:
        assert c.get("/echo_query?a=1", params={"b": ["2", "3"]}).json() == {
            "a": ["1"], "b": ["2", "3"]}
        response = c.get("/headers", headers=[("X-Multi", "one"), ("x-multi", "two")])
        assert response.json() == {"x": ["one", "two"], "host": ["testserver"]}


def test_a_given_host_header_replaces_the_default_one() -> None:
    with TestClient(Site()) as c:
        response = c.get("/headers", headers={"Host": "example.org:8080"})
        assert response.json()["host"] == ["example.org:8080"]


def test_files_as_pairs_send_several_files_under_one_field() -> None:
    class Uploads(App):
        async def upload(self, note: str, doc: list[UploadedFile]) -> dict[str, Any]:
            return {"note": note,
                    "docs": [[d.filename, (await d.read()).decode()] for d in doc]}

    with TestClient(Uploads()) as c:
        response = c.post("/upload", data={"note": "two"}, files=[
            ("doc", ("a.txt", b"first", "text/plain")), ("doc", ("b.txt", b"second")),
        ])
    assert response.json() == {"note": "two", "docs": [["a.txt", "first"], ["b.txt", "second"]]}


def test_async_use_inside_a_running_loop() -> None:
    events: list[str] = []
    app = Site()

    async def wake() -> None:
        events.append("started")

    app.startup_handlers.append(wake)

    async def scenario() -> list[str]:
        async with TestClient(app) as c:
            responses = await asyncio.gather(*(c.aget("/") for _ in range(20)))
            return [r.text for r in responses]

    assert asyncio.run(scenario()) == ["home"] * 20
    assert events == ["started"]


def test_client_without_with_block_starts_lazily_and_closes() -> None:
    client = TestClient(Site())
    try:
        assert client.get("/").text == "home"
    finally:
        client.close()


UNCLOSED = """
from micropie_core import App
from micropie_core.testing import TestClient

class Site(App):
    async def index(self):
        return "hi"

client = TestClient(Site())
print(client.get("/").text)
"""


def test_a_client_never_closed_ends_without_destroyed_pending_tasks() -> None:
    result = subprocess.run([sys.executable, "-c", UNCLOSED], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "hi"
    assert "destroyed but it is pending" not in result.stderr, result.stderr


def test_client_fixture_from_the_pytest_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from micropie_core import App

        class Hello(App):
            async def index(self):
                return "hi"

        def test_uses_fixture(client):
            assert client(Hello()).get("/").text == "hi"
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


ClientFactory = Callable[..., TestClient]


def test_client_fixture_runs_lifespan(client: ClientFactory) -> None:
    events: list[str] = []
    app = Site()

    async def wake() -> None:
        events.append("up")

    app.startup_handlers.append(wake)
    client(app)
    assert events == ["up"]
