"""micropie-csrf over a real uvicorn, sessions in memory and in a real Redis."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.support import UvicornProcess

HERE = Path(__file__).resolve().parent


class Visitor:
    """One browser: keeps its own session cookie (whatever its Secure flag) and Origin."""

    def __init__(self, http: httpx.Client, origin: str) -> None:
        self.http = http
        self.origin = origin
        self.cookie = ""

    def send(self, method: str, path: str, **options: object) -> httpx.Response:
        headers = dict(options.pop("headers", {}))  # type: ignore[call-overload]
        if self.cookie:
            headers["cookie"] = self.cookie
        response = self.http.request(method, path, headers=headers, **options)  # type: ignore[arg-type]
        for value in response.headers.get_list("set-cookie"):
            self.cookie = value.split(";", 1)[0]
        self.http.cookies.clear()  # this visitor's cookie is self.cookie alone
        return response

    def token(self) -> str:
        return self.send("GET", "/form").text

    def post(self, path: str, **options: object) -> httpx.Response:
        headers = {"origin": self.origin, **dict(options.pop("headers", {}))}  # type: ignore[call-overload]
        return self.send("POST", path, headers=headers, **options)


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_csrf_served_by_uvicorn(request: pytest.FixtureRequest, store: str) -> None:
    env = {}
    if store == "redis":
        env = {"CSRF_REDIS_URL": request.getfixturevalue("redis_url"),
               "CSRF_REDIS_PREFIX": f"test:{uuid.uuid4().hex}:"}
    with UvicornProcess("served_app:app", HERE, env=env) as server, httpx.Client(
        base_url=server.url, timeout=10
    ) as http:
        victim, attacker = Visitor(http, server.url), Visitor(http, server.url)
        token = victim.token()
        assert victim.post("/submit", data={"message": "hi", "csrf_token": token}).text == "ok hi"

        # Token replay across sessions.
        stolen = attacker.token()
        replay = victim.post("/submit", data={"csrf_token": stolen})
        assert replay.status_code == 403 and "does not belong to this session" in replay.text

        # A cross-site form post: the victim's cookie, a page of another site.
        forged = victim.post("/submit", data={"csrf_token": token},
                             headers={"origin": "http://evil.example"})
        assert forged.status_code == 403 and "names another site" in forged.text
        victim.origin = ""
        del_origin = victim.send("POST", "/submit", data={"csrf_token": token},
                                 headers={"referer": "http://evil.example/page"})
        assert del_origin.status_code == 403 and "Referer header names another" in del_origin.text
        assert victim.send("POST", "/submit", data={"message": "r", "csrf_token": token},
                           headers={"referer": f"{server.url}/form"}).text == "ok r"
        assert victim.send("POST", "/submit", data={}).status_code == 403

        # JSON with the header; the login rotation.
        assert victim.send("POST", "/api", json={"item": 1},
                           headers={"x-csrf-token": token}).json() == {"saved": 1}
        assert victim.send("POST", "/login", data={"csrf_token": token}).text == "in"
        assert victim.send("POST", "/submit", data={"csrf_token": token}).status_code == 403
        fresh = victim.token()
        assert victim.send("POST", "/submit", data={"csrf_token": fresh}).status_code == 200


def test_behind_a_tls_proxy_a_missing_or_forged_referer_is_refused() -> None:
    with UvicornProcess("served_app:app", HERE, env={"CSRF_BEHIND_PROXY": "1"},
                        extra_args=["--no-proxy-headers"]) as server, httpx.Client(
        base_url=server.url, timeout=10,
        headers={"x-forwarded-proto": "https", "x-forwarded-host": "shop.example.com"},
    ) as http:
        visitor = Visitor(http, "https://shop.example.com")
        token = visitor.token()
        assert "Secure" in visitor.http.get("/form").headers["set-cookie"]
        assert visitor.post("/submit", data={"message": "a", "csrf_token": token}).text == "ok a"
        visitor.origin = ""
        missing = visitor.send("POST", "/submit", data={"csrf_token": token})
        assert missing.status_code == 403 and "neither" in missing.text
        for forged in ("https://evil.example/", "http://shop.example.com/form",
                       "https://shop.example.com.evil.example/form"):
            refused = visitor.send("POST", "/submit", data={"csrf_token": token},
                                   headers={"referer": forged})
            assert refused.status_code == 403, forged
        same_site = visitor.send("POST", "/submit", data={"message": "b", "csrf_token": token},
                                 headers={"referer": "https://shop.example.com/form"})
        assert same_site.text == "ok b"
