"""The snippets of shared/reference/micropie-guide.txt, with only the import changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from micropie_core import App, HttpMiddleware
from micropie_core.testing import TestClient

Client = Callable[..., TestClient]


def test_hello_world(client: Client) -> None:
    class MyApp(App):
        async def index(self):  # type: ignore[no-untyped-def]
            return "Hi. It's me. Your handler."

    assert client(MyApp()).get("/").text == "Hi. It's me. Your handler."


def test_routing_by_method_name(client: Client) -> None:
    class AppOfMystery(App):
        async def greet(self, name):  # type: ignore[no-untyped-def]
            return f"Hello {name}. You're in /greet/{name}"

        async def scream(self):  # type: ignore[no-untyped-def]
            return "AAAAAAAAAAAAAAAAAAA"

        async def _please_dont_call_this(self):  # type: ignore[no-untyped-def]
            return "private"

    c = client(AppOfMystery())
    assert c.get("/greet/Bob").text == "Hello Bob. You're in /greet/Bob"
    assert c.get("/scream").text == "AAAAAAAAAAAAAAAAAAA"
    assert c.get("/_please_dont_call_this").status_code == 404


def test_parameters_from_everywhere(client: Client) -> None:
    class Info(App):
        async def info(self, name="Ghost", age="???"):  # type: ignore[no-untyped-def]
            return f"{name} is {age} years old. Allegedly."

    c = client(Info())
    assert c.get("/info").text == "Ghost is ??? years old. Allegedly."
    assert c.get("/info/Ann/30").text == "Ann is 30 years old. Allegedly."
    assert c.get("/info?name=Bo&age=9").text == "Bo is 9 years old. Allegedly."
    assert c.post("/info", data={"name": "Cy"}).text == "Cy is ??? years old. Allegedly."
    assert c.post("/info", json={"age": 5}).text == "Ghost is 5 years old. Allegedly."


def test_sessions_remember(client: Client) -> None:
    class RememberMe(App):
        async def index(self):  # type: ignore[no-untyped-def]
            visits = self.request.session.get("visits", 0)
            self.request.session["visits"] = visits + 1
            return f"Visit #{visits + 1}. Still here?"

    c = client(RememberMe())
    assert [c.get("/").text for _ in range(3)] == [
        "Visit #1. Still here?", "Visit #2. Still here?", "Visit #3. Still here?"]


def test_middleware_judges(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    class MyApp(App):
        async def index(self):  # type: ignore[no-untyped-def]
            return "Hi"

    class Judge(HttpMiddleware):
        async def before_request(self, request):  # type: ignore[no-untyped-def]
            print(f"Look who's hitting {request.path}... again.")

        async def after_request(self, request, status, body, headers):  # type: ignore[no-untyped-def]
            print("You got a response. For now.")

    app = MyApp()
    app.middlewares.append(Judge())
    assert client(app).get("/").text == "Hi"
    assert capsys.readouterr().out == (
        "Look who's hitting /... again.\nYou got a response. For now.\n")


def test_streaming_drip_feed(client: Client) -> None:
    class Feed(App):
        async def drip_feed(self):  # type: ignore[no-untyped-def]
            async def gen():  # type: ignore[no-untyped-def]
                for i in range(5):
                    yield f"Chunk {i}\n"
            return gen()  # type: ignore[no-untyped-call]

    response = client(Feed()).get("/drip_feed")
    assert response.status_code == 200
    assert response.text == "".join(f"Chunk {i}\n" for i in range(5))
    assert "content-length" not in response.headers  # streamed, not buffered


def test_lifespan_hooks(capsys: pytest.CaptureFixture[str]) -> None:
    class MyApp(App):
        async def index(self):  # type: ignore[no-untyped-def]
            return "Hi"

    async def wake_up():  # type: ignore[no-untyped-def]
        print("Starting app...")

    async def goodnight():  # type: ignore[no-untyped-def]
        print("Shutting down...")

    app = MyApp()
    app.startup_handlers.append(wake_up)
    app.shutdown_handlers.append(goodnight)
    with TestClient(app) as c:
        c.get("/")
    assert capsys.readouterr().out == "Starting app...\nShutting down...\n"


def test_redirect_helper(client: Client) -> None:
    class Go(App):
        async def old(self) -> Any:
            return self._redirect("/new", [("X-Moved", "yes")])

    response = client(Go()).get("/old")
    assert response.status_code == 302
    assert response.headers["location"] == "/new"
    assert response.headers["x-moved"] == "yes"
