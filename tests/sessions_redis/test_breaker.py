"""The circuit breaker of the Redis store (micropie_sessions_redis/breaker.py)."""

from __future__ import annotations

import pytest
from micropie_sessions_redis import CircuitBreaker
from micropie_sessions_redis.breaker import CircuitOpen
from micropie_sessions_redis.store import describe_url


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_on_failure_lets_one_probe_through_and_closes_on_success() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(2.0, clock=clock)
    assert breaker.before_call() is False  # closed: ordinary call
    breaker.failed(False, ConnectionError("refused"))
    assert breaker.is_open
    with pytest.raises(CircuitOpen, match=r"for 2\.00 s after: ConnectionError: refused"):
        breaker.before_call()
    clock.now += 2.0
    assert breaker.before_call() is True  # the probe
    with pytest.raises(CircuitOpen, match="probe"):
        breaker.before_call()  # only one probe at a time
    breaker.succeeded(True)
    assert not breaker.is_open and breaker.before_call() is False


def test_a_failed_probe_opens_it_again_and_a_cancelled_one_frees_the_slot() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1.0, clock=clock)
    breaker.failed(False, TimeoutError())
    clock.now += 1.0
    probe = breaker.before_call()
    breaker.failed(probe, TimeoutError())
    with pytest.raises(CircuitOpen, match="TimeoutError"):
        breaker.before_call()
    clock.now += 1.0
    breaker.released(breaker.before_call())  # e.g. the request was cancelled
    assert breaker.before_call() is True


def test_zero_seconds_disables_it() -> None:
    breaker = CircuitBreaker(0)
    breaker.failed(False, ConnectionError("down"))
    assert breaker.before_call() is False


def test_log_lines_never_show_credentials() -> None:
    assert describe_url("redis://user:s3cret@db.example:6380/2") == "redis://db.example:6380/2"
    assert describe_url("unix:///run/redis.sock") == "unix:///run/redis.sock"
