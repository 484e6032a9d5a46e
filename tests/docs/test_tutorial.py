"""docs/tutorial.md builds a real app: its files, served by `micropie run`, work over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import websockets

from tests.docs.snippets import ROOT, blocks_of
from tests.support import free_port, wait_for_port

TUTORIAL = ROOT / "docs" / "tutorial.md"
MICROPIE = str(Path(sys.executable).with_name("micropie"))


def _write_final_files(folder: Path) -> list[str]:
    """Every ``<!-- file: ... -->`` block, in page order (later versions win)."""
    written = []
    for block in blocks_of(TUTORIAL):
        if block.file_path:
            target = folder / block.file_path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code, encoding="utf-8")
            written.append(block.file_path)
    return written


def test_the_tutorial_names_the_files_it_builds(tmp_path: Path) -> None:
    assert set(_write_final_files(tmp_path)) == {
        "app.py", "attachments.py", "live.py",
        "templates/base.html", "templates/index.html", "templates/live.html",
    }


def test_the_finished_tutorial_app_runs_under_micropie_run(tmp_path: Path) -> None:
    _write_final_files(tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MICROPIE_PLUGINS"}
    server = subprocess.Popen([MICROPIE, "run", "live:app", "--port", str(port)], cwd=tmp_path,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, process=server)
        with httpx.Client(base_url=base, timeout=10) as http:
            assert "Sign in" in http.get("/").text
            login = http.post("/login", data={"user": "Ann"})
            # The session cookie is Secure (the default): browsers send it to
            # http://127.0.0.1, httpx's jar does not, so it is sent by hand.
            http.headers["cookie"] = f"session_id={login.cookies['session_id']}"

            async def live() -> tuple[dict[str, object], dict[str, object]]:
                async with websockets.connect(f"ws://127.0.0.1:{port}/live") as ws:
                    first = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    await asyncio.to_thread(http.post, "/add", data={"text": "Over HTTP"})
                    second = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    return first, second

            first, second = asyncio.run(live())
            assert first == {"count": 0}
            assert second["count"] == 1
            page = http.get("/").text
            assert "Signed in as <strong>Ann</strong>" in page and "Over HTTP" in page
            assert "new WebSocket" in page
            assert http.get("/note/1").json()["author"] == "Ann"
    finally:
        server.terminate()
        server.communicate(timeout=10)
