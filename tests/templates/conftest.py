"""Fixtures for the templates plugin: a throwaway template directory per test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

WriteTemplates = Callable[..., Path]


@pytest.fixture
def templates(tmp_path: Path) -> WriteTemplates:
    """``templates({"page.html": "..."})`` writes the files and returns their directory."""
    directory = tmp_path / "views"

    def write(files: dict[str, str]) -> Path:
        for name, text in files.items():
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        directory.mkdir(exist_ok=True)
        return directory

    return write
