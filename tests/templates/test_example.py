"""examples/templates_app: a layout, pages that extend it, a macro, an async global."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from micropie_core.testing import TestClient

Client = Callable[..., TestClient]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "templates_app" / "notes.py"


@pytest.fixture
def notes(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.delenv("MICROPIE_PLUGINS", raising=False)
    spec = importlib.util.spec_from_file_location("notes", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "notes", module)
    spec.loader.exec_module(module)
    yield module


def test_index_extends_the_layout(client: Client, notes: ModuleType) -> None:
    response = client(notes.app).get("/")
    assert response.status_code == 200
    text = response.text
    assert text.startswith("<!doctype html>")
    assert "<title>Notes</title>" in text
    assert "· 2 notes" in text  # the async global, awaited by the template
    assert text.index("Async globals") < text.index("Welcome")
    assert '<a href="/note/welcome">Welcome</a> <small>06 January 2025</small>' in text
    assert "<footer>Served for /</footer>" in text
    assert "last read" not in text


def test_note_page_escapes_and_remembers_the_last_read(client: Client,
                                                       notes: ModuleType) -> None:
    test_client = client(notes.app)
    response = test_client.get("/note/welcome")
    assert "<title>Welcome · Notes</title>" in response.text
    assert "Templates extend &lt;base.html&gt;; values are escaped." in response.text
    after = test_client.get("/")
    assert 'last read: <a href="/note/welcome">welcome</a>' in after.text


def test_unknown_note_renders_the_404_page(client: Client, notes: ModuleType) -> None:
    response = client(notes.app).get("/note/<nope>")
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "No note called “&lt;nope&gt;”" in response.text
