from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from micropie_core.cli import main
from tests.support import ROOT, free_port, wait_for_port


def test_plugins_lists_builtins_with_hooks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "sessions" in lines and "streaming" in lines
    assert "micropie-core (built-in)" in lines["sessions"]
    assert "session_store" in lines["sessions"]
    assert " yes " in lines["sessions"]


def test_run_rejects_a_target_without_attribute(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "hello"]) == 2
    assert "module:attribute" in capsys.readouterr().err
    assert main(["run", "examples/hello.py"]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "Try: micropie run hello:app --app-dir examples")


def test_run_serves_the_app_with_uvicorn() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "micropie_core.cli", "run", "hello:app", "--app-dir",
         str(ROOT / "examples"), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process=process)
        response = httpx.get(f"http://127.0.0.1:{port}/greet/Ann?greeting=Hi", timeout=10)
        assert response.text == "Hi, Ann!"
    finally:
        process.terminate()
        process.wait(timeout=10)


# ---------------------------------------------------------------- the real command

MICROPIE = str(Path(sys.executable).with_name("micropie"))

SITE = '''\
from micropie_core import App


class Site(App):
    _methods = {"submit": ["POST"]}

    async def index(self):
        return "home"

    async def add(self, a: int, b: int = 1) -> dict[str, int]:
        return {"sum": a + b}

    async def submit(self, title: str, *tags: str, **extra: str):
        return "ok"

    async def where(self):
        scope = self.request.scope
        return {"root_path": scope.get("root_path", ""), "client": scope["client"][0]}

    async def ws_chat(self, ws, room: str, user: str = "anon") -> None:
        await ws.accept()


app = Site()
no_templates = Site(block_plugins=["templates"])
only_two = Site(plugins=["sessions", "ws"])
'''


