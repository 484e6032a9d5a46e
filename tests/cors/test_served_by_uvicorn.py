"""micropie-cors over a real uvicorn: a browser-like preflight, a simple request, origin tricks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx

from tests.support import UvicornProcess

APP = '''
from micropie_core import App

class Api(App):
    _methods = {"items": ["GET", "PUT"]}

    async def items(self):
        return {"items": [1, 2]}

app = Api(config={"cors": {
    "allow_origins": ["https://app.example.com", "https://*.example.org"],
    "allow_methods": ["GET", "PUT"],
    "allow_headers": ["Authorization"],
    "allow_credentials": True,
}})
'''


def test_cors_served_by_uvicorn(tmp_path: Path) -> None:
    (tmp_path / "cors_app.py").write_text(textwrap.dedent(APP))
    with UvicornProcess("cors_app:app", tmp_path) as server, httpx.Client(
        base_url=server.url, timeout=10
    ) as http:
        answer = http.options("/items", headers={
            "origin": "https://shop.example.org", "access-control-request-method": "PUT",
            "access-control-request-headers": "authorization,content-type"})
        assert answer.status_code == 204
        assert answer.headers["access-control-allow-origin"] == "https://shop.example.org"
        assert answer.headers["access-control-allow-credentials"] == "true"
        assert answer.headers["access-control-allow-headers"] == "authorization, content-type"

        simple = http.get("/items", headers={"origin": "https://app.example.com"})
        assert simple.json() == {"items": [1, 2]}
        assert simple.headers["access-control-allow-origin"] == "https://app.example.com"
        assert simple.headers["vary"] == "Origin"

        for trick in ("https://evil-example.org", "https://example.org.evil.net", "null",
                      "https://app.example.com.evil.net", "http://app.example.com"):
            refused = http.options("/items", headers={
                "origin": trick, "access-control-request-method": "PUT"})
            assert refused.status_code == 403, trick
            assert "access-control-allow-origin" not in refused.headers
            read = http.get("/items", headers={"origin": trick})
            assert read.status_code == 200 and "access-control-allow-origin" not in read.headers

        # The handler's _methods still apply to the actual request.
        assert http.delete("/items", headers={"origin": "https://app.example.com"}
                           ).status_code == 405
