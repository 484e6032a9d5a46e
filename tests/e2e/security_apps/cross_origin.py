"""Two apps for the browser test of micropie-cors and micropie-csrf.

``api:app`` (origin API_ORIGIN) allows PAGE_ORIGIN through CORS, with cookies,
and trusts it for CSRF; ``pages:app`` serves the pages that call it, from
PAGE_ORIGIN (allowed) or another origin (not allowed).
"""

from __future__ import annotations

import os
from typing import Any

from micropie_csrf import csrf_token

from micropie_core import App

API = os.environ.get("API_ORIGIN", "")
PAGE = os.environ.get("PAGE_ORIGIN", "")


class Api(App):
    _methods = {"save": ["PUT"]}

    async def token(self) -> dict[str, str]:
        self.request.session["user"] = "ann"
        return {"token": csrf_token()}

    async def save(self) -> dict[str, Any]:
        return {"saved": self.request.json("item"), "user": self.request.session.get("user")}

    async def submit(self) -> str:
        return "submitted"


api = Api(config={
    "cors": {"allow_origins": [PAGE], "allow_methods": ["GET", "PUT"],
             "allow_headers": ["X-CSRF-Token"], "allow_credentials": True},
    "csrf": {"trusted_origins": [PAGE]},
    "sessions": {"secure": False, "samesite": "lax"},
})

SCRIPT = """
<p id="out">waiting</p>
<script>
(async () => {
  const out = document.getElementById("out");
  try {
    const got = await fetch("%(api)s/token", {credentials: "include"});
    const {token} = await got.json();
    const saved = await fetch("%(api)s/save", {
      method: "PUT", credentials: "include",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body: JSON.stringify({item: "pen"}),
    });
    out.textContent = saved.status + " " + JSON.stringify(await saved.json());
  } catch (error) {
    out.textContent = "blocked: " + error.name;
  }
})();
</script>
"""


class Pages(App):
    async def index(self) -> str:
        return SCRIPT % {"api": API}

    async def forged(self) -> str:
        # A cross-site form post: the browser adds the API's cookies and its own Origin.
        return (f'<form id="f" method="post" action="{API}/submit">'
                '<input name="csrf_token" value="guessed"></form>'
                '<script>document.getElementById("f").submit()</script>')


pages = Pages()
