"""The baseline: a hand-written ASGI callable serving the three endpoints.

It does the work any framework must do for these endpoints (route on the path,
parse the query string, encode JSON, set Content-Length) and nothing more.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, unquote

TEXT_HEADERS = [(b"content-type", b"text/html; charset=utf-8")]
JSON_HEADERS = [(b"content-type", b"application/json")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/":
        body, headers, status = b"Hello, World!", TEXT_HEADERS, 200
    elif path == "/json":
        body = json.dumps({"message": "Hello, World!"}).encode()
        headers, status = JSON_HEADERS, 200
    elif path.startswith("/greet/"):
        query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        name = unquote(path[len("/greet/"):])
        body = f"{query.get('greeting', 'Hello')}, {name}!".encode()
        headers, status = TEXT_HEADERS, 200
    else:
        body, headers, status = b"Not Found", TEXT_HEADERS, 404
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})
