"""Property-based tests of the streaming multipart parser (``micropie_core/multipart.py``).

Generated forms (random boundaries, names, filenames, part headers and
payloads that contain near-boundaries) are sent in random chunks:

- a complete body parses back to exactly the fields and files that were sent;
- a body cut at any offset before its final boundary is a 400 (never a partial
  form that looks complete), a disconnect is never a 500;
- arbitrary bytes after a valid boundary line are a 400 or a form, never a 500.

Profiles and the command for thousands of examples: see ``test_fuzz_asgi.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from micropie_core import App
from tests.security.fuzzing import body_headers, check, chunked, exchange, scope_for

MAX_PART_HEADERS = 4
BOUNDARY_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=?"


class Forms(App):
    async def form(self) -> dict[str, Any]:
        await self.request.load_form()
        files = {name: [[f.filename, f.content_type, (await f.read()).hex()]
                        for f in self.request.files.getlist(name)]
                 for name in self.request.files}
        return {"fields": self.request.body_params, "files": files}


@pytest.fixture(scope="module")
def send() -> Iterator[Any]:
    loop = asyncio.new_event_loop()
    app = Forms(body_total_timeout=2, body_timeout=1, max_part_headers=MAX_PART_HEADERS)
    loop.run_until_complete(app.startup())

    def go(body: bytes, boundary: str, messages: list[Any], declare: bool) -> tuple[int, Any]:
        ctype = f"multipart/form-data; boundary={boundary}".encode()
        headers = body_headers(ctype, body, declare=declare)
        reply = loop.run_until_complete(
            exchange(app, scope_for("POST", "/form", b"/form", b"", headers), messages))
        check(reply, messages)
        payload = orjson.loads(bytes(reply.body)) if reply.status == 200 else None
        return reply.status or 0, payload

    yield go
    loop.run_until_complete(app.shutdown())
    loop.close()


boundaries = st.text(BOUNDARY_CHARS, min_size=1, max_size=70).filter(
    lambda b: not b.endswith(" "))
names = st.text(st.characters(codec="utf-8", exclude_characters='"\\\r\n\x00'),
                min_size=1, max_size=10)


@st.composite
def forms(draw: st.DrawFn) -> tuple[str, bytes, dict[str, Any] | None]:
    """A boundary, a body and the result the app must report (``None``: a 400).

    Parts carry random extra header lines; more than ``MAX_PART_HEADERS`` in a
    part must be refused.
    """
    boundary = draw(boundaries)
    near = f"\r\n--{boundary[:-1]}".encode()
    payload = st.one_of(st.binary(max_size=200), st.just(near), st.just(b"\r\n--"),
                        st.binary(max_size=20).map(lambda b: b + near + b))
    extra_header = st.tuples(st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
                             .filter(lambda n: n.lower() not in ("content-disposition",
                                                                 "content-type")),
                             st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e),
                                     max_size=30))
    parts = draw(st.lists(st.tuples(names, st.one_of(st.none(), names), payload,
                                    st.sampled_from([None, "text/plain", "x/y; a=b"]),
                                    st.lists(extra_header, max_size=3)),
                          max_size=6))
    body = bytearray()
    fields: dict[str, list[str]] = {}
    files: dict[str, list[list[str]]] = {}
    delimiter = f"\r\n--{boundary}".encode()
    too_many_headers = False
    for name, filename, data, ctype, extra in parts:
        if delimiter in b"\r\n" + data + b"\r\n":
            continue  # a payload holding the delimiter itself would end its part there
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if ctype:
            body += f"Content-Type: {ctype}\r\n".encode()
        for header, value in extra:
            body += f"{header}: {value}\r\n".encode()
        too_many_headers |= 1 + bool(ctype) + len(extra) > MAX_PART_HEADERS
        body += b"\r\n" + data + b"\r\n"
        if filename is None:
            fields.setdefault(name, []).append(data.decode("utf-8", "replace"))
        else:
            files.setdefault(name, []).append(
                [filename, ctype or "application/octet-stream", data.hex()])
    body += f"--{boundary}--\r\n".encode()
    return boundary, bytes(body), None if too_many_headers else {"fields": fields,
                                                                 "files": files}


@given(form=forms(), data=st.data(), declare=st.booleans())
def test_a_complete_form_parses_back_to_what_was_sent(
    send: Any, form: tuple[str, bytes, dict[str, Any] | None], data: st.DataObject,
    declare: bool,
) -> None:
    boundary, body, expected = form
    messages = data.draw(chunked(body, allow_disconnect=False))
    status, payload = send(body, boundary, messages, declare)
    if len(body) <= len(boundary) + 6:  # no part at all: "--b--\r\n" is an empty form
        assert status in (200, 400)
        return
    if expected is None:
        assert status == 400
    else:
        assert (status, payload) == (200, expected)


@given(form=forms(), data=st.data(), declare=st.booleans())
def test_a_cut_body_is_400_never_a_partial_form(
    send: Any, form: tuple[str, bytes, dict[str, Any] | None], data: st.DataObject,
    declare: bool,
) -> None:
    boundary, body, _ = form
    end = body.rindex(f"--{boundary}--".encode())
    cut = data.draw(st.integers(1, end + len(boundary) + 3))  # before the final "--"
    truncated = body[:cut]
    messages = data.draw(chunked(truncated))
    status, _ = send(truncated, boundary, messages, declare)
    if not any(m["type"] == "http.disconnect" for m in messages):
        assert status == 400


@given(boundary=boundaries, junk=st.binary(max_size=300), data=st.data(),
       declare=st.booleans())
def test_arbitrary_bytes_after_a_boundary_are_never_a_500(
    send: Any, boundary: str, junk: bytes, data: st.DataObject, declare: bool
) -> None:
    body = f"--{boundary}\r\n".encode() + junk
    messages = data.draw(chunked(body))
    status, _ = send(body, boundary, messages, declare)
    assert status in (0, 200, 400, 413)
