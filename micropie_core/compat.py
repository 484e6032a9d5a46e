"""MicroPie 0.32's module-level names and constructor arguments, mapped onto ours.

MicroPie configures sessions with constructor arguments; we keep them in
``config={"sessions": {...}}``. Both spellings reach the same setting, and
giving one setting both ways is an error naming both.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.util import find_spec
from typing import Any, Final

from .errors import ConfigError

#: Whether the ``multipart`` package (multipart/form-data parsing) is importable.
MULTIPART_INSTALLED: Final[bool] = find_spec("multipart") is not None
#: Whether Jinja2 is importable (templates need ``pip install micropie-templates``).
JINJA_INSTALLED: Final[bool] = find_spec("jinja2") is not None


class _Unset:
    """The default of an argument that was not given (``None`` can be a real value)."""

    def __repr__(self) -> str:
        return "<unset>"


UNSET: Final = _Unset()

#: MicroPie constructor argument → key of the ``sessions`` config section.
SESSION_ARGUMENTS: Final = {
    "session_timeout": "ttl",
    "session_cookie_secure": "secure",
    "session_id_factory": "id_factory",
    "session_id_validator": "id_validator",
}


def _check(argument: str, value: Any) -> None:
    if argument == "session_timeout":
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(
                f"App(session_timeout=...) must be a positive number of seconds (int), "
                f"got {value!r}."
            )
    elif argument == "session_cookie_secure":
        if not isinstance(value, bool) and value is not None:
            raise ConfigError(
                f"App(session_cookie_secure=...) must be True, False or None (= only over "
                f"https), got {value!r}."
            )
    elif argument == "session_id_factory":
        if not callable(value):
            raise ConfigError(
                f"App(session_id_factory=...) must be callable (no arguments, returns a str "
                f"id), got {value!r}."
            )
    elif value is not None and not callable(value):  # session_id_validator
        raise ConfigError(
            f"App(session_id_validator=...) must be callable (takes an id, returns it or "
            f"None) or None, got {value!r}."
        )


def fold_session_arguments(
    config: Mapping[str, Any] | None, given: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """``config`` with the MicroPie session arguments that were given folded in."""
    given = {name: value for name, value in given.items() if value is not UNSET}
    if not given:
        return config
    if config is not None and not isinstance(config, Mapping):
        return config  # validate_config reports it
    merged = dict(config or {})
    section = merged.get("sessions") or {}
    if not isinstance(section, Mapping):
        return config  # validate_config reports it
    section = dict(section)
    for argument, value in given.items():
        key = SESSION_ARGUMENTS[argument]
        _check(argument, value)
        if key in section:
            raise ConfigError(
                f"App({argument}=...) and config={{'sessions': {{{key!r}: ...}}}} both set "
                f"the session {key}; give only one of them."
            )
        section[key] = value
    merged["sessions"] = section
    return merged


def one_of(first: str, first_value: Any, second: str, second_value: Any, default: Any) -> Any:
    """The value of whichever of two constructor arguments for one setting was given."""
    if first_value is not UNSET and second_value is not UNSET:
        raise ConfigError(
            f"App({first}=...) and App({second}=...) set the same limit; give only one "
            "of them."
        )
    if first_value is not UNSET:
        return first_value
    if second_value is not UNSET:
        return second_value
    return default
