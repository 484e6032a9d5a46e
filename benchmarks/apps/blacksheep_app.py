"""BlackSheep (Cython-accelerated): decorator routes."""

from blacksheep import Application, Request, html, json

app = Application()


@app.router.get("/")
async def index() -> object:
    return html("Hello, World!")


@app.router.get("/json")
async def json_endpoint() -> object:
    return json({"message": "Hello, World!"})


@app.router.get("/greet/{name}")
async def greet(request: Request, name: str) -> object:
    greeting = request.query.get("greeting", ["Hello"])[0]
    return html(f"{greeting}, {name}!")
