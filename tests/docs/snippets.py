"""Fenced code blocks of the Markdown docs, and how the docs tests run them.

The convention (README.md, "Docs that run"): a fenced ```python block runs as
written in a fresh namespace, unless the line right before its opening fence is

- ``<!-- continue -->``: it runs after the previous python block(s) of the same
  page, in the same namespace;
- ``<!-- no-run: reason -->``: it is not executed (the reason is required);
- ``<!-- file: PATH -->`` (before a block of any language): the block is the
  content of the file PATH, relative to the folder the page's blocks run in. It
  is written there before the python blocks that follow it on the page run,
  and is not executed itself; a later block imports it (``from app import
  app``) or the app reads it (templates). So a tutorial can say "save this as
  app.py" and the test does exactly that.

Each chain runs in a fresh empty folder (the working directory, also first on
``sys.path``); modules it imported from there are forgotten afterwards.

After a chain has run, every ``test_*`` function it defined is called, as pytest
would: with no arguments, or with ``client`` (the ``client`` fixture factory of
micropie_core's pytest plugin) if it asks for it; ``async def`` ones in an event
loop. So a page can show a test and the test really runs.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from micropie_core.testing import TestClient

ROOT = Path(__file__).resolve().parents[2]

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)")
_MARKER = re.compile(r"^\s*<!--\s*(?P<body>.*?)\s*-->\s*$")


@dataclass
class Block:
    """One fenced block: the page it is on, the line of its opening fence, its code."""

    page: str
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: str = ""  # the HTML comment right before the fence, if any

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def continues(self) -> bool:
        return self.marker == "continue"

    @property
    def file_path(self) -> str | None:
        """PATH of a ``<!-- file: PATH -->`` block (may be empty), else None."""
        if self.marker.startswith("file:"):
            return self.marker.removeprefix("file:").strip()
        return None

    @property
    def no_run_reason(self) -> str | None:
        """The reason after ``no-run:`` (may be empty), or None if the block runs."""
        if self.marker == "no-run" or self.marker.startswith("no-run:"):
            return self.marker.removeprefix("no-run").removeprefix(":").strip()
        return None


@dataclass
class Chain:
    """Python blocks that run one after another in one namespace."""

    blocks: list[Block] = field(default_factory=list)
    files: list[Block] = field(default_factory=list)  # the page's file blocks, in order

    @property
    def where(self) -> str:
        return self.blocks[0].where


def pages() -> list[Path]:
    """Every page whose python blocks the tests run."""
    found = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "plugins").glob("*/README.md"))]
    return [page for page in found if page.is_file()]


def blocks_of(page: Path) -> list[Block]:
    """The fenced blocks of one page, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    name = page.relative_to(ROOT).as_posix()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        previous = lines[index - 1] if index > 0 else ""
        marker = _MARKER.match(previous)
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            text = lines[end]
            body.append(text[len(indent):] if text.startswith(indent) else text.lstrip())
            end += 1
        found.append(Block(name, index + 1, opening["lang"].lower(), "\n".join(body) + "\n",
                           marker["body"] if marker else ""))
        index = end + 1
    return found


def python_blocks(page: Path) -> list[Block]:
    return [block for block in blocks_of(page) if block.lang in ("python", "py")]


def chains_of(page: Path) -> list[Chain]:
    """The runnable chains of a page (``no-run`` and ``file`` blocks left out)."""
    files = [block for block in blocks_of(page) if block.file_path is not None]
    chains: list[Chain] = []
    for block in python_blocks(page):
        if block.no_run_reason is not None or block.file_path is not None:
            continue
        if block.continues and chains:
            chains[-1].blocks.append(block)
        else:
            chains.append(Chain([block], files))
    return chains


def all_blocks() -> Iterator[Block]:
    for page in pages():
        yield from python_blocks(page)


def compile_block(block: Block) -> types.CodeType:
    """Compile with the page as file name and the page's line numbers in tracebacks."""
    padded = "\n" * block.line + block.code  # the code starts on the line after the fence
    code: types.CodeType = compile(padded, str(ROOT / block.page), "exec",
                                   flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    return code


def run_chain(chain: Chain, module_name: str, folder: Path | None = None) -> types.ModuleType:
    """Run the blocks of ``chain`` in one fresh module; return it.

    ``folder`` (default: the working directory) receives the page's file blocks
    and is first on ``sys.path`` meanwhile. The module is registered in
    ``sys.modules`` while it runs (dataclasses, pickling and
    ``typing.get_type_hints`` look classes up there). A block with a top-level
    ``await`` runs in its own event loop.
    """
    folder = (folder or Path.cwd()).resolve()
    module = types.ModuleType(module_name)
    sys.modules[module_name] = module
    sys.path.insert(0, str(folder))
    already_imported = set(sys.modules)
    written: set[int] = set()
    try:
        for block in chain.blocks:
            for file in chain.files:
                if file.line < block.line and file.line not in written:
                    _write(folder, file)
                    written.add(file.line)
            code = compile_block(block)
            result = eval(code, module.__dict__)  # our own docs, as written
            if asyncio.iscoroutine(result):
                asyncio.run(result)
        _run_tests_defined(module)
    finally:
        sys.modules.pop(module_name, None)
        sys.path.remove(str(folder))
        _forget_modules_from(folder, set(sys.modules) - already_imported)
    return module


def _write(folder: Path, block: Block) -> None:
    relative = Path(block.file_path or "")
    if not block.file_path or relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"{block.where}: <!-- file: PATH --> needs a relative path inside "
                         f"the page's folder, got {block.file_path!r}")
    target = folder / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(block.code, encoding="utf-8")


def _forget_modules_from(folder: Path, names: set[str]) -> None:
    """Forget the modules among ``names`` that were imported from ``folder``."""
    for name in names:
        file = getattr(sys.modules[name], "__file__", None)
        if file and Path(file).resolve().is_relative_to(folder):
            del sys.modules[name]


def _run_tests_defined(module: types.ModuleType) -> None:
    for name, value in list(vars(module).items()):
        if (name.startswith("test_") and inspect.isfunction(value)
                and value.__module__ == module.__name__):
            _call_test(name, value)


def _call_test(name: str, test: Callable[..., Any]) -> None:
    wanted = list(inspect.signature(test).parameters)
    if wanted not in ([], ["client"]):
        raise TypeError(f"{name}{inspect.signature(test)}: a test in the docs may take "
                        "no argument or just the 'client' fixture")
    made: list[TestClient] = []

    def client(app: Any, **options: Any) -> TestClient:
        started = TestClient(app, **options).__enter__()
        made.append(started)
        return started

    try:
        result = test(client) if wanted else test()
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    finally:
        for started in reversed(made):
            started.close()
