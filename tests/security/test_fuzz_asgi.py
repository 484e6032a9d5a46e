"""Property-based tests over the raw ASGI app: never a 500, an escaping exception or a hang.

Hypothesis generates paths, raw paths, query strings, Cookie and other
headers, and urlencoded, JSON and multipart bodies (random boundaries and part
headers, truncation at any offset, random chunking into ``http.request``
messages, disconnects), and sends each straight to the app's ASGI callable.

The CI profile (the default) runs a few hundred examples per test, about 20 s
for this module and ``test_fuzz_multipart.py``. For thousands::

    HYPOTHESIS_PROFILE=thorough .venv/bin/python -m pytest tests/security -k fuzz

(profiles are registered in ``tests/security/conftest.py``; see docs/testing.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from micropie_core import App, UploadedFile
from tests.security.fuzzing import body_headers, check, chunked, exchange, scope_for

METHODS = st.sampled_from(["GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH"])
HANDLERS = ["", "index", "greet", "typed", "upload", "uploads", "form", "data", "cookies",
            "visit", "extra", "sync", "_private", "ws_x", "missing"]


class Target(App):
    """Handlers covering every binding source and conversion."""

    async def index(self, *segments: str) -> list[str]:
        return list(segments)

    async def greet(self, name: str = "Guest") -> str:
        return f"Hello, {name}!"

    async def typed(self, a: int, b: float = 0.0, c: bool = False,
                    d: list[str] | None = None, e: bytes = b"") -> dict[str, Any]:
        return {"a": a, "b": b, "c": c, "d": d, "e": e.decode("utf-8", "replace")}

    async def upload(self, f: UploadedFile, note: str = "") -> str:
        return f"{f.filename}:{len(await f.read())}:{note}"

    async def uploads(self, files: list[UploadedFile]) -> str:
        return str(sum([len(await f.read()) for f in files]))

    async def form(self) -> dict[str, Any]:
        await self.request.load_form()
        return {"fields": self.request.body_params,
                "files": {n: len(await f.read()) for n, f in self.request.files.items()}}

    async def data(self) -> Any:
        return {"json": self.request.json(), "raw": len(await self.request.body())}

    async def cookies(self) -> dict[str, str]:
        return self.request.cookies

    async def visit(self) -> str:
        self.request.session["n"] = self.request.session.get("n", 0) + 1
        return str(self.request.session["n"])

    async def extra(self, **rest: Any) -> dict[str, str]:
        return {k: type(v).__name__ for k, v in rest.items()}

    def sync(self, x: str = "") -> str:
        return x


@pytest.fixture(scope="module")
def run() -> Iterator[Any]:
    """Run coroutines on one event loop for the module, with the app started once."""
    loop = asyncio.new_event_loop()
    app = Target(body_total_timeout=2, body_timeout=1)
    loop.run_until_complete(app.startup())

    def go(scope: Any, messages: list[Any]) -> None:
        reply = loop.run_until_complete(exchange(app, scope, messages))
        check(reply, messages)

    yield go
    loop.run_until_complete(app.shutdown())
    loop.close()


segment_text = st.text(st.characters(codec="utf-8"), max_size=12)
raw_bytes = st.binary(max_size=64)
header_name = st.one_of(
    st.sampled_from([b"content-type", b"content-length", b"transfer-encoding", b"cookie",
                     b"host", b"origin", b"accept", b"x-forwarded-proto"]),
    st.binary(min_size=1, max_size=12).map(bytes.lower),
)
headers = st.lists(st.tuples(header_name, st.binary(max_size=80)), max_size=8)


@st.composite
def paths(draw: st.DrawFn) -> tuple[str, bytes | None]:
    """A (path, raw_path) pair as a server would give it, or two unrelated values."""
    first = draw(st.sampled_from(HANDLERS))
    rest = draw(st.lists(st.one_of(segment_text.map(str.encode), raw_bytes,
                                   st.sampled_from([b"%2F", b"%2e%2e", b"..", b".", b"%00",
                                                    b"%ff", b"", b"%", b"%2"])), max_size=5))
    raw = b"/" + b"/".join([first.encode(), *rest])
    if draw(st.booleans()):
        raw += b"/"
    path = unquote_to_bytes(raw).decode("utf-8", "replace")
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return path, None
    if choice == 1:
        return draw(st.text(max_size=40)), draw(st.one_of(st.none(), raw_bytes))
    return path, raw


HTTP_VERSIONS = st.sampled_from(["1.0", "1.1", "2", "3"])


@given(method=METHODS, path=paths(), query=st.binary(max_size=200), extra=headers,
       version=HTTP_VERSIONS)
def test_any_path_query_and_headers(run: Any, method: str, path: tuple[str, bytes | None],
                                    query: bytes, extra: list[tuple[bytes, bytes]],
                                    version: str) -> None:
    body = b"" if method in ("GET", "HEAD") else b"x=1"
    run(scope_for(method, path[0], path[1], query, [(b"host", b"fuzz"), *extra], version),
        [{"type": "http.request", "body": body, "more_body": False}])


cookie_pairs = st.lists(
    st.tuples(st.one_of(st.sampled_from(["session_id", "__Host-x", "", "a"]), st.text(max_size=8)),
              st.one_of(st.text(max_size=20), st.just("\\" * 300), st.just('"' + "A" * 43 + '"'))),
    max_size=6,
)


@given(pairs=cookie_pairs, junk=st.binary(max_size=100), path=st.sampled_from(
    ["/cookies", "/visit", "/greet"]))
def test_any_cookie_header(run: Any, pairs: list[tuple[str, str]], junk: bytes, path: str) -> None:
    text = "; ".join(f"{n}={v}" for n, v in pairs).encode("utf-8", "surrogatepass")
    headers = [(b"host", b"fuzz"), (b"cookie", text), (b"cookie", junk)]
    run(scope_for("GET", path, path.encode(), b"", headers),
        [{"type": "http.request", "body": b"", "more_body": False}])


urlencoded = st.one_of(
    st.binary(max_size=300),
    st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d", "e", "name", "note", "f", "x"]),
                       st.text(max_size=10)), max_size=10)
    .map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs).encode()),
)


@given(data=st.data(), body=urlencoded, declare=st.booleans(),
       path=st.sampled_from(["/typed", "/greet", "/upload", "/extra", "/form", "/sync"]))
def test_any_urlencoded_body(run: Any, data: st.DataObject, body: bytes, declare: bool,
                             path: str) -> None:
    messages = data.draw(chunked(body))
    headers = body_headers(b"application/x-www-form-urlencoded", body, declare=declare)
    run(scope_for("POST", path, path.encode(), data.draw(st.binary(max_size=30)), headers),
        messages)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e", "x"]),
                                            inner, max_size=4)),
    max_leaves=20,
)


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=300))
    if kind == 1:
        depth = draw(st.integers(150, 1100))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        inner = b"1" if opener != b"[" else b""
        return opener * depth + inner + closer * depth * draw(st.integers(0, 1))
    body = orjson.dumps(draw(json_values))
    if kind == 3 and body:  # cut or corrupted valid JSON
        cut = draw(st.integers(0, len(body)))
        return body[:cut] + draw(st.binary(max_size=4))
    return body


@given(data=st.data(), body=json_bodies(), declare=st.booleans(),
       ctype=st.sampled_from([b"application/json", b"application/vnd.x+json; charset=utf-8",
                              b"text/plain", b"application/JSON"]),
       path=st.sampled_from(["/typed", "/data", "/extra", "/upload", "/greet"]))
def test_any_json_body(run: Any, data: st.DataObject, body: bytes, declare: bool, ctype: bytes,
                       path: str) -> None:
    messages = data.draw(chunked(body))
    run(scope_for("POST", path, path.encode(), b"", body_headers(ctype, body, declare=declare)),
        messages)


@given(data=st.data(), body=st.binary(max_size=400), framing=st.sampled_from(
       ["length", "chunked", "none"]), ctype=st.binary(max_size=60), version=HTTP_VERSIONS,
       path=st.sampled_from(["/form", "/data", "/typed"]))
def test_any_body_with_any_content_type(run: Any, data: st.DataObject, body: bytes,
                                        framing: str, ctype: bytes, version: str,
                                        path: str) -> None:
    # "none": no Content-Length nor Transfer-Encoding, as HTTP/2 and 3 may send a body.
    messages = data.draw(chunked(body))
    headers = body_headers(ctype, body, declare=framing == "length")
    if framing == "none":
        headers = headers[:2]
    run(scope_for("POST", path, path.encode(), b"", headers, version), messages)
