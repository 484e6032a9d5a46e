"""multipart/form-data parsing: limits, malformed bodies, cut bodies, disconnects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from micropie_core import App, ClientDisconnect, HTTPError, UploadedFile
from micropie_core.testing import TestClient
from tests.core.asgi_helpers import (
    BOUNDARY,
    body_messages,
    chunks_of,
    content_type,
    disconnect,
    drive,
    multipart,
    open_fds,
    part,
    run,
)

Client = Callable[..., TestClient]


class Forms(App):
    _max_body_size = {"big": 1 << 20}

    async def echo(self) -> dict[str, Any]:
        await self.request.load_form()
        files = {name: [[f.filename, f.content_type, (await f.read()).decode()]
                        for f in self.request.files.getlist(name)]
                 for name in self.request.files}
        return {"form": self.request.body_params, "files": files}

    async def bound(self, a: str, f: UploadedFile, b: str = "-") -> dict[str, Any]:
        return {"a": a, "f": (await f.read()).decode(), "b": b}

    async def big(self) -> dict[str, Any]:
        return await self.echo()


BODY = multipart(part("a", "1"), part("f", "file body", "f.txt", "text/plain"), part("b", "2"))
EXPECTED = {"form": {"a": ["1"], "b": ["2"]},
            "files": {"f": [["f.txt", "text/plain", "file body"]]}}


def post(c: TestClient, path: str, body: bytes, ctype: str = content_type()) -> Any:
    return c.post(path, content=body, headers={"content-type": ctype})


def test_fields_and_files_are_parsed_and_bound(client: Client) -> None:
    c = client(Forms())
    assert post(c, "/echo", BODY).json() == EXPECTED
    assert post(c, "/bound", BODY).json() == {"a": "1", "f": "file body", "b": "2"}


def test_quoted_and_unquoted_boundaries(client: Client) -> None:
    c = client(Forms())
    weird = "a'()+_,-./:=? z"  # every RFC 2046 bchar class, a space inside
    body = multipart(part("a", "1", boundary=weird), boundary=weird)
    response = post(c, "/echo", body, f'multipart/form-data; boundary="{weird}"')
    assert response.json()["form"] == {"a": ["1"]}
    response = post(c, "/echo", multipart(part("a", "2")),
                    f"multipart/form-data; charset=utf-8; boundary={BOUNDARY}")
    assert response.json()["form"] == {"a": ["2"]}


@pytest.mark.parametrize(
    ("ctype", "detail"),
    [
        ("multipart/form-data", "without a boundary"),
        ("multipart/form-data; boundary=", "Empty multipart boundary"),
        ('multipart/form-data; boundary=""', "Empty multipart boundary"),
        ("multipart/form-data; boundary=" + "x" * 71, "longer than 70"),
        ("multipart/form-data; boundary=a@b", "Invalid characters"),
        ('multipart/form-data; boundary="ends with space "', "Invalid characters"),
    ],
)
def test_bad_boundaries_are_400(client: Client, ctype: str, detail: str) -> None:
    response = post(client(Forms()), "/echo", BODY, ctype)
    assert response.status_code == 400
    assert detail in response.text


def test_boundary_of_70_characters_is_accepted(client: Client) -> None:
    boundary = "y" * 70
    body = multipart(part("a", "1", boundary=boundary), boundary=boundary)
    response = post(client(Forms()), "/echo", body, content_type(boundary))
    assert response.json()["form"] == {"a": ["1"]}


def test_part_header_size_and_count_limits_are_400(client: Client) -> None:
    c = client(Forms(max_part_header_size=200, max_part_headers=3))
    long_header = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n"
                   f"X-Long: {'h' * 200}\r\n\r\nv\r\n").encode()
    response = post(c, "/echo", multipart(long_header))
    assert response.status_code == 400 and "header" in response.text
    many = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n"
            + "".join(f"X-{i}: v\r\n" for i in range(3)) + "\r\nv\r\n").encode()
    response = post(c, "/echo", multipart(many))
    assert response.status_code == 400 and "header count" in response.text
    fine = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n"
            + "".join(f"X-{i}: v\r\n" for i in range(2)) + "\r\nv\r\n").encode()
    assert post(c, "/echo", multipart(fine)).json()["form"] == {"a": ["v"]}


def test_default_part_header_limits(client: Client) -> None:
    c = client(Forms())
    nine = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n"
            + "".join(f"X-{i}: v\r\n" for i in range(8)) + "\r\nv\r\n").encode()
    assert post(c, "/echo", multipart(nine)).status_code == 400
    huge = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n"
            f"X-Long: {'h' * 4200}\r\n\r\nv\r\n").encode()
    assert post(c, "/echo", multipart(huge)).status_code == 400


def test_part_and_file_counts_are_413(client: Client) -> None:
    c = client(Forms(max_form_fields=3, max_files=2))
    three = multipart(part("a", "1"), part("b", "2"), part("c", "3"))
    assert post(c, "/echo", three).status_code == 200
    four = multipart(part("a", "1"), part("b", "2"), part("c", "3"), part("d", "4"))
    response = post(c, "/echo", four)
    assert response.status_code == 413 and "parts (the limit is 3)" in response.text
    files = multipart(*(part("f", "x", f"{i}.txt") for i in range(3)))
    response = post(c, "/echo", files)
    assert response.status_code == 413 and "files (the limit is 2)" in response.text


def test_default_part_and_file_counts(client: Client) -> None:
    c = client(Forms())
    assert post(c, "/echo", multipart(*(part("a", "1") for _ in range(1000)))).status_code == 200
    assert post(c, "/echo", multipart(*(part("a", "1") for _ in range(1001)))).status_code == 413
    ok = multipart(*(part("f", "x", "x.txt") for _ in range(100)))
    assert post(c, "/echo", ok).status_code == 200
    over = multipart(*(part("f", "x", "x.txt") for _ in range(101)))
    assert post(c, "/echo", over).status_code == 413


def test_text_field_size_is_413_and_file_size_is_not_limited_by_it(client: Client) -> None:
    c = client(Forms(max_field_size=10))
    assert post(c, "/echo", multipart(part("a", "x" * 10))).json()["form"] == {"a": ["x" * 10]}
    response = post(c, "/echo", multipart(part("a", "x" * 11)))
    assert response.status_code == 413 and "'a' is larger than the limit of 10" in response.text
    big_file = post(c, "/echo", multipart(part("f", "x" * 1000, "f.bin")))
    assert big_file.status_code == 200


def test_default_text_field_limit_is_one_mib(client: Client) -> None:
    c = client(Forms())
    assert post(c, "/echo", multipart(part("a", "x" * (1 << 20)))).status_code == 200
    assert post(c, "/echo", multipart(part("a", "x" * ((1 << 20) + 1)))).status_code == 413


def test_body_size_limit_declared_and_counted(client: Client) -> None:
    app = Forms(max_body_size=100)
    c = client(app)
    body = multipart(part("f", "x" * 200, "f.bin"))
    assert post(c, "/echo", body).status_code == 413  # Content-Length checked first
    chunked = c.post("/echo", content=chunks_of(body, 30),
                     headers={"content-type": content_type()})
    assert chunked.status_code == 413  # no Content-Length: bytes counted
    assert post(c, "/big", body).json()["files"]["f"][0][2] == "x" * 200  # per-handler limit


def test_body_limit_reached_while_the_handler_reads_is_413(client: Client) -> None:
    class Reader(App):
        async def read(self, f: UploadedFile) -> str:
            return str(len(await f.read()))

    body = multipart(part("f", "x" * 5000, "f.bin"))
    response = client(Reader(max_body_size=1000)).post(
        "/read", content=chunks_of(body, 100), headers={"content-type": content_type()})
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        b"no boundary anywhere",
        multipart(part("a", "1"))[:-4],  # no final boundary
        f"--{BOUNDARY}\r\nX-Other: 1\r\n\r\nv\r\n--{BOUNDARY}--\r\n".encode(),
        f"--{BOUNDARY}\r\nContent-Disposition: attachment; name=a\r\n\r\nv\r\n--{BOUNDARY}--"
        .encode(),
        f"--{BOUNDARY}\r\nno colon here\r\n\r\nv\r\n--{BOUNDARY}--\r\n".encode(),
        f"--{BOUNDARY}\nContent-Disposition: form-data; name=a\n\nv\n--{BOUNDARY}--\n".encode(),
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--{BOUNDARY}xx"
        .encode(),
    ],
    ids=["garbage", "unterminated", "no-disposition", "not-form-data", "bad-header",
         "bare-newlines", "junk-after-boundary"],
)
def test_malformed_bodies_are_400(client: Client, body: bytes) -> None:
    response = post(client(Forms()), "/echo", body)
    assert response.status_code == 400
    assert "multipart" in response.text


def test_undecodable_part_header_is_a_plain_400(client: Client) -> None:
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"".encode() + b"\xff\xfe"
            + f"\"\r\n\r\nv\r\n--{BOUNDARY}--\r\n".encode())
    response = post(client(Forms()), "/echo", body)
    assert response.status_code == 400
    assert response.text == (
        "400 Bad Request: Malformed multipart body: Segment header failed to decode")


def test_body_cut_at_every_offset_is_400_and_complete_body_the_same_result() -> None:
    app = Forms()
    end = len(BODY) - 2  # the final CRLF after "--boundary--" is optional

    async def main() -> None:
        async with TestClient(app) as c:
            headers = {"content-type": content_type()}
            # cut 0 is an empty body (Content-Length: 0), which is an empty form
            for cut in range(1, len(BODY) + 1):
                for path in ("/echo", "/bound"):
                    response = await c.arequest("POST", path, content=BODY[:cut],
                                                headers=headers)
                    if cut < end:
                        assert response.status_code == 400, (cut, path, response.text)
                    elif path == "/echo":
                        assert response.json() == EXPECTED, cut
                    else:
                        assert response.json() == {"a": "1", "f": "file body", "b": "2"}

    run(main())


def test_body_in_one_byte_messages_gives_the_same_result() -> None:
    async def main() -> None:
        for path in ("/echo", "/bound"):
            whole = await drive(Forms(), path, body_messages([BODY]),
                                headers=[("content-type", content_type())])
            bytewise = await drive(Forms(), path, body_messages(chunks_of(BODY, 1)),
                                   headers=[("content-type", content_type())])
            assert whole.status == bytewise.status == 200
            assert whole.body == bytewise.body

    run(main())


def test_disconnect_mid_part_reaches_the_handler_as_an_error() -> None:
    seen: list[str] = []
    reading = asyncio.Event()

    class Reader(App):
        async def read(self, f: UploadedFile) -> str:
            reading.set()
            try:
                await f.read()
            except ClientDisconnect:
                seen.append("disconnect")
                raise
            return "read it all"  # pragma: no cover - must not happen

    body = multipart(part("a", "1"), part("f", "x" * 100_000, "f.bin"), part("b", "2"))

    async def main() -> None:
        before = open_fds()
        async def disconnect_while_reading() -> Any:
            await reading.wait()
            return await disconnect()

        steps = [*body_messages(chunks_of(body[:70_000], 10_000))[:-1], disconnect_while_reading]
        result = await drive(Reader(), "/read", steps,
                             headers=[("content-type", content_type())])
        assert result.status == 0 and not result.messages  # nothing sent to a gone client
        assert open_fds() == before

    run(main())
    assert seen == ["disconnect"]


def test_disconnect_before_the_first_file_never_runs_the_handler() -> None:
    called: list[str] = []

    class Never(App):
        async def read(self, a: str = "") -> str:
            called.append(a)
            return a

    body = multipart(part("a", "1" * 5000), part("f", "x", "f.bin"))

    async def main() -> None:
        steps = [{"type": "http.request", "body": body[:200], "more_body": True}, disconnect]
        result = await drive(Never(), "/read", steps, headers=[("content-type", content_type())])
        assert result.status == 0

    run(main())
    assert called == []


def test_stalled_upload_times_out_with_408() -> None:
    class Reader(App):
        async def read(self, f: UploadedFile) -> str:
            return str(len(await f.read()))

    body = multipart(part("f", "x" * 1000, "f.bin"))

    async def stall() -> Any:
        await asyncio.sleep(60)

    async def main() -> None:
        for cut in (20, 400):  # before the file's headers, then inside the file
            steps = [{"type": "http.request", "body": body[:cut], "more_body": True}, stall]
            result = await drive(Reader(body_timeout=0.2), "/read", steps,
                                 headers=[("content-type", content_type())])
            assert result.status == 408, cut

    run(main())


def test_errors_after_dispatch_reach_load_form() -> None:
    started = asyncio.Event()

    class Loader(App):
        async def load(self) -> str:
            started.set()
            try:
                await self.request.load_form()
            except HTTPError as exc:
                return f"caught {exc.status_code}"
            return "complete"  # pragma: no cover

    head = part("f", "x", "f.bin")
    rest = multipart(part("a", "x" * 50))

    async def after_dispatch() -> Any:
        await started.wait()
        return {"type": "http.request", "body": rest, "more_body": False}

    async def main() -> None:
        steps = [{"type": "http.request", "body": head, "more_body": True}, after_dispatch]
        result = await drive(Loader(max_field_size=10), "/load", steps,
                             headers=[("content-type", content_type())])
        assert result.text == "caught 413"

    run(main())
