"""Every fenced python block of README.md, docs/*.md and plugins/*/README.md runs.

A failure names the page and line of the block (tracebacks point into the page
itself). See :mod:`tests.docs.snippets` for the ``continue`` / ``no-run`` markers.
"""

from __future__ import annotations

import logging
import tomllib
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs.snippets import Block, Chain, all_blocks, blocks_of, chains_of, pages, run_chain

CHAINS: list[Chain] = [chain for page in pages() for chain in chains_of(page)]

#: At most this share of the python blocks may be left unexecuted.
MAX_NO_RUN_SHARE = 0.15


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A block sees every installed plugin, writes files (templates, uploads) into
    # a folder of its own, and nothing it logs makes the run noisy.
    monkeypatch.delenv("MICROPIE_PLUGINS", raising=False)
    monkeypatch.chdir(tmp_path)
    logger = logging.getLogger("micropie")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


@pytest.mark.parametrize("chain", CHAINS, ids=[chain.where for chain in CHAINS])
def test_python_block_runs(chain: Chain) -> None:
    module_name = "docs_" + chain.where.replace("/", "_").replace(".", "_").replace(":", "_")
    try:
        run_chain(chain, module_name)
    except Exception as exc:  # reported with the page and line
        failure = _report(exc, chain)
    else:
        return
    pytest.fail(failure, pytrace=False)


def _report(exc: Exception, chain: Chain) -> str:
    failing = _block_for(exc, chain)
    # Only the frames from the page on: the runner's own frames say nothing.
    tb = exc.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.endswith(chain.blocks[0].page):
        tb = tb.tb_next
    shown = "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
    return (
        f"The python block at {failing.where} fails as written (run after "
        f"{chain.blocks.index(failing)} earlier block(s) of its chain starting at "
        f"{chain.where}):\n{shown.rstrip()}\n"
        "Fix the block (imports included), mark it <!-- continue --> if it builds on the "
        "previous block, or <!-- no-run: reason --> if it cannot run in-process."
    )


def _block_for(exc: Exception, chain: Chain) -> Block:
    """The block whose lines the traceback passes through last (the chain start if none)."""
    page = chain.blocks[0].page
    lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__)
             if frame.filename.endswith(page) and frame.lineno is not None]
    if isinstance(exc, SyntaxError) and exc.lineno is not None:
        lines.append(exc.lineno)
    found = chain.blocks[0]
    for block in chain.blocks:
        if lines and block.line <= lines[-1]:
            found = block
    return found


def test_markers_are_well_formed() -> None:
    problems = []
    for page in pages():
        seen_python = False
        for block in blocks_of(page):
            if block.marker and block.file_path is None and block.lang not in ("python", "py"):
                problems.append(f"{block.where}: a marker before a {block.lang or 'plain'} "
                                "block means nothing (only python blocks run)")
            if block.lang not in ("python", "py"):
                continue
            if block.file_path is not None:
                if not block.file_path:
                    problems.append(f"{block.where}: <!-- file: PATH --> needs a path")
                if block.lang in ("python", "py"):
                    try:
                        compile(block.code, block.where, "exec")
                    except SyntaxError as exc:
                        problems.append(f"{block.where}: {block.file_path} does not "
                                        f"compile: {exc}")
                continue
            reason = block.no_run_reason
            if reason is not None and not reason:
                problems.append(f"{block.where}: <!-- no-run: ... --> needs a reason")
            elif block.marker and reason is None and block.marker != "continue":
                problems.append(f"{block.where}: unknown marker <!-- {block.marker} -->; "
                                "use <!-- continue -->, <!-- no-run: reason --> or "
                                "<!-- file: PATH -->")
            if block.continues and not seen_python:
                problems.append(f"{block.where}: <!-- continue --> on the first python "
                                "block of the page: there is nothing to continue")
            seen_python = True
    assert not problems, "\n".join(problems)


def test_no_run_blocks_stay_few() -> None:
    blocks = list(all_blocks())
    skipped = [f"{b.where}: {b.no_run_reason}" for b in blocks if b.no_run_reason is not None]
    assert len(skipped) <= MAX_NO_RUN_SHARE * len(blocks), (
        f"{len(skipped)} of {len(blocks)} python blocks are marked no-run "
        f"(at most {MAX_NO_RUN_SHARE:.0%} may be); make some runnable:\n" + "\n".join(skipped)
    )


def test_toml_blocks_parse_and_projects_are_installable() -> None:
    problems = []
    for page in pages():
        for block in blocks_of(page):
            if block.lang != "toml":
                continue
            try:
                data = tomllib.loads(block.code)
            except tomllib.TOMLDecodeError as exc:
                problems.append(f"{block.where}: not valid TOML: {exc}")
                continue
            project = data.get("project")
            # A fragment (just the entry points) is fine; a whole [project] table
            # must be buildable by pip.
            if isinstance(project, dict) and "name" in project:
                dynamic = project.get("dynamic", [])
                missing = [k for k in ("name", "version")
                           if k not in project and k not in dynamic]
                if missing:
                    problems.append(f"{block.where}: [project] lacks {', '.join(missing)} "
                                    "(pip cannot build it)")
    assert not problems, "\n".join(problems)
