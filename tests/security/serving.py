"""What every attack test checks last: the app still answers a normal request."""

from __future__ import annotations

from micropie_core.testing import TestClient


def assert_still_serving(client: TestClient, path: str = "/", text: str = "ok") -> None:
    """A plain GET after the attack gets its normal 200 answer."""
    response = client.get(path)
    assert (response.status_code, response.text) == (200, text)
