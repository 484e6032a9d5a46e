"""micropie-proxy in process: the Host allow-list and forwarding headers from trusted proxies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import pytest

from micropie_core import App, ConfigError
from micropie_core.testing import TestClient
from micropie_core.testing_websocket import WebSocketDenied
from micropie_core.types import Message

Client = Callable[..., TestClient]
PROXY = ("10.0.0.1", 4000)  # the peer address of requests "from the proxy"
STRANGER = ("203.0.113.9", 5000)


class Site(App):
    async def index(self) -> str:
        return "home"

    async def where(self) -> dict[str, Any]:
        request = self.request
        return {"client": request.client, "scheme": request.scope["scheme"],
                "host": request.headers.get("host"), "server": request.scope.get("server")}

    async def login(self) -> str:
        self.request.session["user"] = "ann"
        return "in"

    async def go(self) -> tuple[int, str, list[tuple[str, str]]]:
        # An absolute redirect built from what the request says about itself.
        request = self.request
        return self._redirect(f"{request.scope['scheme']}://{request.headers['host']}/where")

    async def ws_echo(self, ws: Any) -> None:
        await ws.accept()
        await ws.send_json({"scheme": ws.scope["scheme"], "client": ws.scope["client"]})


def site(**proxy: Any) -> Site:
    # sessions.secure None: the cookie is Secure exactly when the request came over https.
    return Site(config={"proxy": proxy, "sessions": {"secure": None}})


def where(c: TestClient, **headers: str) -> dict[str, Any]:
    response = c.get("/where", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_entry_point_is_registered_and_off_without_its_section() -> None:
    (entry_point,) = [ep for ep in entry_points(group="micropie") if ep.name == "proxy"]
    assert entry_point.value == "micropie_proxy.plugin"
    assert "proxy" in Site().plugins.active_names()
    assert Site()._asgi_stack is None
    assert Site(config={"proxy": {}})._asgi_stack is None  # nothing to do: still no layer


# ------------------------------------------------------------------ trusted hosts


def test_allowed_hosts_exact_and_subdomains(client: Client) -> None:
    c = client(site(allowed_hosts=["example.com", "*.example.org"]))
    for host in ("example.com", "EXAMPLE.com:8000", "a.example.org", "a.b.example.org"):
        assert c.get("/", headers={"host": host}).text == "home", host


@pytest.mark.parametrize("host", [
    "evil.com", "example.org", "evil-example.org", "example.org.evil.net", "www.example.com",
    "example.com@evil.com", "evil.com#example.com", "evil.com/example.com", "example.com.",
    "example.com:x", "", "example.com evil.com",
])
def test_host_header_injection_is_a_400(client: Client, host: str) -> None:
    c = client(site(allowed_hosts=["example.com", "*.example.org"]))
    response = c.get("/", headers={"host": host})
    assert response.status_code == 400
    assert "proxy.allowed_hosts" in response.text
    assert response.headers["connection"] == "close"


def test_two_host_headers_are_a_400(client: Client) -> None:
    c = client(site(allowed_hosts=["example.com"]))
    response = c.get("/", headers=[("host", "example.com"), ("host", "evil.com")])
    assert response.status_code == 400 and "exactly one Host header" in response.text


def test_a_refused_host_is_answered_before_the_body_is_read() -> None:
    app = site(allowed_hosts=["example.com"])
    received: list[Message] = []
    sent: list[Message] = []

    async def receive() -> Message:
        received.append({})
        return {"type": "http.request", "body": b"x" * 10, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "raw_path": b"/",
             "query_string": b"", "scheme": "http", "client": STRANGER,
             "headers": [(b"host", b"evil.com"), (b"content-length", b"10")]}
    asyncio.run(app(scope, receive, send))
    assert received == []
    assert sent[0]["status"] == 400


def test_a_websocket_to_a_refused_host_is_denied(client: Client) -> None:
    c = client(site(allowed_hosts=["example.com"]))
    with pytest.raises(WebSocketDenied) as denied, c.websocket_connect(
        "/echo", headers={"host": "evil.com"}
    ):
        pass
    assert denied.value.status_code == 403


# ------------------------------------------------------------------ proxy headers


def test_x_forwarded_from_a_trusted_proxy_rewrites_client_scheme_and_host(
    client: Client
) -> None:
    c = client(site(trusted_proxies=["10.0.0.0/8"]), client_address=PROXY)
    seen = where(c, **{"x-forwarded-for": "198.51.100.7", "x-forwarded-proto": "https",
                       "x-forwarded-host": "Shop.Example.com"})
    assert seen == {"client": ["198.51.100.7", 0], "scheme": "https",
                    "host": "shop.example.com", "server": ["shop.example.com", 443]}
    redirect = c.get("/go", headers={"x-forwarded-proto": "https",
                                     "x-forwarded-host": "shop.example.com"})
    assert redirect.headers["location"] == "https://shop.example.com/where"


def test_the_session_cookie_is_secure_behind_a_tls_proxy(client: Client) -> None:
    c = client(site(trusted_proxies=["10.0.0.1"]), client_address=PROXY)
    behind_tls = c.get("/login", headers={"x-forwarded-proto": "https"})
    assert "Secure" in behind_tls.headers["set-cookie"]
    c2 = client(site(trusted_proxies=["10.0.0.1"]), client_address=PROXY)
    plain = c2.get("/login", headers={"x-forwarded-proto": "http"})
    assert "Secure" not in plain.headers["set-cookie"]


def test_spoofed_forwarding_headers_from_an_untrusted_peer_are_ignored(client: Client) -> None:
    c = client(site(trusted_proxies=["10.0.0.0/8"]), client_address=STRANGER)
    seen = where(c, **{"x-forwarded-for": "10.0.0.5", "x-forwarded-proto": "https",
                       "x-forwarded-host": "admin.example.com",
                       "forwarded": "for=10.0.0.5;proto=https"})
    assert seen == {"client": list(STRANGER), "scheme": "http", "host": "testserver",
                    "server": ["testserver", 80]}
    assert "Secure" not in c.get("/login", headers={"x-forwarded-proto": "https"}
                                 ).headers["set-cookie"]


def test_hops_are_read_right_to_left_and_client_written_entries_are_not_believed(
    client: Client
) -> None:
    c = client(site(trusted_proxies=["10.0.0.0/8"]), client_address=PROXY)
    # The client wrote "6.6.6.6" itself; the outer proxy (10.0.0.2) appended the
    # address it saw, 198.51.100.7; the inner proxy (our peer) appended 10.0.0.2.
    seen = where(c, **{"x-forwarded-for": "6.6.6.6, 198.51.100.7, 10.0.0.2",
                       "x-forwarded-proto": "http, https, http"})
    assert seen["client"] == ["198.51.100.7", 0]
    assert seen["scheme"] == "https"  # what the outer proxy (facing the client) recorded
    # Every hop a proxy: the leftmost address is the client.
    assert where(c, **{"x-forwarded-for": "10.9.9.9, 10.0.0.2"})["client"] == ["10.9.9.9", 0]
    # A proxy that overwrites the proto instead of appending gives one value: used.
    assert where(c, **{"x-forwarded-for": "198.51.100.7, 10.0.0.2",
                       "x-forwarded-proto": "https"})["scheme"] == "https"
    # An address with a port, and several header lines.
    seen = where(c, **{"x-forwarded-for": "198.51.100.7:5555"})
    assert seen["client"] == ["198.51.100.7", 5555]
    lines = c.get("/where", headers=[("x-forwarded-for", "198.51.100.8"),
                                     ("x-forwarded-for", "10.0.0.3")]).json()
    assert lines["client"] == ["198.51.100.8", 0]


def test_rfc_7239_forwarded(client: Client) -> None:
    c = client(site(trusted_proxies=["10.0.0.0/8", "2001:db8::/32"], header="forwarded"),
               client_address=PROXY)
    seen = where(c, forwarded='for=6.6.6.6;proto=http, For="[2001:db8:cafe::17]:4711";'
                              'Proto=https;host="shop.example.com", for=198.51.100.7')
    # 198.51.100.7 is the first untrusted hop from the right: its element counts.
    assert seen["client"] == ["198.51.100.7", 0] and seen["scheme"] == "http"
    seen = where(c, forwarded='for=198.51.100.7;proto=https;host=shop.example.com, '
                              'for="[2001:db8:cafe::17]:4711"')
    assert seen == {"client": ["198.51.100.7", 0], "scheme": "https",
                    "host": "shop.example.com", "server": ["shop.example.com", 443]}
    # In this mode X-Forwarded-* are ignored: a proxy that sets Forwarded may pass them on.
    assert where(c, **{"x-forwarded-for": "1.2.3.4", "x-forwarded-proto": "https"}) == {
        "client": list(PROXY), "scheme": "http", "host": "testserver",
        "server": ["testserver", 80]}
    # "unknown" and obfuscated identifiers: the client's address is not known.
    assert where(c, forwarded="for=unknown;proto=https")["client"] is None
    assert where(c, forwarded="for=_hidden")["client"] is None


@pytest.mark.parametrize(("header", "value", "message"), [
    ("forwarded", 'for="1.2.3.4', "Forwarded header is malformed"),
    ("forwarded", "for=1.2.3.4 proto=https", "Forwarded header is malformed"),
    ("forwarded", "for", "Forwarded header is malformed"),
    ("x-forwarded-proto", "gopher", "unknown protocol"),
    ("x-forwarded-host", "evil.com/path", "invalid host"),
    ("x-forwarded-host", "a@b", "invalid host"),
])
def test_malformed_forwarding_headers_from_a_trusted_proxy_are_a_400(
    client: Client, header: str, value: str, message: str
) -> None:
    mode = "forwarded" if header == "forwarded" else "x-forwarded"
    c = client(site(trusted_proxies=["10.0.0.1"], header=mode), client_address=PROXY)
    response = c.get("/where", headers={header: value})
    assert response.status_code == 400 and message in response.text


def test_a_long_forwarded_header_is_parsed_in_one_pass(client: Client) -> None:
    c = client(site(trusted_proxies=["10.0.0.1"], header="forwarded"), client_address=PROXY)
    hops = ", ".join(f"for=198.51.100.{i % 250}" for i in range(2000))
    assert where(c, forwarded=hops)["client"] == ["198.51.100.249", 0]
    blank = " " * 50_000 + ","
    assert where(c, forwarded=blank)["client"] == list(PROXY)


def test_the_host_check_applies_to_the_forwarded_host(client: Client) -> None:
    c = client(site(trusted_proxies=["10.0.0.1"], allowed_hosts=["example.com"]),
               client_address=PROXY)
    assert c.get("/", headers={"host": "internal:8000",
                               "x-forwarded-host": "example.com"}).text == "home"
    assert c.get("/", headers={"host": "example.com",
                               "x-forwarded-host": "evil.com"}).status_code == 400


def test_an_ipv4_proxy_seen_through_a_dual_stack_socket_is_trusted(client: Client) -> None:
    c = client(site(trusted_proxies=["10.0.0.0/8"]), client_address=("::ffff:10.0.0.1", 4000))
    assert where(c, **{"x-forwarded-for": "198.51.100.7"})["client"] == ["198.51.100.7", 0]


def test_unix_socket_peers_and_websockets(client: Client) -> None:
    app = site(trusted_proxies=["unix"])
    c = client(app, client_address=None)
    seen = where(c, **{"x-forwarded-for": "198.51.100.7", "x-forwarded-proto": "https"})
    assert seen["client"] == ["198.51.100.7", 0] and seen["scheme"] == "https"
    with c.websocket_connect("/echo", headers={"x-forwarded-for": "198.51.100.7",
                                               "x-forwarded-proto": "https"}) as ws:
        assert ws.receive_json() == {"scheme": "wss", "client": ["198.51.100.7", 0]}


@pytest.mark.parametrize(("proxy", "message"), [
    ({"trusted_proxies": ["10.0.0.0/33"]}, "expected IP addresses or networks"),
    ({"trusted_proxies": ["proxy.internal"]}, "expected IP addresses or networks"),
    ({"allowed_hosts": ["example.com:80"]}, "not a host name or pattern"),
    ({"allowed_hosts": ["*example.com"]}, "not a host name or pattern"),
    ({"allowed_hosts": "example.com"}, "expects list or tuple or NoneType"),
    ({"header": "x-real-ip"}, "must be 'x-forwarded' or 'forwarded'"),
])
def test_configuration_mistakes_fail_at_construction(proxy: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        site(**proxy)


def test_csrf_and_cors_behind_the_proxy_see_the_public_origin(client: Client) -> None:
    from micropie_csrf import csrf_token

    class Shop(App):
        async def form(self) -> str:
            return csrf_token()

        async def buy(self) -> str:
            return "bought"

    app = Shop(config={
        "proxy": {"trusted_proxies": ["10.0.0.1"], "allowed_hosts": ["shop.example.com"]},
        "cors": {"allow_origins": ["https://shop.example.com"]},
        "csrf": {},
    })
    c = client(app, client_address=PROXY)
    public = {"host": "backend:8000", "x-forwarded-proto": "https",
              "x-forwarded-host": "shop.example.com"}
    form = c.get("/form", headers=public)
    token, cookie = form.text, form.headers["set-cookie"]
    assert "Secure" in cookie  # so the http:// test client keeps it to itself: send it
    public["cookie"] = cookie.partition(";")[0]
    bought = c.post("/buy", data={"csrf_token": token},
                    headers={**public, "origin": "https://shop.example.com"})
    assert bought.text == "bought"
    assert bought.headers["access-control-allow-origin"] == "https://shop.example.com"
    # Without the proxy's word, the same Origin is another site (http://backend:8000).
    direct = c.post("/buy", data={"csrf_token": token},
                    headers={"host": "shop.example.com", "origin": "https://shop.example.com",
                             "cookie": public["cookie"]})
    assert direct.status_code == 403


def test_micropie_plugins_lists_it(capsys: pytest.CaptureFixture[str]) -> None:
    from micropie_core.cli import main

    assert main(["plugins"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "micropie-proxy" in lines["proxy"] and " yes " in lines["proxy"]
