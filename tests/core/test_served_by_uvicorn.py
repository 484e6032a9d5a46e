"""The MicroPie-style acceptance app and the example app, served by a real uvicorn."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx

from tests.support import ROOT, UvicornProcess

MICROPIE_APP = '''
from micropie_core import App

class Root(App):
    async def index(self): return "Hello, World!"
    async def json(self): return {"message": "Hello, World!"}
    async def greet(self, name, greeting="Hello"): return f"{greeting}, {name}!"
    async def add(self, a: int, b: int = 1): return {"sum": a + b}

app = Root()
'''


def test_micropie_app_with_changed_import_runs_on_uvicorn(tmp_path: Path) -> None:
    (tmp_path / "micropie_app.py").write_text(textwrap.dedent(MICROPIE_APP))
    with UvicornProcess("micropie_app:app", tmp_path) as server, httpx.Client(
        base_url=server.url, timeout=10
    ) as http:
        assert http.get("/").text == "Hello, World!"
        assert http.get("/json").json() == {"message": "Hello, World!"}
        assert http.get("/greet/Ann", params={"greeting": "Hi"}).text == "Hi, Ann!"
        assert http.get("/add/2?b=3").json() == {"sum": 5}
        bad = http.get("/add/x")
        assert bad.status_code == 400 and "'a'" in bad.text and "int" in bad.text
        assert http.get("/nope").status_code == 404
        assert http.get("/middlewares").status_code == 404
        assert http.post("/add", json={"a": 4}).json() == {"sum": 5}
        head = http.head("/")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == "13"


def test_example_hello_app_serves_with_in_memory_sessions() -> None:
    with UvicornProcess("hello:app", ROOT / "examples") as server, httpx.Client(
        base_url=server.url, timeout=10
    ) as http:
        assert http.get("/").text == "Hello, World!"
        assert http.get("/greet/Ann?greeting=Hi").text == "Hi, Ann!"
        # The session cookie is Secure (MicroPie's default): browsers send it to
        # http://localhost, httpx's jar does not, so it is sent by hand here.
        first = http.get("/visits")
        cookie = {"cookie": f"session_id={first.cookies['session_id']}"}
        visits = [first] + [http.get("/visits", headers=cookie) for _ in range(2)]
        assert [response.json()["visits"] for response in visits] == [1, 2, 3]
