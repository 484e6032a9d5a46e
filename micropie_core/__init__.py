"""MicroPie Core: a fast, plugin-based ASGI framework where URLs map to method names."""

from ._builtin.memory_sessions import InMemorySessionBackend
from .app import App
from .bodies import DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_FORM_FIELD_SIZE, ClientDisconnect
from .compat import JINJA_INSTALLED, MULTIPART_INSTALLED
from .config import Setting
from .errors import ConfigError, HTTPError, PluginError
from .headers import Headers
from .hookspecs import hookimpl
from .middleware import HttpMiddleware
from .requests import Request, current_request
from .responses import Response
from .serialization import json_dumps, json_loads
from .sessions import SESSION_TIMEOUT, Session, SessionBackend, SessionStore
from .sse import sse
from .uploads import MultipartFileError, UploadedFile

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_FORM_FIELD_SIZE",
    "JINJA_INSTALLED",
    "MULTIPART_INSTALLED",
    "SESSION_TIMEOUT",
    "App",
    "ClientDisconnect",
    "ConfigError",
    "HTTPError",
    "Headers",
    "HttpMiddleware",
    "InMemorySessionBackend",
    "MultipartFileError",
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
