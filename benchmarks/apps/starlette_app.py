"""Starlette: explicit routes, one endpoint function each."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route


async def index(request: Request) -> HTMLResponse:
    return HTMLResponse("Hello, World!")


async def json_endpoint(request: Request) -> JSONResponse:
    return JSONResponse({"message": "Hello, World!"})


async def greet(request: Request) -> HTMLResponse:
    greeting = request.query_params.get("greeting", "Hello")
    return HTMLResponse(f"{greeting}, {request.path_params['name']}!")


app = Starlette(routes=[
    Route("/", index),
    Route("/json", json_endpoint),
    Route("/greet/{name}", greet),
])
