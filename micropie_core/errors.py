"""Exceptions raised by the framework and meant to be caught by users or plugins."""

from __future__ import annotations

from http import HTTPStatus


class HTTPError(Exception):
    """Abort the current request with an HTTP error status.

    Raise it from a handler, a middleware or a plugin hook; the framework answers
    with a short text body such as ``400 Bad Request: Bad JSON`` (or whatever the
    ``error_response`` hook renders) and never logs it as a crash.
    """

    def __init__(
        self,
        status_code: int,
        detail: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.status_code = status_code
        self.detail = detail
        self.headers = headers or []
        super().__init__(self.text)

    @property
    def text(self) -> str:
        """The default body: ``"<status> <phrase>"`` plus ``": <detail>"`` if any."""
        try:
            phrase = HTTPStatus(self.status_code).phrase
        except ValueError:
            phrase = "Error"
        base = f"{self.status_code} {phrase}"
        return f"{base}: {self.detail}" if self.detail else base


class ConfigError(ValueError):
    """``App(config=...)`` or a constructor argument is invalid."""


class PluginError(RuntimeError):
    """A plugin could not be found, imported or validated; the message names it."""
