"""Broadcast groups across uvicorn processes (Redis pub/sub) and with slow receivers."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support import RedisServer, UvicornProcess

HERE = Path(__file__).resolve().parent


@contextmanager
def servers(count: int, **env: str) -> Iterator[list[UvicornProcess]]:
    with ExitStack() as stack:
        yield [stack.enter_context(UvicornProcess("served_app:app", HERE, env=env))
               for _ in range(count)]


def open_ws(server: UvicornProcess, path: str, **options: Any) -> connect:
    return connect(f"ws://127.0.0.1:{server.port}{path}", proxy=None, compression=None,
                   open_timeout=10, **options)


async def receive_until(ws: ClientConnection, wanted: str, timeout: float) -> bool:
    """True once ``wanted`` arrives; False if ``timeout`` passes first."""
    try:
        async with asyncio.timeout(timeout):
            while await ws.recv() != wanted:
                pass
    except TimeoutError:
        return False
    return True


@pytest.fixture
def redis_pair(redis_url: str) -> Iterator[list[UvicornProcess]]:
    """Two uvicorn processes sharing one Redis, on a channel prefix of this test's own."""
    with servers(2, WS_BROADCAST_URL=redis_url,
                 WS_CHANNEL_PREFIX=f"test-{secrets.token_hex(4)}:") as pair:
        yield pair


def test_a_broadcast_from_one_process_reaches_the_other(redis_pair: list[UvicornProcess]) -> None:
    first, second = redis_pair

    async def scenario() -> None:
        async with open_ws(first, "/chat/lobby?user=ann") as ann, \
                open_ws(second, "/chat/lobby?user=bob") as bob, \
                open_ws(second, "/chat/elsewhere?user=eve") as eve:
            for ws, room in ((ann, "lobby"), (bob, "lobby"), (eve, "elsewhere")):
                assert await ws.recv() == f"joined {room}"
            await ann.send("hello from process one")
            assert await ann.recv() == "ann: hello from process one"
            assert await bob.recv() == "ann: hello from process one"
            await bob.send("and back")
            assert await ann.recv() == "bob: and back"
            assert await bob.recv() == "bob: and back"
            with pytest.raises(TimeoutError):  # other rooms hear nothing
                async with asyncio.timeout(0.3):
                    await eve.recv()

    asyncio.run(scenario())


def test_broadcast_resumes_after_redis_restarts(redis_server: RedisServer) -> None:
    with servers(2, WS_BROADCAST_URL=redis_server.url) as (first, second):
        async def scenario() -> None:
            async with open_ws(first, "/chat/lobby?user=ann") as ann, \
                    open_ws(second, "/chat/lobby?user=bob") as bob:
                assert await ann.recv() == "joined lobby"
                assert await bob.recv() == "joined lobby"
                await ann.send("before")
                assert await receive_until(bob, "ann: before", 10)

                await asyncio.to_thread(redis_server.stop)
                await asyncio.to_thread(redis_server.start)

                async def drain(ws: ClientConnection) -> None:
                    try:
                        while True:
                            await ws.recv()
                    except ConnectionClosed:
                        pass

                drainer = asyncio.ensure_future(drain(ann))  # "broadcast failed" replies
                try:
                    for attempt in range(60):  # answers within 30 s
                        await ann.send(f"after {attempt}")
                        if await receive_until(bob, f"ann: after {attempt}", 0.5):
                            break
                    else:
                        pytest.fail("no broadcast crossed processes after Redis came back")
                finally:
                    drainer.cancel()
                    await asyncio.gather(drainer, return_exceptions=True)

        asyncio.run(scenario())


def test_slow_receiver_is_closed_with_1013_without_stalling_others() -> None:
    with servers(1, WS_SEND_QUEUE_SIZE="64") as (server,):
        async def scenario() -> None:
            count, size = 600, 64 * 1024
            # The slow client stops reading at once: its library buffers one
            # message, then TCP fills up and the server's queue for it overflows.
            # The fast one keeps up with a sender that pauses 2 ms per message.
            async with open_ws(server, "/feed/news", max_queue=1) as slow, \
                    open_ws(server, "/feed/news", max_size=2 * size) as fast:
                assert await slow.recv() == "ready"
                assert await fast.recv() == "ready"
                shout = f"/shout/news?count={count}&size={size}&pause=0.002"
                shouter = await open_ws(server, shout)
                received = 0
                async with asyncio.timeout(30):
                    while received < count:
                        message = await fast.recv()
                        assert isinstance(message, str)
                        assert message.startswith(f"{received}:")
                        received += 1
                    assert await shouter.recv() == "done"
                # Now the slow client reads: what was in flight, then the close.
                with pytest.raises(ConnectionClosed) as caught:
                    async with asyncio.timeout(20):
                        while True:
                            await slow.recv()
                assert caught.value.rcvd is not None
                assert caught.value.rcvd.code == 1013
                await shouter.close()

        asyncio.run(scenario())
