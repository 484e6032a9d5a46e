"""UploadedFile: MicroPie's shape, the friendlier API, streaming, bounded memory, cleanup."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from micropie_core import App, ClientDisconnect, UploadedFile
from micropie_core.testing import TestClient
from micropie_core.types import Message
from micropie_core.uploads import SpoolBudget, UploadClosedError
from tests.core.asgi_helpers import (
    BOUNDARY,
    chunks_of,
    content_type,
    drive,
    multipart,
    open_fds,
    part,
    run,
)
from tests.support import UvicornProcess

Client = Callable[..., TestClient]
HEADERS = {"content-type": content_type()}


def test_micropie_dict_shape_and_content_queue(client: Client) -> None:
    class MicroPieStyle(App):
        async def upload(self) -> dict[str, Any]:
            file = self.request.files["doc"]
            chunks = []
            while (chunk := await file["content"].get()) is not None:
                chunks.append(chunk)
            again = await file["content"].get()
            return {"filename": file["filename"], "type": file["content_type"],
                    "data": b"".join(chunks).decode(), "again": again,
                    "keys": list(file.keys()), "has": "filename" in file}

    body = multipart(part("doc", "hello world", "a b.txt", "text/plain"))
    assert client(MicroPieStyle()).post("/upload", content=body, headers=HEADERS).json() == {
        "filename": "a b.txt", "type": "text/plain", "data": "hello world", "again": None,
        "keys": ["filename", "content_type", "content"], "has": True}


def test_micropie_guide_upload_handler_runs_unchanged(client: Client) -> None:
    class Guide(App):
        async def upload(self, file):  # type: ignore[no-untyped-def]  # as in MicroPie's docs
            if not file:
                return 400, "No file uploaded."
            received = bytearray()
            while chunk := await file["content"].get():
                received += chunk
            as_dict = dict(file)
            return 200, (f"Uploaded {file['filename']} ({file.get('content_type')}, "
                         f"{len(received)} bytes, {file.get('missing', '-')}, "
                         f"{sorted(as_dict)})")

    payload = bytes(range(256)) * 1000
    body = multipart(part("file", payload, "photo.png", "image/png"))
    response = client(Guide()).post("/upload", content=chunks_of(body, 4096), headers=HEADERS)
    assert response.text == (
        "Uploaded photo.png (image/png, 256000 bytes, -, "
        "['content', 'content_type', 'filename'])")


def test_content_get_never_gives_an_empty_chunk_before_the_end() -> None:
    # MicroPie's `while chunk := await file["content"].get()` stops at any falsy chunk.
    async def main() -> list[bytes | None]:
        upload = UploadedFile("f", "f.bin", "application/octet-stream", [], SpoolBudget())
        for piece in (b"", b"ab", b"", b"c"):
            upload._feed(piece)
        upload._finish()
        return [await upload.content.get() for _ in range(3)]

    assert run(main()) == [b"ab", b"c", None]


def test_read_iterate_and_save(client: Client, tmp_path: Path) -> None:
    class Friendly(App):
        async def read(self, f: UploadedFile) -> dict[str, Any]:
            return {"data": (await f.read()).decode(), "size": f.size, "done": f.complete}

        async def iterate(self, f: UploadedFile) -> dict[str, Any]:
            return {"chunks": b"".join([c async for c in f]).decode()}

        async def save(self, f: UploadedFile) -> dict[str, Any]:
            written = await f.save(tmp_path / "saved.bin")
            return {"written": written, "filename": f.filename}

    c = client(Friendly())
    body = multipart(part("f", "x" * 70_000 + "end", "../../evil.txt"))
    assert c.post("/read", content=body, headers=HEADERS).json() == {
        "data": "x" * 70_000 + "end", "size": 70_003, "done": True}
    assert c.post("/iterate", content=body, headers=HEADERS).json() == {
        "chunks": "x" * 70_000 + "end"}
    saved = c.post("/save", content=body, headers=HEADERS).json()
    # The client's filename is kept as sent, and never used as a path.
    assert saved == {"written": 70_003, "filename": "../../evil.txt"}
    assert (tmp_path / "saved.bin").read_bytes() == b"x" * 70_000 + b"end"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved.bin"]
    assert not (tmp_path.parent.parent / "evil.txt").exists()


def test_save_interrupted_by_a_disconnect_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "upload.bin"
    saving = asyncio.Event()
    seen: list[str] = []

    class Saves(App):
        async def upload(self, f: UploadedFile) -> str:
            saving.set()
            try:
                await f.save(target)
            except ClientDisconnect:
                seen.append("disconnect")
                raise
            return "saved"  # pragma: no cover - must not happen

    body = multipart(part("f", b"x" * 200_000, "f.bin"))

    async def disconnect_while_saving() -> Message:
        await saving.wait()
        await asyncio.sleep(0.05)  # let save() write what has arrived
        return {"type": "http.disconnect"}

    async def main() -> None:
        steps = [{"type": "http.request", "body": body[:100_000], "more_body": True},
                 disconnect_while_saving]
        await drive(Saves(), "/upload", steps, headers=[("content-type", content_type())])

    run(main())
    assert seen == ["disconnect"]
    assert not target.exists()  # never a truncated file that looks like an upload


def test_missing_content_type_is_octet_stream(client: Client) -> None:
    class Types(App):
        async def kind(self, f: UploadedFile) -> str:
            return f.content_type

    body = multipart(part("f", "x", "x.bin"))
    assert client(Types()).post("/kind", content=body, headers=HEADERS).text == (
        "application/octet-stream")


def test_repeated_file_names_keep_every_file(client: Client) -> None:
    class Many(App):
        async def first(self) -> str:
            return self.request.files["f"].filename  # type: ignore[no-any-return]

        async def names(self) -> list[str]:
            await self.request.load_form()
            return [f.filename for f in self.request.files.getlist("f")]

        async def bound(self, f: list[UploadedFile]) -> list[list[str]]:
            return [[u.filename, (await u.read()).decode()] for u in f]

    c = client(Many())
    body = multipart(part("f", "1", "one.txt"), part("g", "x", "g.txt"), part("f", "2", "two.txt"))
    assert c.post("/first", content=body, headers=HEADERS).text == "one.txt"
    assert c.post("/names", content=body, headers=HEADERS).json() == ["one.txt", "two.txt"]
    assert c.post("/bound", content=body, headers=HEADERS).json() == [
        ["one.txt", "1"], ["two.txt", "2"]]


def test_uploaded_file_parameters_bind_from_files_only(client: Client) -> None:
    class Strict(App):
        async def one(self, f: UploadedFile) -> str:
            return f.filename

        async def optional(self, f: UploadedFile | None = None) -> str:
            return "none" if f is None else f.filename

        async def loose(self, f: Any) -> str:
            return type(f).__name__

    c = client(Strict())
    text = c.post("/one", content=multipart(part("f", "just text")), headers=HEADERS)
    assert text.status_code == 400
    assert "'f': expected UploadedFile" in text.text
    assert c.post("/one?f=x", content=multipart(part("g", "1", "g.txt")),
                  headers=HEADERS).status_code == 400
    missing = c.post("/one", content=multipart(part("a", "1")), headers=HEADERS)
    assert missing.status_code == 400 and "Missing required parameter 'f'" in missing.text
    assert c.post("/optional", content=multipart(part("a", "1")), headers=HEADERS).text == "none"
    assert c.post("/loose", content=multipart(part("f", "1", "f.txt")),
                  headers=HEADERS).text == "UploadedFile"


def test_a_file_sent_for_a_converted_parameter_is_a_400_not_a_500(client: Client) -> None:
    class Typed(App):
        async def double(self, n: int) -> str:
            return str(n * 2)

        async def blob(self, data: bytes) -> str:
            return str(len(data))

        async def tags(self, tag: list[str]) -> list[str]:
            return tag

    c = client(Typed())
    for path, name, expected in (("/double", "n", "int"), ("/blob", "data", "bytes"),
                                 ("/tags", "tag", "list[str]")):
        response = c.post(path, content=multipart(part(name, "21", "x.txt")), headers=HEADERS)
        assert response.status_code == 400, (path, response.text)
        assert f"'{name}': expected {expected}" in response.text
        assert "got a file" in response.text
    # Text under the same name still binds.
    assert c.post("/double", content=multipart(part("n", "21")), headers=HEADERS).text == "42"


def test_handler_reads_the_file_before_the_body_has_arrived() -> None:
    first_chunk = asyncio.Event()
    payload = b"a" * 40_000 + b"b" * 40_000

    class Early(App):
        async def stream(self, f: UploadedFile) -> str:
            chunk = await f.read_chunk()
            assert chunk
            first_chunk.set()
            return str(len(chunk + await f.read()))

    body = multipart(part("f", payload, "f.bin"))
    split = body.index(b"b" * 100)

    async def rest_after_the_handler_started() -> Message:
        # Deadlocks (and times out) unless the handler already got bytes.
        await asyncio.wait_for(first_chunk.wait(), 5)
        return {"type": "http.request", "body": body[split:], "more_body": False}

    async def main() -> None:
        steps = [{"type": "http.request", "body": body[:split], "more_body": True},
                 rest_after_the_handler_started]
        result = await drive(Early(), "/stream", steps, headers=[("content-type", content_type())])
        assert (result.status, result.text) == (200, str(len(payload)))

    run(main())


async def _generated_upload(size: int, after: bytes = b"") -> AsyncIterator[Message]:
    """A multipart body of ``size`` file bytes, made as it is sent (never held whole)."""
    head = part("f", b"", "big.bin")[:-2]  # headers, no payload, no CRLF
    yield {"type": "http.request", "body": head, "more_body": True}
    block = bytes(range(256)) * 256  # 64 KiB
    sent = 0
    while sent < size:
        piece = block[: min(len(block), size - sent)]
        sent += len(piece)
        yield {"type": "http.request", "body": piece, "more_body": True}
        await asyncio.sleep(0)
    tail = b"\r\n" + after + f"--{BOUNDARY}--\r\n".encode()
    yield {"type": "http.request", "body": tail, "more_body": False}


def _peak_during(
    coroutine_factory: Callable[[], Any], warm_up: Callable[[], Any]
) -> tuple[Any, int]:
    """Run the coroutine; return its result and the peak of memory allocated meanwhile.

    ``warm_up`` runs first, unmeasured: a first request pays for one-time
    imports and caches.
    """

    async def main() -> tuple[Any, int]:
        await warm_up()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            result = await coroutine_factory()
            return result, tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()

    return run(main())  # type: ignore[no-any-return]


@pytest.mark.parametrize("style", ["field-after-file", "load-form-first", "never-reads"])
def test_memory_stays_bounded_whatever_the_handler_does(style: str) -> None:
    size = 24 * 1024 * 1024
    digest: list[int] = []
    fds_in_handler: list[int] = []

    class Lazy(App):
        _max_body_size = {"upload": None}

        async def upload(self, f: UploadedFile, note: str = "") -> str:
            if style == "load-form-first":
                await self.request.load_form()
                note = self.request.form("note") or ""
            if style == "never-reads":
                return note
            fds_in_handler.append(open_fds())
            total = 0
            async for chunk in f:
                total += len(chunk)
            digest.append(total)
            return note

    async def warm_up() -> None:
        await drive(Lazy(), "/upload", _generated_upload(2 * 1024 * 1024, part("note", "late")),
                    headers=[("content-type", content_type())])
        digest.clear()
        fds_in_handler.clear()

    async def go() -> Any:
        before = open_fds()
        result = await drive(Lazy(), "/upload", _generated_upload(size, part("note", "late")),
                             headers=[("content-type", content_type())])
        return result, before, open_fds()

    (result, before, after), peak = _peak_during(go, warm_up)
    assert (result.status, result.text) == (200, "late")
    assert peak < 4 * 1024 * 1024, f"{peak / 2**20:.1f} MiB allocated for a 24 MiB upload"
    assert after == before  # the temporary file is gone
    if style != "never-reads":
        assert digest == [size]
        assert fds_in_handler[0] == before + 1  # the file waited on disk, not in memory


def test_temp_files_are_removed_when_the_handler_fails(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    class Fails(App):
        async def upload(self, f: UploadedFile, after: str) -> str:
            raise RuntimeError(f"boom after {after}")

    body = multipart(part("f", b"z" * (3 * 1024 * 1024), "f.bin"), part("after", "x"))
    c = client(Fails(max_body_size=None))
    before = open_fds()
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = c.post("/upload", content=chunks_of(body, 65536), headers=HEADERS)
    assert response.status_code == 500 and "boom after x" in caplog.text
    assert open_fds() == before


def test_reading_an_upload_after_the_request_is_a_clear_error(client: Client) -> None:
    kept: list[UploadedFile] = []

    class Keeps(App):
        async def upload(self, f: UploadedFile) -> str:
            kept.append(f)
            return "later"

    c = client(Keeps())
    assert c.post("/upload", content=multipart(part("f", "x", "f.bin")),
                  headers=HEADERS).text == "later"
    with pytest.raises(UploadClosedError, match="read uploads inside the handler"):
        c.run(kept[0].read())


def test_load_form_after_the_request_ended_is_a_clear_error_not_a_hang() -> None:
    outcome: list[str] = []

    class Later(App):
        async def upload(self, f: UploadedFile) -> Any:
            request = self.request

            async def body() -> AsyncIterator[str]:
                yield "started"
                try:
                    await asyncio.wait_for(request.load_form(), 5)
                except Exception as exc:
                    outcome.append(type(exc).__name__)

            return body()

    body = multipart(part("f", "x", "f.bin"), part("late", "v"))
    split = body.index(b"late")

    async def never_sent() -> Message:
        await asyncio.sleep(30)
        return {"type": "http.disconnect"}

    async def main() -> None:
        steps = [{"type": "http.request", "body": body[:split], "more_body": True}, never_sent]
        result = await drive(Later(), "/upload", steps, headers=[("content-type", content_type())])
        assert result.text == "started"

    run(main())
    assert outcome == ["UploadClosedError"]


def test_sync_handlers_get_the_whole_form(client: Client) -> None:
    class Sync(App):
        def upload(self) -> dict[str, Any]:
            files = self.request.files
            return {"thread": threading.current_thread() is not threading.main_thread(),
                    "form": self.request.body_params, "files": sorted(files),
                    "sizes": [f.size for f in files.getlist("f")]}

    body = multipart(part("f", "1" * 100, "a.txt"), part("f", "2" * 50, "b.txt"), part("a", "z"))
    assert client(Sync()).post("/upload", content=body, headers=HEADERS).json() == {
        "thread": True, "form": {"a": ["z"]}, "files": ["f"], "sizes": [100, 50]}


def test_many_files_are_spooled_within_one_budget(client: Client) -> None:
    class Last(App):
        async def upload(self, last: str) -> list[int]:
            return [len(await f.read()) for f in self.request.files.all()]

    body = multipart(*(part(f"f{i}", bytes([i]) * 300_000, f"{i}.bin") for i in range(10)),
                     part("last", "x"))
    c = client(Last(max_body_size=None))
    response = c.post("/upload", content=chunks_of(body, 65536), headers=HEADERS)
    assert response.json() == [300_000] * 10


UPLOAD_APP = '''
import os
from pathlib import Path

from micropie_core import App, ClientDisconnect, UploadedFile

OUT = Path(os.environ["UPLOAD_OUT"])


class Uploads(App):
    _max_body_size = {"upload": None}

    async def upload(self, f: UploadedFile):
        try:
            size = await f.save(OUT / "data.bin")
        except BaseException as exc:
            (OUT / "error").write_text(type(exc).__name__)
            raise
        return str(size)


app = Uploads()
'''


def test_real_client_upload_and_disconnect_mid_upload(tmp_path: Path) -> None:
    (tmp_path / "upload_app.py").write_text(UPLOAD_APP)
    out = tmp_path / "out"
    out.mkdir()
    block = bytes(range(256)) * 1024  # 256 KiB

    def body(blocks: int, fail_after: int | None = None) -> Iterator[bytes]:
        yield part("f", b"", "big.bin")[:-2]
        for i in range(blocks):
            if i == fail_after:
                raise ConnectionAbortedError("client gives up")
            yield block
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    server = UvicornProcess("upload_app:app", tmp_path, env={"UPLOAD_OUT": str(out)})
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=10) as http:
            response = http.post("/upload", content=body(40), headers=HEADERS)
            assert response.text == str(40 * len(block))
            assert (out / "data.bin").read_bytes() == block * 40
            with pytest.raises(ConnectionAbortedError):
                http.post("/upload", content=body(40, fail_after=20), headers=HEADERS)
        deadline = time.monotonic() + 5
        while not (out / "error").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (out / "error").read_text() == "ClientDisconnect"
    finally:
        output = server.stop()
    assert "Traceback" not in output and "never retrieved" not in output, output


def test_a_slowly_draining_handler_pauses_the_client_instead_of_buffering() -> None:
    size = 4 * 1024 * 1024
    spooled: list[bool] = []

    class Slow(App):
        _max_body_size = {"upload": None}

        async def upload(self, f: UploadedFile) -> str:
            total = 0
            async for chunk in f:
                total += len(chunk)
                spooled.append(f._file is not None)
                await asyncio.sleep(0.005)  # a slow consumer, but an active one
            return str(total)

    async def go() -> Any:
        return await drive(Slow(), "/upload", _generated_upload(size),
                           headers=[("content-type", content_type())])

    async def warm_up() -> None:
        await drive(Slow(), "/upload", _generated_upload(64 * 1024),
                    headers=[("content-type", content_type())])

    result, peak = _peak_during(go, warm_up)
    assert (result.status, result.text) == (200, str(size))
    assert peak < 3 * 1024 * 1024, f"{peak / 2**20:.1f} MiB allocated"
    assert not any(spooled)  # backpressure: nothing had to wait on disk


def test_limits_must_be_positive_integers() -> None:
    for name in ("max_files", "max_field_size", "max_part_header_size", "max_part_headers"):
        options: dict[str, Any] = {name: 0}
        with pytest.raises(ValueError, match=name):
            App(**options)
