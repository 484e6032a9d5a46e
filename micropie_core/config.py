"""Plugin configuration: declared settings, validation and did-you-mean errors."""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from .errors import ConfigError


class Setting(NamedTuple):
    """One key a plugin accepts in ``App(config={section: {key: value}})``.

    ``type`` is a type or tuple of types the value must be an instance of;
    ``check`` may further validate the value and return an error string (or
    ``None`` when the value is fine).
    """

    # A NamedTuple, not a frozen dataclass: as immutable, and 0.3 ms to define at
    # import instead of 1.5 ms (the dataclass decorator compiles its methods).

    section: str
    key: str
    type: type | tuple[type, ...]
    default: Any = None
    doc: str = ""
    check: Callable[[Any], str | None] | None = None


class Config(dict[str, dict[str, Any]]):
    """``app.config``: ``{section: {key: value}}`` with every default filled in.

    ``given`` holds the sections ``App(config=...)`` named (even as ``{}``), so a
    plugin can stay off until its section is given: ``"csrf" in app.config.given``.
    """

    def __init__(self, sections: dict[str, dict[str, Any]], given: Iterable[str] = ()) -> None:
        super().__init__(sections)
        self.given: frozenset[str] = frozenset(given)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``choices``, or an empty string."""
    # Imported on the first configuration error: difflib is ~1 ms of
    # `import micropie_core` (benchmarks/startup.py) that a valid config never needs.
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _type_name(expected: type | tuple[type, ...]) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(t.__name__ for t in types)


def validate_config(
    given: Mapping[str, Any] | None,
    declared: Iterable[tuple[str, Setting]],
) -> Config:
    """Check ``given`` against the settings plugins declared; fill in defaults.

    ``declared`` pairs each setting with the name of the plugin that declared it,
    so every error can name the plugin and the key.
    """
    sections: dict[str, dict[str, tuple[str, Setting]]] = {}
    for plugin_name, setting in declared:
        keys = sections.setdefault(setting.section, {})
        if setting.key in keys and keys[setting.key][0] != plugin_name:
            raise ConfigError(
                f"Plugins {keys[setting.key][0]!r} and {plugin_name!r} both declare the "
                f"config key {setting.section}.{setting.key}; one of them must rename it "
                "(or block one plugin with App(block_plugins=[...]))."
            )
        keys[setting.key] = (plugin_name, setting)

    given = given or {}
    if not isinstance(given, Mapping):
        raise ConfigError(
            f"App(config=...) expects a dict of sections, got {type(given).__name__}."
        )
    result: dict[str, dict[str, Any]] = {
        name: {key: setting.default for key, (_, setting) in keys.items()}
        for name, keys in sections.items()
    }
    for section_name, values in given.items():
        if section_name not in sections:
            known = ", ".join(sorted(sections)) or "none"
            raise ConfigError(
                f"App(config=...) has a section {section_name!r} that no active plugin "
                f"declares.{did_you_mean(section_name, sections)} Sections of the active "
                f"plugins: {known}. Is the plugin installed and enabled?"
            )
        if not isinstance(values, Mapping):
            raise ConfigError(
                f"App(config={{{section_name!r}: ...}}) expects a dict, "
                f"got {type(values).__name__}."
            )
        keys = sections[section_name]
        for key, value in values.items():
            if key not in keys:
                owners = ", ".join(sorted({plugin for plugin, _ in keys.values()}))
                raise ConfigError(
                    f"Unknown key {key!r} in config section {section_name!r} "
                    f"(declared by plugin {owners}).{did_you_mean(key, keys)} "
                    f"Valid keys: {', '.join(sorted(keys))}."
                )
            plugin_name, setting = keys[key]
            if not isinstance(value, setting.type) or (
                isinstance(value, bool) and bool not in _as_tuple(setting.type)
            ):
                raise ConfigError(
                    f"Config {section_name}.{key} (plugin {plugin_name!r}) expects "
                    f"{_type_name(setting.type)}, got {type(value).__name__} "
                    f"{reprlib.repr(value)}.{_meaning(setting)}"
                )
            if setting.check is not None:
                problem = setting.check(value)
                if problem:
                    shown = reprlib.repr(value)
                    found = "" if shown in problem else f" got {shown}"
                    raise ConfigError(
                        f"Config {section_name}.{key} (plugin {plugin_name!r}){found}: "
                        f"{problem.rstrip('.')}.{_meaning(setting)}"
                    )
            result[section_name][key] = value
    return Config(result, given)


def _meaning(setting: Setting) -> str:
    """What the key is for, so the error says what a right value looks like."""
    return f" ({setting.key}: {setting.doc.rstrip('.')}.)" if setting.doc else ""


def _as_tuple(expected: type | tuple[type, ...]) -> tuple[type, ...]:
    return expected if isinstance(expected, tuple) else (expected,)
