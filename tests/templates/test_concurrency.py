"""A template awaiting something slow does not hold up other requests."""

from __future__ import annotations

import asyncio

from micropie_core import App
from micropie_core.testing import TestClient
from tests.templates.conftest import WriteTemplates

CONCURRENT = 1000


class Slow(App):
    async def page(self, n: int) -> str:
        return await self._render_template("slow.html", n=n)

    async def fast(self) -> str:
        return "fast"


def test_1000_slow_renders_do_not_block_a_fast_endpoint(templates: WriteTemplates) -> None:
    directory = templates({"slow.html": "<p>{{ n }}: {{ await_gate() }}</p>"})

    async def scenario() -> None:
        gate = asyncio.Event()
        all_waiting = asyncio.Event()
        waiting = 0

        async def await_gate() -> str:
            nonlocal waiting
            waiting += 1
            if waiting == CONCURRENT:
                all_waiting.set()
            await gate.wait()
            return "done"

        app = Slow(plugins=["templates"], config={"templates": {
            "directory": str(directory), "globals": {"await_gate": await_gate}}})
        async with TestClient(app) as client:
            pages = [asyncio.ensure_future(client.aget(f"/page/{i}"))
                     for i in range(CONCURRENT)]
            # Every render is now suspended inside the template, awaiting the gate...
            await asyncio.wait_for(all_waiting.wait(), 30)
            # ...and the app still answers other requests.
            fast = await asyncio.wait_for(client.aget("/fast"), 10)
            assert (fast.status_code, fast.text) == (200, "fast")
            assert not any(page.done() for page in pages)
            gate.set()
            responses = await asyncio.wait_for(asyncio.gather(*pages), 30)
        assert [r.status_code for r in responses] == [200] * CONCURRENT
        assert [r.text for r in responses] == [f"<p>{i}: done</p>" for i in range(CONCURRENT)]

    asyncio.run(scenario())
