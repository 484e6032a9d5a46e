"""multipart/form-data: boundaries, part counts, headers, preambles and cut bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from micropie_core import App
from micropie_core.testing import TestClient
from tests.core.asgi_helpers import content_type, multipart, part
from tests.security.serving import assert_still_serving

Client = Callable[..., TestClient]


class Site(App):
    async def index(self) -> str:
        return "ok"

    async def form(self) -> dict[str, Any]:
        await self.request.load_form()
        files = {name: len(await f.read()) for name, f in self.request.files.items()}
        return {"fields": self.request.body_params, "files": files}


def post(c: TestClient, body: bytes, ctype: str = content_type()) -> Any:
    return c.post("/form", content=body, headers={"content-type": ctype})


def test_a_hundred_thousand_parts_stop_at_the_part_limit(client: Client) -> None:
    c = client(Site())
    body = multipart(*(part(f"f{i}", "x") for i in range(100_000)))
    response = post(c, body)
    assert response.status_code == 413
    assert "Too many multipart parts (the limit is 1000)" in response.text
    assert_still_serving(c)


def test_too_many_files_is_413(client: Client) -> None:
    c = client(Site(max_files=3))
    body = multipart(*(part(f"f{i}", "x", filename=f"{i}.txt") for i in range(4)))
    assert post(c, body).status_code == 413
    assert_still_serving(c)


def test_a_ten_mib_preamble_is_skipped(client: Client) -> None:
    c = client(Site())
    body = b"p" * (10 << 20) + b"\r\n" + multipart(part("a", "1"))
    assert post(c, body).json() == {"fields": {"a": ["1"]}, "files": {}}
    assert_still_serving(c)


def test_a_file_full_of_near_boundaries_is_kept_intact(client: Client) -> None:
    c = client(Site())
    near = b"\r\n--b0undary-" * 50_000  # the boundary is b0undary-x
    response = post(c, multipart(part("f", near, filename="f.bin")))
    assert response.json() == {"fields": {}, "files": {"f": len(near)}}
    assert_still_serving(c)


@pytest.mark.parametrize(("ctype", "status"), [
    ("multipart/form-data", 400),
    ("multipart/form-data; boundary=", 400),
    ("multipart/form-data; boundary=" + "x" * 71, 400),
    ("multipart/form-data; boundary=a\x7fb", 400),
    ('multipart/form-data; boundary="unterminated', 400),
])
def test_bad_boundaries_are_400(client: Client, ctype: str, status: int) -> None:
    c = client(Site())
    assert post(c, multipart(part("a", "1")), ctype).status_code == status
    assert_still_serving(c)


def test_oversized_and_too_many_part_headers_are_400(client: Client) -> None:
    c = client(Site())
    huge = (b"--b0undary-x\r\nContent-Disposition: form-data; name=\"a\"\r\nX: "
            + b"h" * 10_000 + b"\r\n\r\n1\r\n--b0undary-x--\r\n")
    assert post(c, huge).status_code == 400
    many = (b"--b0undary-x\r\nContent-Disposition: form-data; name=\"a\"\r\n"
            + b"X: 1\r\n" * 100 + b"\r\n1\r\n--b0undary-x--\r\n")
    assert post(c, many).status_code == 400
    assert_still_serving(c)


def test_a_body_cut_anywhere_is_400(client: Client) -> None:
    c = client(Site())
    body = multipart(part("a", "1"), part("f", "data", filename="f.txt"))
    # 0 bytes is no body at all (an empty form); the CRLF after the last boundary is optional.
    for cut in range(1, len(body) - 2):
        response = post(c, body[:cut])
        assert response.status_code == 400, cut
    assert_still_serving(c)


def test_a_part_without_a_name_or_disposition_is_400_or_ignored_never_500(
    client: Client,
) -> None:
    c = client(Site())
    for head in (b"", b"Content-Disposition: attachment\r\n",
                 b"Content-Disposition: form-data\r\n",
                 b"Content-Disposition: form-data; name=\"\xff\"\r\n"):
        body = b"--b0undary-x\r\n" + head + b"\r\nv\r\n--b0undary-x--\r\n"
        assert post(c, body).status_code in (200, 400), head
    assert_still_serving(c)
