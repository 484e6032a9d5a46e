"""micropie-core with a session-reading and a session-writing endpoint.

The store comes from the environment (set by ``sessions_http.py``):
``BENCH_SESSION_STORE`` is ``memory`` or ``redis``; ``BENCH_REDIS_URL`` the Redis.
"""

import os

from micropie_core import App


class Sessions(App):
    async def read(self) -> str:
        return str(self.request.session.get("visits", 0))

    async def write(self) -> str:
        visits = self.request.session.get("visits", 0) + 1
        self.request.session["visits"] = visits
        return str(visits)


_store = os.environ.get("BENCH_SESSION_STORE", "memory")
_sessions: dict[str, object] = {"store": _store}
if _store == "redis":
    _sessions.update(url=os.environ["BENCH_REDIS_URL"], prefix="bench:core:")
app = Sessions(plugins=["sessions", "sessions_redis"], config={"sessions": _sessions})
