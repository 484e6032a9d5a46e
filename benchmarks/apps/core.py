"""micropie-core with only its built-in plugins active."""

from micropie_core import App


class Root(App):
    async def index(self) -> str:
        return "Hello, World!"

    async def json(self) -> dict[str, str]:
        return {"message": "Hello, World!"}

    async def greet(self, name: str, greeting: str = "Hello") -> str:
        return f"{greeting}, {name}!"


app = Root(plugins=["sessions", "streaming"])
