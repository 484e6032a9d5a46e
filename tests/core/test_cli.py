from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from micropie_core.cli import main
from tests.support import ROOT, free_port, wait_for_port


def test_plugins_lists_builtins_with_hooks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "sessions" in lines and "streaming" in lines
    assert "micropie-core (built-in)" in lines["sessions"]
    assert "session_store" in lines["sessions"]
    assert " yes " in lines["sessions"]


def test_run_rejects_a_target_without_attribute(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "hello"]) == 2
    assert "module:attribute" in capsys.readouterr().err
    assert main(["run", "examples/hello.py"]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "Try: micropie run hello:app --app-dir examples")


def test_run_serves_the_app_with_uvicorn() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "micropie_core.cli", "run", "hello:app", "--app-dir",
         str(ROOT / "examples"), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process=process)
        response = httpx.get(f"http://127.0.0.1:{port}/greet/Ann?greeting=Hi", timeout=10)
        assert response.text == "Hi, Ann!"
    finally:
        process.terminate()
        process.wait(timeout=10)
