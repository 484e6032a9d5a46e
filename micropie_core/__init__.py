"""MicroPie Core: a fast, plugin-based ASGI framework where URLs map to method names."""

from .app import App
from .config import Setting
from .errors import ConfigError, HTTPError, PluginError
from .headers import Headers
from .hookspecs import hookimpl
from .middleware import HttpMiddleware
from .requests import Request
from .responses import Response
from .serialization import json_dumps, json_loads
from .sessions import Session, SessionBackend, SessionStore

__all__ = [
    "App",
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
    "hookimpl",
    "json_dumps",
    "json_loads",
]
