"""The plugin behind a real server (uvicorn) and a real client (the ``websockets`` package)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin, Subprotocol

from tests.support import UvicornProcess

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def server() -> Iterator[UvicornProcess]:
    with UvicornProcess("served_app:app", HERE) as process:
        yield process


def ws_url(server: UvicornProcess, path: str) -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


def open_ws(server: UvicornProcess, path: str, **options: Any) -> connect:
    return connect(ws_url(server, path), proxy=None, compression=None, open_timeout=10,
                   **options)


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 30))


async def close_code(ws: ClientConnection) -> int | None:
    """Read until the server closes; return its close code."""
    try:
        while True:
            await ws.recv()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None


def test_echo_text_bytes_and_json(server: UvicornProcess) -> None:
    async def scenario() -> None:
        async with open_ws(server, "/echo") as ws:
            await ws.send("héllo")
            assert await ws.recv() == "héllo"
            await ws.send(b"\x00\xffbinary")
            assert await ws.recv() == b"\x00\xffbinary"
        async with open_ws(server, "/json") as ws:
            await ws.send(json.dumps({"n": [1, 2]}))
            assert json.loads(await ws.recv()) == {"got": {"n": [1, 2]}}

    run(scenario())


def test_root_path_is_ws_index(server: UvicornProcess) -> None:
    async def scenario() -> None:
        async with open_ws(server, "/") as ws:
            assert await ws.recv() == "root"
            assert await close_code(ws) == 1000

    run(scenario())


def test_path_then_query_binding_with_conversion(server: UvicornProcess) -> None:
    async def scenario() -> None:
        async with open_ws(server, "/add/2?b=40") as ws:
            assert json.loads(await ws.recv()) == {"sum": 42}
        async with open_ws(server, "/add?a=5") as ws:
            assert json.loads(await ws.recv()) == {"sum": 5}

    run(scenario())


def refused(server: UvicornProcess, path: str, **options: Any) -> InvalidStatus:
    async def scenario() -> InvalidStatus:
        with pytest.raises(InvalidStatus) as caught:
            async with open_ws(server, path, **options):
                pass
        return caught.value

    result: InvalidStatus = run(scenario())
    return result


def test_missing_route_and_bad_parameters_refuse_the_handshake(server: UvicornProcess) -> None:
    missing = refused(server, "/nowhere")
    assert missing.response.status_code == 404
    assert refused(server, "/_private").response.status_code == 404
    no_param = refused(server, "/add")
    assert no_param.response.status_code == 400
    assert b"Missing required parameter 'a'" in no_param.response.body
    bad_param = refused(server, "/add/two")
    assert bad_param.response.status_code == 400
    assert b"expected int" in bad_param.response.body


def test_cross_origin_is_refused_same_origin_accepted(server: UvicornProcess) -> None:
    evil = refused(server, "/echo", origin=Origin("https://evil.example"))
    assert evil.response.status_code == 403

    async def same_site() -> None:
        async with open_ws(server, "/echo", origin=Origin(server.url)) as ws:
            await ws.send("ok")
            assert await ws.recv() == "ok"

    run(same_site())


def test_oversize_message_closes_with_1009(server: UvicornProcess) -> None:
    async def scenario() -> None:
        async with open_ws(server, "/echo") as ws:
            await ws.send("small")
            assert await ws.recv() == "small"
            await ws.send(b"x" * (1024 * 1024 + 1))
            assert await close_code(ws) == 1009

    run(scenario())


def test_handler_crash_closes_with_1011_and_a_generic_reason(server: UvicornProcess) -> None:
    async def scenario() -> None:
        async with open_ws(server, "/crash") as ws:
            await ws.send("go")
            with pytest.raises(ConnectionClosed) as caught:
                await ws.recv()
            assert caught.value.rcvd is not None
            assert caught.value.rcvd.code == 1011
            assert "secret" not in caught.value.rcvd.reason

    run(scenario())
    output = server.stop()
    server.start()  # keep the module's server for the other tests
    assert "Unhandled exception in WebSocket handler ws_crash" in output
    assert "Traceback" in output and "secret detail" in output


def test_middleware_rejects_and_admits(server: UvicornProcess) -> None:
    rejected = refused(server, "/private")
    assert rejected.response.status_code == 403
    assert rejected.response.body == b"Login required"

    async def admitted() -> None:
        async with open_ws(server, "/private?token=letmein") as ws:
            assert await ws.recv() == "welcome"

    run(admitted())


def test_subprotocol_and_accept_headers(server: UvicornProcess) -> None:
    async def scenario() -> None:
        offered = [Subprotocol("chat.v1"), Subprotocol("chat.v2")]
        async with open_ws(server, "/proto", subprotocols=offered) as ws:
            assert ws.subprotocol == "chat.v2"
            assert ws.response is not None
            assert ws.response.headers["x-server"] == "micropie"
            assert await ws.recv() == "offered=chat.v1,chat.v2"

    run(scenario())


def test_session_from_http_is_seen_and_new_session_cookie_comes_with_accept(
    server: UvicornProcess,
) -> None:
    import httpx

    with httpx.Client(base_url=server.url) as http:
        http.get("/login/ann")
        cookie = http.cookies["session_id"]

    async def scenario() -> str:
        async with open_ws(server, "/whoami",
                           additional_headers={"Cookie": f"session_id={cookie}"}) as ws:
            assert await ws.recv() == "ann"
        async with open_ws(server, "/visit") as ws:
            assert ws.response is not None
            set_cookie = ws.response.headers["set-cookie"]
            assert set_cookie.startswith("session_id=") and "HttpOnly" in set_cookie
            assert json.loads(await ws.recv()) == {"visits": 1}
            await ws.send("remember me")
            assert await ws.recv() == "noted"
        return set_cookie.split(";")[0].split("=", 1)[1]

    new_id = run(scenario())

    async def saved_when_the_handler_ended() -> None:
        for _ in range(50):  # the save happens just after the close
            with httpx.Client(base_url=server.url) as http:
                data = http.get("/me", headers={"Cookie": f"session_id={new_id}"}).json()
            if data.get("note"):
                break
            await asyncio.sleep(0.05)
        assert data == {"visits": 1, "note": "remember me"}

    run(saved_when_the_handler_ended())
