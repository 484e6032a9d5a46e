"""Sessions: fixation, injection through parameters, and hostile session cookies."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from micropie_core import App
from micropie_core.cookies import MAX_COOKIE_HEADER_SIZE
from micropie_core.sessions import is_well_formed, new_session_id
from micropie_core.testing import TestClient
from tests.security.serving import assert_still_serving

Client = Callable[..., TestClient]


class Site(App):
    async def index(self) -> str:
        return "ok"

    async def login(self) -> str:
        self.request.session["user"] = "ann"
        self.request.regenerate_session()
        return "in"

    async def whoami(self, user: str = "nobody") -> str:
        # ``user`` must never come from the session (only path, query, form, JSON).
        return f"{user}/{self.request.session.get('user', '-')}"


def test_a_client_chosen_id_is_never_adopted(client: Client) -> None:
    c = client(Site())
    chosen = new_session_id()
    response = c.get("/login", cookies={"session_id": chosen})
    minted = response.cookies["session_id"]
    assert minted != chosen and is_well_formed(minted)
    assert c.get("/whoami", cookies={"session_id": chosen}).text == "nobody/-"
    assert_still_serving(c)


def test_login_rotates_the_id(client: Client) -> None:
    c = client(Site())
    first = c.get("/login").cookies["session_id"]
    second = c.get("/login").cookies["session_id"]
    assert first != second
    assert c.get("/whoami", cookies={"session_id": first}).text == "nobody/-"
    assert c.get("/whoami").text == "nobody/ann"


def test_session_values_never_bind_to_parameters(client: Client) -> None:
    c = client(Site())
    c.get("/login")
    assert c.get("/whoami").text == "nobody/ann"
    assert c.get("/whoami?user=mallory").text == "mallory/ann"


@pytest.mark.parametrize("cookie", [
    'session_id="' + "\\" * 20_000 + '"',
    "=session_id=" + "A" * 43,          # an empty name, not session_id
    "session_id=" + "A" * 43 + "\x00",
    "session_id",
    ";" * 30_000,
])
def test_hostile_session_cookies_get_a_fresh_session(client: Client, cookie: str) -> None:
    c = client(Site())
    response = c.get("/login", headers={"cookie": cookie})
    assert response.status_code == 200
    assert is_well_formed(response.cookies["session_id"])
    assert_still_serving(c)


def test_the_session_id_is_read_with_the_same_rules_as_request_cookies(client: Client) -> None:
    c = client(Site())
    session_id = c.get("/login").cookies["session_id"]
    c.cookies.clear()
    quoted = c.get("/whoami", headers={"cookie": f'other=1; session_id="{session_id}"'})
    assert quoted.text == "nobody/ann"  # one pair of quotes removed, as request.cookies does
    smuggled = c.get("/whoami", headers={"cookie": f"=session_id={session_id}"})
    assert smuggled.text == "nobody/-"


def test_an_oversized_cookie_header_is_400_on_the_session_path_too(client: Client) -> None:
    c = client(Site())
    cookie = "session_id=" + "A" * 43 + "; pad=" + "x" * MAX_COOKIE_HEADER_SIZE
    assert c.get("/whoami", headers={"cookie": cookie}).status_code == 400
    assert_still_serving(c)
