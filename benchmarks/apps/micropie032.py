"""MicroPie 0.32, the framework micropie-core keeps compatible with."""

from micropie import App


class Root(App):
    async def index(self):
        return "Hello, World!"

    async def json(self):
        return {"message": "Hello, World!"}

    async def greet(self, name, greeting="Hello"):
        return f"{greeting}, {name}!"


app = Root()
