"""examples/chat in a real browser: headless Chromium, served by ``micropie run`` (uvicorn).

Two browser contexts (two people, two cookie jars) use the chat: a message sent
on page A appears on page B, a reload keeps the name picked (the session), and
the SSE fallback page receives what a WebSocket page sends. A screenshot goes
to ``test-artifacts/`` (git-ignored) for a person to look at.

Chromium is Debian's ``chromium`` package (``scripts/test`` installs it),
driven by PyPI's ``playwright`` package; Playwright's own browser download is
never used. A missing Chromium is a failure, not a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.examples.chat import CHAT_DIR
from tests.support import ROOT, free_port, wait_for_port

ARTIFACTS = ROOT / "test-artifacts"
MICROPIE = str(Path(sys.executable).with_name("micropie"))
WAIT_MS = 15_000  # an upper bound for each step on a busy machine, not a speed check


@contextmanager
def _served(redis_url: str | None = None) -> Iterator[str]:
    """``micropie run`` with no target, from the example's folder (it finds app.py)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MICROPIE_PLUGINS", "REDIS_URL")}
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    server = subprocess.Popen([MICROPIE, "run", "--port", str(port), "--log-level", "warning",
                               "--timeout-graceful-shutdown", "2"],
                              cwd=CHAT_DIR, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port(port, process=server)  # type: ignore[arg-type]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            output, _ = server.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # a stream a test left open: not our subject here
            server.kill()
            output, _ = server.communicate()
        if "Traceback" in output:
            print(output)  # shown with the test's failure, if any


@pytest.fixture(scope="module")
def chat_url() -> Iterator[str]:
    with _served() as url:
        yield url


@pytest.fixture
def people(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Browser contexts a test opens (one per person), closed when it ends."""
    contexts: list[BrowserContext] = []
    yield contexts
    for context in contexts:
        context.close()


def _enter(browser: Browser, people: list[BrowserContext], url: str, name: str) -> Page:
    context = browser.new_context()
    people.append(context)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    page.fill("#name", name)
    page.click("text=Enter")
    expect(page.locator("#me")).to_have_text(name)
    expect(page.locator("#status")).to_have_text("connected")
    return page


def _say(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def test_two_people_chat_and_a_reload_keeps_the_name(
    browser: Browser, people: list[BrowserContext], chat_url: str
) -> None:
    ann = _enter(browser, people, chat_url, "Ann")
    bob = _enter(browser, people, chat_url, "Bob")
    expect(ann.locator("#log li.info").last).to_have_text("Bob joined")

    _say(ann, "Hello <b>Bob</b>")
    expect(bob.locator("#log li").last).to_have_text("Ann: Hello <b>Bob</b>")
    assert bob.locator("#log b").count() == 0  # shown as text, never as HTML

    ann.reload()
    expect(ann.locator("#me")).to_have_text("Ann")  # the session kept the name
    expect(ann.locator("#status")).to_have_text("connected")
    _say(ann, "Still me after a reload")
    expect(bob.locator("#log li").last).to_have_text("Ann: Still me after a reload")

    ARTIFACTS.mkdir(exist_ok=True)
    bob.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)
    assert (ARTIFACTS / "chat.png").stat().st_size > 0


def test_the_sse_fallback_page_receives_and_sends(
    browser: Browser, people: list[BrowserContext], chat_url: str
) -> None:
    ann = _enter(browser, people, chat_url, "Ann")
    carol = _enter(browser, people, chat_url, "Carol")
    carol.click("text=No WebSockets?")
    expect(carol.locator("#status")).to_have_text("connected")

    _say(ann, "Can you read this, Carol?")
    expect(carol.locator("#log li").last).to_have_text("Ann: Can you read this, Carol?")
    _say(carol, "Yes, over SSE")
    expect(ann.locator("#log li").last).to_have_text("Carol: Yes, over SSE")
    carol.screenshot(path=str(ARTIFACTS / "chat-sse.png"), full_page=True)


def test_two_servers_on_one_redis_share_sessions_and_messages(
    browser: Browser, people: list[BrowserContext], redis_url: str
) -> None:
    # What two workers behind a load balancer do, with the worker chosen by us:
    # Ann is on server one, Bob on server two (cookies do not depend on the port).
    with _served(redis_url) as one, _served(redis_url) as two:
        ann = _enter(browser, people, one, "Ann")
        bob = _enter(browser, people, two, "Bob")
        _say(ann, "Across processes")
        expect(bob.locator("#log li").last).to_have_text("Ann: Across processes")
        ann.goto(two)  # the session made on server one is read on server two
        expect(ann.locator("#me")).to_have_text("Ann")
        expect(ann.locator("#status")).to_have_text("connected")
        _say(bob, "Welcome to server two")
        expect(ann.locator("#log li").last).to_have_text("Bob: Welcome to server two")
        for context in people:  # close the WebSockets before the servers stop
            context.close()
        people.clear()
