"""Fixtures shared by every distribution's tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support import RedisServer


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real Redis: ``REDIS_URL`` if set, else a throwaway redis-server."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A throwaway redis-server of this test's own, which the test may stop and restart."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()
