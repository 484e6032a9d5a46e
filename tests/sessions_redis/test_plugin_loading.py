"""The plugin is loaded by every App() where it is installed; redis only when configured."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from micropie_core import App

class Site(App):
    async def index(self):
        return "hi"

app = Site()
print("sessions_redis" in app.plugins.active_names(), "redis" in sys.modules)
Site(config={"sessions": {"store": "redis", "url": "redis://127.0.0.1:1/0"}})
print("redis" in sys.modules)
"""


def test_redis_is_imported_only_when_the_redis_store_is_configured() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.split() == ["True", "False", "True"]
