"""MicroPie Core: a fast, plugin-based ASGI framework where URLs map to method names."""

from .app import App
from .bodies import ClientDisconnect
from .config import Setting
from .errors import ConfigError, HTTPError, PluginError
from .headers import Headers
from .hookspecs import hookimpl
from .middleware import HttpMiddleware
from .requests import Request, current_request
from .responses import Response
from .serialization import json_dumps, json_loads
from .sessions import Session, SessionBackend, SessionStore
from .sse import sse
from .uploads import UploadedFile

__all__ = [
    "App",
    "ClientDisconnect",
    "ConfigError",
    "HTTPError",
    "Headers",
    "HttpMiddleware",
    "PluginError",
    "Request",
    "Response",
    "Session",
    "SessionBackend",
    "SessionStore",
    "Setting",
    "UploadedFile",
    "current_request",
    "hookimpl",
    "json_dumps",
    "json_loads",
    "sse",
]
