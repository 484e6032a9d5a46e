"""micropie-cors and micropie-csrf in a real browser: headless Chromium, two uvicorn servers.

The page's origin and the API's differ by port (cookies, which ignore ports, are
shared: SameSite does not stop these requests, the plugins must). From the
allowed origin, a credentialed preflighted ``PUT`` with the CSRF header works;
from another origin the browser blocks it after the preflight; a cross-site
form post reaches the API with its cookie and is refused with 403.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support import UvicornProcess

APPS = Path(__file__).resolve().parent / "security_apps"
WAIT_MS = 15_000  # an upper bound for each step on a busy machine, not a speed check


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    api = UvicornProcess("cross_origin:api", APPS)
    page = UvicornProcess("cross_origin:pages", APPS)
    other = UvicornProcess("cross_origin:pages", APPS)
    env = {"API_ORIGIN": api.url, "PAGE_ORIGIN": page.url}
    with ExitStack() as stack:
        for server in (api, page, other):
            server.env.update(env)
            stack.enter_context(server)
        yield {"api": api.url, "page": page.url, "other": other.url}


def test_allowed_origin_reads_with_cookies_and_the_csrf_header(
    browser: Browser, servers: dict[str, str]
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(servers["page"])
        expect(page.locator("#out")).to_have_text('200 {"saved":"pen","user":"ann"}')
    finally:
        context.close()


def test_another_origin_is_blocked_by_the_browser(browser: Browser,
                                                  servers: dict[str, str]) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(servers["other"])
        expect(page.locator("#out")).to_have_text("blocked: TypeError")
    finally:
        context.close()


def test_a_cross_site_form_post_is_refused(browser: Browser, servers: dict[str, str]) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{servers['api']}/token")  # the victim has a session with the API
        with page.expect_navigation():
            page.goto(f"{servers['other']}/forged")
        expect(page.locator("body")).to_contain_text(
            "403 Forbidden: CSRF check failed: the Origin header names another site")
    finally:
        context.close()
