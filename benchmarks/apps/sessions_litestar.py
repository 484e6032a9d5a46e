"""Litestar with its server-side sessions in Redis: the peer of ``sessions_core``.

``BENCH_REDIS_URL`` names the Redis (set by ``sessions_http.py``). Litestar's
server-side backend loads the session with one GET and stores it after every
request that has one (it has no dirty check).
"""

import os

from litestar import Litestar, Request, get
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.stores.redis import RedisStore


@get("/read")
async def read(request: Request) -> str:
    return str(request.session.get("visits", 0))


@get("/write")
async def write(request: Request) -> str:
    visits = request.session.get("visits", 0) + 1
    request.session["visits"] = visits
    return str(visits)


_store = RedisStore.with_client(url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379"),
                                namespace="bench-litestar")
app = Litestar(route_handlers=[read, write], stores={"sessions": _store},
               middleware=[ServerSideSessionConfig().middleware])
