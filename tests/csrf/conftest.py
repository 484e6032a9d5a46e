"""A browser-like client for the CSRF tests: HTTPS, and the Origin a same-site form sends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from micropie_core.testing import TestClient, TestResponse

SITE = "https://testserver"


class Browser:
    """A browser (its own cookie jar) on https://testserver; unsafe requests carry ``Origin``.

    Browsers of one app share its TestClient (one event loop, as a server has),
    each with its own cookies.
    """

    def __init__(self, client: TestClient) -> None:
        self._client = client
        self.cookies: dict[str, str] = {}

    @property
    def client(self) -> TestClient:
        """The app's TestClient, holding this browser's cookies."""
        self._client.cookies = self.cookies
        return self._client

    def token(self) -> str:
        return self.client.get("/form").text

    def post(self, path: str, *, origin: str | None = SITE, **options: Any) -> TestResponse:
        headers = dict(options.pop("headers", {}))
        if origin is not None:
            headers["origin"] = origin
        return self.client.request(options.pop("method", "POST"), path, headers=headers,
                                   **options)


@pytest.fixture
def browser() -> Iterator[Callable[..., Browser]]:
    """``browser(app)``: a new browser (its own cookie jar) for ``app``."""
    made: dict[tuple[int, str], TestClient] = {}

    def make(app: Any, base_url: str = SITE) -> Browser:
        key = (id(app), base_url)
        if key not in made:
            made[key] = TestClient(app, base_url).__enter__()
        return Browser(made[key])

    yield make
    for client in made.values():
        client.close()
