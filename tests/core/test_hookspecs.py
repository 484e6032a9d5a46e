"""Every hook spec has a section in docs/plugin_hooks.md with the same signature."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from micropie_core import hookspecs

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugin_hooks.md"


def _specs() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(function)
        for name, function in vars(hookspecs).items()
        if inspect.isfunction(function) and hasattr(function, "micropie_spec")
    }


def _documented() -> dict[str, str]:
    text = DOC.read_text()
    sections = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    documented = {}
    for section in sections:
        title, _, body = section.partition("\n")
        # The signature block is a stub, valid Python: "def name(...) -> T: ..."
        match = re.search(r"```python\n(def .*?)(?:: \.\.\.)?\n```", body, flags=re.DOTALL)
        documented[title.strip()] = match.group(1) if match else ""
    return documented


def test_there_are_hooks() -> None:
    assert {"startup", "shutdown", "register_settings", "process_response"} <= set(_specs())


@pytest.mark.parametrize("name", sorted(_specs()))
def test_hook_is_documented_with_its_signature(name: str) -> None:
    documented = _documented()
    assert name in documented, f"docs/plugin_hooks.md has no '## {name}' section"
    signature = str(_specs()[name]).replace("'", "")
    assert documented[name] == f"def {name}{signature}", (
        f"docs/plugin_hooks.md shows {documented[name]!r} for {name}; "
        f"the spec is def {name}{signature}"
    )


@pytest.mark.parametrize("name", sorted(_specs()))
def test_hook_spec_has_a_docstring(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert len(doc) > 80, f"hook {name} needs a docstring saying when, arguments and result"


def test_no_documented_hook_is_missing_from_the_specs() -> None:
    assert set(_documented()) == set(_specs())
