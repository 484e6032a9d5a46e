"""pytest plugin (entry point ``pytest11``): the ``client`` fixture factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .testing import TestClient
from .types import ASGIApp


@pytest.fixture
def client() -> Iterator[Callable[..., TestClient]]:
    """``client(app, **options)`` returns a started :class:`TestClient`.

    Every client made through the factory is closed (lifespan shutdown) when the
    test ends.
    """
    made: list[TestClient] = []

    def make(app: ASGIApp, **options: Any) -> TestClient:
        test_client = TestClient(app, **options).__enter__()
        made.append(test_client)
        return test_client

    yield make
    for test_client in reversed(made):
        test_client.close()
