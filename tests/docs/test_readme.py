"""The README's first example does what its comments say, and escapes what it echoes."""

from __future__ import annotations

from typing import Any

from micropie_core.testing import TestClient
from tests.docs.snippets import ROOT, Chain, python_blocks, run_chain


def _readme_app() -> Any:
    first = python_blocks(ROOT / "README.md")[0]
    return run_chain(Chain([first]), "docs_readme_first").app


def test_the_first_example_answers_as_its_comments_say() -> None:
    with TestClient(_readme_app()) as client:
        assert client.get("/").text == "Hi. It's me. Your handler."
        assert client.get("/greet/Alice").text == "Hello, Alice!"
        assert client.get("/greet", params={"name": "Alice"}).text == "Hello, Alice!"
        assert client.post("/greet", data={"name": "Alice"}).text == "Hello, Alice!"
        assert client.get("/add/2", params={"b": "3"}).json() == {"sum": 5}
        assert client.get("/add/x").status_code == 400


def test_the_first_example_escapes_what_it_echoes() -> None:
    with TestClient(_readme_app()) as client:
        in_path = client.get("/greet/<b>Ann")
        in_query = client.get("/greet", params={"name": "<script>alert(1)</script>"})
    assert in_path.headers["content-type"].startswith("text/html")
    assert in_path.text == "Hello, &lt;b&gt;Ann!"
    assert in_query.text == "Hello, &lt;script&gt;alert(1)&lt;/script&gt;!"
