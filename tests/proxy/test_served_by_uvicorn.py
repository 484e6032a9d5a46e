"""micropie-proxy over a real uvicorn, its own proxy-header handling off (see docs/proxy.md)."""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path

import httpx

from tests.support import UvicornProcess

APP = '''
from micropie_core import App

class Site(App):
    async def where(self):
        request = self.request
        return {"client": request.client[0], "scheme": request.scope["scheme"],
                "host": request.headers["host"]}

    async def login(self):
        self.request.session["user"] = "ann"
        return "in"

behind_proxy = Site(config={
    "proxy": {"trusted_proxies": ["127.0.0.1"], "allowed_hosts": ["example.com"]},
    "sessions": {"secure": None},
})
exposed = Site(config={"proxy": {"trusted_proxies": ["10.0.0.0/8"]},
                       "sessions": {"secure": None}})
'''


def raw_request(port: int, request: bytes) -> bytes:
    """Send one request on a fresh connection; read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_behind_a_trusted_proxy(tmp_path: Path) -> None:
    (tmp_path / "proxy_app.py").write_text(textwrap.dedent(APP))
    with UvicornProcess("proxy_app:behind_proxy", tmp_path,
                        extra_args=["--no-proxy-headers"]) as server, httpx.Client(
        base_url=server.url, timeout=10, headers={"host": "example.com"}
    ) as http:
        seen = http.get("/where", headers={"x-forwarded-for": "6.6.6.6, 198.51.100.7",
                                           "x-forwarded-proto": "https"}).json()
        assert seen == {"client": "198.51.100.7", "scheme": "https", "host": "example.com"}
        cookie = http.get("/login", headers={"x-forwarded-proto": "https"}).headers["set-cookie"]
        assert "Secure" in cookie

        # Host header injection: refused before the body, and the connection closes
        # even though the client asked to keep it open and sent a body.
        answer = raw_request(server.port, b"POST /where HTTP/1.1\r\nHost: evil.com\r\n"
                                          b"Content-Length: 5\r\nConnection: keep-alive"
                                          b"\r\n\r\nhello")
        head = answer.split(b"\r\n\r\n")[0].lower()
        assert head.startswith(b"http/1.1 400") and b"connection: close" in head
        forwarded_evil = http.get("/where", headers={"x-forwarded-host": "evil.com"})
        assert forwarded_evil.status_code == 400


def test_spoofed_x_forwarded_for_from_an_untrusted_peer(tmp_path: Path) -> None:
    (tmp_path / "proxy_app.py").write_text(textwrap.dedent(APP))
    with UvicornProcess("proxy_app:exposed", tmp_path,
                        extra_args=["--no-proxy-headers"]) as server, httpx.Client(
        base_url=server.url, timeout=10
    ) as http:
        seen = http.get("/where", headers={"x-forwarded-for": "10.0.0.7",
                                           "x-forwarded-proto": "https",
                                           "x-forwarded-host": "admin.example.com"}).json()
        assert seen == {"client": "127.0.0.1", "scheme": "http",
                        "host": f"127.0.0.1:{server.port}"}
        cookie = http.get("/login", headers={"x-forwarded-proto": "https"}).headers["set-cookie"]
        assert "Secure" not in cookie