def _micropie(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MICROPIE_PLUGINS"}
    return subprocess.run([MICROPIE, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "shop.py").write_text(SITE)
    return tmp_path


def test_version() -> None:
    result = _micropie("--version", cwd=ROOT)
    assert result.returncode == 0
    assert result.stdout.strip() == f"micropie-core {version('micropie-core')}"


def test_routes_lists_http_and_websocket_routes_with_parameters(site: Path) -> None:
    result = _micropie("routes", "shop:app", cwd=site)
    assert result.returncode == 0, result.stderr
    lines = [line.split(None, 2) for line in result.stdout.splitlines()]
    assert lines[0][:2] == ["KIND", "PATH"]
    by_path = {(kind, path): rest for kind, path, rest in lines[1:]}
    assert by_path["http", "/"].startswith("index()")
    assert by_path["http", "/add"].split("  ")[0] == "add(a: int, b: int = 1)"
    assert by_path["http", "/submit"].endswith("POST")
    assert "submit(title: str, *tags: str, **extra: str)" in by_path["http", "/submit"]
    assert by_path["http", "/where"].endswith("any")
    assert by_path["ws", "/chat"] == "ws_chat(room: str, user: str = 'anon')"


def test_routes_json(site: Path) -> None:
    result = _micropie("routes", "shop:app", "--json", cwd=site)
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)
    http = {route["path"]: route for route in table["http"]}
    assert [route["path"] for route in table["http"]] == ["/", "/add", "/submit", "/where"]
    assert http["/add"]["parameters"] == [
        {"name": "a", "kind": "positional or keyword", "annotation": "int", "required": True},
        {"name": "b", "kind": "positional or keyword", "annotation": "int", "required": False,
         "default": "1"},
    ]
    assert http["/submit"]["methods"] == ["POST"] and http["/add"]["methods"] is None
    assert [p["kind"] for p in http["/submit"]["parameters"]][1:] == [
        "*args (remaining path segments)", "**kwargs (remaining names)"]
    assert table["websocket"] == [{
        "path": "/chat", "handler": "ws_chat",
        "signature": "ws_chat(room: str, user: str = 'anon')",
        "parameters": [
            {"name": "room", "kind": "positional or keyword", "annotation": "str",
             "required": True},
            {"name": "user", "kind": "positional or keyword", "annotation": "str",
             "required": False, "default": "'anon'"},
        ],
    }]


def test_routes_explains_a_bad_target(site: Path) -> None:
    missing = _micropie("routes", "nowhere:app", cwd=site)
    assert missing.returncode == 2
    assert "error: Cannot import module 'nowhere'" in missing.stderr
    assert "Traceback" not in missing.stderr
    no_attr = _micropie("routes", "shop:application", cwd=site)
    assert no_attr.returncode == 2 and "has no attribute 'application'" in no_attr.stderr
    a_class = _micropie("routes", "shop:Site", cwd=site)
    assert a_class.returncode == 2 and "point at an instance (app = Site())" in a_class.stderr


def test_plugins_for_one_app_shows_hooks_and_why_others_are_inactive(site: Path) -> None:
    result = _micropie("plugins", "shop:no_templates", "--json", cwd=site)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["templates"]["active"] is False
    assert rows["templates"]["reason"] == "blocked by App(block_plugins=[...])"
    assert rows["ws"]["active"] is True and "register_scope_handlers" in rows["ws"]["hooks"]
    assert rows["sessions"]["distribution"] == "micropie-core (built-in)"

    only = _micropie("plugins", "shop:only_two", cwd=site)
    assert only.returncode == 0, only.stderr
    lines = {line.split()[0]: line for line in only.stdout.splitlines()[1:]}
    assert "not listed in App(plugins=[...])" in lines["templates"]
    assert "not listed in App(plugins=[...])" in lines["streaming"]
    assert " yes " in lines["ws"] and "session_store" in lines["sessions"]


def test_plugins_without_an_app_follows_micropie_plugins(site: Path) -> None:
    env_run = subprocess.run(
        [MICROPIE, "plugins", "--json"], cwd=site, capture_output=True, text=True, timeout=60,
        env={**os.environ, "MICROPIE_PLUGINS": "sessions"},
    )
    rows = {row["name"]: row for row in json.loads(env_run.stdout)}
    assert rows["sessions"]["active"] is True
    assert rows["ws"]["reason"] == "not listed in MICROPIE_PLUGINS"


APP_PY = '''\
from micropie_core import App


class Where(App):
    async def index(self):
        scope = self.request.scope
        return {"root_path": scope.get("root_path", ""), "client": scope["client"][0]}


app = Where()
'''


def _serve(cwd: Path, *args: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    process = subprocess.Popen([MICROPIE, "run", "--port", str(port), *args], cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for_port(port, process=process)  # type: ignore[arg-type]
    return process, port


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    output, _ = process.communicate(timeout=10)
    return output


@pytest.mark.parametrize("file_name", ["app.py", "main.py"])
def test_run_finds_app_in_app_py_or_main_py_and_passes_server_options(
    tmp_path: Path, file_name: str
) -> None:
    (tmp_path / file_name).write_text(APP_PY)
    process, port = _serve(tmp_path, "--root-path", "/prefix", "--proxy-headers",
                           "--forwarded-allow-ips", "127.0.0.1", "--log-level", "warning")
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/",
                             headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10)
        assert response.json() == {"root_path": "/prefix", "client": "203.0.113.9"}
    finally:
        output = _stop(process)
    assert "Uvicorn running" not in output  # --log-level warning hides uvicorn's info lines


def test_run_without_proxy_headers_keeps_the_peer_address(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP_PY)
    process, port = _serve(tmp_path, "--log-level", "info")
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/",
                             headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10)
        assert response.json() == {"root_path": "", "client": "127.0.0.1"}
    finally:
        output = _stop(process)
    assert "Uvicorn running" in output


def test_run_without_target_or_app_py_says_what_to_do(tmp_path: Path) -> None:
    result = _micropie("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "No target given and no app.py or main.py in" in result.stderr
    assert "micropie run module:app" in result.stderr


def test_a_file_named_like_a_stdlib_module_is_explained(tmp_path: Path) -> None:
    (tmp_path / "site.py").write_text(SITE)
    result = _micropie("routes", "site:app", cwd=tmp_path)
    assert result.returncode == 2
    assert "another module has that name" in result.stderr and "Rename your file" in result.stderr


ENDLESS = '''\
import asyncio

from micropie_core import App, sse


class Ticker(App):
    async def index(self):
        async def ticks():
            await asyncio.Event().wait()  # silence, like a chat nobody writes in
            yield "never"
        return sse(ticks())


app = Ticker()
'''


def test_run_can_bound_the_graceful_shutdown_of_an_endless_stream(tmp_path: Path) -> None:
    # Without the option uvicorn waits for every open response, and an SSE stream
    # never ends: Ctrl-C would do nothing while a browser keeps the page open.
    (tmp_path / "app.py").write_text(ENDLESS)
    process, port = _serve(tmp_path, "--timeout-graceful-shutdown", "1")
    with httpx.stream("GET", f"http://127.0.0.1:{port}/", timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        process.terminate()
        process.communicate(timeout=30)  # a bound for a loaded machine, not a speed check
    assert process.returncode is not None
