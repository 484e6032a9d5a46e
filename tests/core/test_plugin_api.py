"""This repository's plugins use only the core API that docs/plugins.md documents (SPEC §2)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import micropie_core

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "plugins.md"
PLUGIN_SOURCES = sorted((ROOT / "plugins").glob("*/*/**/*.py"))


def documented_api() -> tuple[dict[str, set[str]], set[str]]:
    """``{module: names}`` and the app attributes from the two tables of the doc."""
    text = DOC.read_text()
    section = text[text.index("## The core API a plugin may use"):]
    modules: dict[str, set[str]] = {}
    attributes: set[str] = set()
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        names = set(re.findall(r"`([A-Za-z_][\w.]*)", cells[0]))
        if any(name.startswith("micropie_core") for name in names):
            (module,) = names
            listed = set(re.findall(r"`(\w+)`", cells[1]))
            modules[module] = set(micropie_core.__all__) if module == "micropie_core" else listed
        else:
            attributes |= {name.removeprefix("app.") for name in names}
    return modules, attributes


def core_imports(tree: ast.AST) -> list[tuple[str, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("micropie_core"):
            found += [(node.module or "", alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "*") for alias in node.names
                      if alias.name.startswith("micropie_core")]
    return found


def private_app_attributes(tree: ast.AST) -> set[str]:
    """``app._x`` / ``self.app._x`` / ``request.app._x`` uses: the core's private surface."""
    used = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            owner = node.value
            if (isinstance(owner, ast.Name) and owner.id == "app") or (
                isinstance(owner, ast.Attribute) and owner.attr == "app"
            ):
                used.add(node.attr)
    return used


def test_the_doc_lists_modules_that_export_what_it_says() -> None:
    modules, attributes = documented_api()
    assert "micropie_core.binding" in modules and "_sessions" in attributes
    for module_name, names in modules.items():
        module = __import__(module_name, fromlist=["_"])
        missing = [name for name in names if not hasattr(module, name)]
        assert not missing, f"docs/plugins.md lists {module_name}.{missing}, which do not exist"


def test_plugins_import_only_the_documented_core_api() -> None:
    modules, _ = documented_api()
    assert PLUGIN_SOURCES, "no plugin sources found under plugins/"
    offences = []
    for path in PLUGIN_SOURCES:
        for module, name in core_imports(ast.parse(path.read_text())):
            if name not in modules.get(module, set()):
                offences.append(f"{path.relative_to(ROOT)}: from {module} import {name}")
    assert not offences, "not in docs/plugins.md's core API:\n" + "\n".join(offences)


def test_plugins_use_only_the_documented_private_app_attributes() -> None:
    _, attributes = documented_api()
    offences = []
    for path in PLUGIN_SOURCES:
        own = f"_{path.relative_to(ROOT / 'plugins').parts[0]}"  # e.g. _micropie_templates
        for attribute in private_app_attributes(ast.parse(path.read_text())):
            if attribute not in attributes and attribute != own:
                offences.append(f"{path.relative_to(ROOT)}: app.{attribute}")
    assert not offences, "not in docs/plugins.md's app attributes:\n" + "\n".join(offences)
