"""micropie-core with micropie-static serving ``$STATIC_BENCH_DIR`` under ``/static``."""

import os

from micropie_core import App


class Root(App):
    async def index(self) -> str:
        return "Hello, World!"


app = Root(config={"static": {"directories": os.environ["STATIC_BENCH_DIR"]}})
