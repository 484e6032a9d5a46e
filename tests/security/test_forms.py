"""urlencoded forms: field counts, odd encodings and names never cost a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from micropie_core import App
from micropie_core.testing import TestClient
from tests.security.serving import assert_still_serving

Client = Callable[..., TestClient]
FORM = {"content-type": "application/x-www-form-urlencoded"}


class Site(App):
    async def index(self) -> str:
        return "ok"

    async def fields(self) -> dict[str, Any]:
        return self.request.body_params

    async def greet(self, name: str = "Guest", age: int = 0) -> str:
        return f"{name} {age}"


def test_more_fields_than_the_limit_is_413(client: Client) -> None:
    c = client(Site(max_form_fields=100))
    body = "&".join(f"f{i}=v" for i in range(100_000)).encode()
    response = c.post("/fields", content=body, headers=FORM)
    assert response.status_code == 413
    assert "Too many form fields" in response.text
    assert_still_serving(c)


@pytest.mark.parametrize("body", [
    b"%", b"%zz=%", b"a=%ff%fe", b"%00=%00", b"==&&==", b"a=" + b"%" * 10_000,
    b"\xff\xfe=\x00", b"+" * 10_000,
])
def test_odd_encodings_parse_without_error(client: Client, body: bytes) -> None:
    c = client(Site())
    response = c.post("/fields", content=body, headers=FORM)
    assert response.status_code == 200
    assert isinstance(response.json(), dict)
    assert_still_serving(c)


def test_blank_values_are_omitted_so_defaults_apply(client: Client) -> None:
    c = client(Site())
    assert c.post("/greet", content=b"name=&age", headers=FORM).text == "Guest 0"
    assert c.post("/greet", content=b"name=Ann&age=x", headers=FORM).status_code == 400


def test_a_huge_field_name_and_value_are_kept_within_the_body_limit(client: Client) -> None:
    c = client(Site(max_body_size=1 << 20))
    body = b"n" * 500_000 + b"=" + b"v" * 500_000
    assert c.post("/fields", content=body, headers=FORM).json() == {"n" * 500_000: ["v" * 500_000]}
    assert_still_serving(c)
