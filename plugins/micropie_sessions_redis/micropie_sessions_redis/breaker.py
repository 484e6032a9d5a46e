"""A small circuit breaker: fail at once while Redis is known to be down."""

from __future__ import annotations

import time
from collections.abc import Callable


class CircuitOpen(Exception):
    """Raised instead of calling Redis while the breaker is open."""


class CircuitBreaker:
    """Closed → (a failure) → open for ``open_seconds`` → one probe → closed or open again.

    While open, :meth:`before_call` raises :class:`CircuitOpen` without touching
    the network, so during an outage requests fail in microseconds instead of
    each waiting for a timeout. Once ``open_seconds`` have passed, exactly one
    call is let through as a probe (the others keep failing fast); its success
    closes the breaker, its failure opens it again. Recovery needs no restart.

    ``open_seconds=0`` disables the breaker: every call goes to Redis.
    """

    def __init__(self, open_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.open_seconds = open_seconds
        self._clock = clock
        self._open_until: float | None = None  # None = closed
        self._probing = False
        self.last_error = ""

    @property
    def is_open(self) -> bool:
        """Whether calls are currently being refused (or only a probe is allowed)."""
        return self._open_until is not None

    def before_call(self) -> bool:
        """Allow a call or raise :class:`CircuitOpen`; returns True if the call is the probe."""
        if self._open_until is None:
            return False
        now = self._clock()
        if now < self._open_until or self._probing:
            wait = max(0.0, self._open_until - now)
            raise CircuitOpen(
                f"not retrying Redis for {wait:.2f} s after: {self.last_error}"
                if wait else f"a probe of Redis is in flight after: {self.last_error}"
            )
        self._probing = True
        return True

    def succeeded(self, probe: bool) -> None:
        """The call worked: close the breaker."""
        if probe:
            self._probing = False
        self._open_until = None

    def failed(self, probe: bool, error: BaseException) -> None:
        """The call failed on the network or timed out: open (again)."""
        if probe:
            self._probing = False
        name = type(error).__name__
        self.last_error = f"{name}: {error}" if str(error) else name
        if self.open_seconds > 0:
            self._open_until = self._clock() + self.open_seconds

    def released(self, probe: bool) -> None:
        """The call ended without a verdict (e.g. cancelled): let another probe go."""
        if probe:
            self._probing = False
