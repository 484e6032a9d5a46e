"""Argument binding: from path, query, form, JSON and files to handler arguments.

The plan for each handler (which parameters, which conversions) is computed once
by :func:`plan_params`; :func:`bind` then does only per-request work.
"""

from __future__ import annotations

import inspect
import math
import re
import types
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._records import Record
from .errors import HTTPError
from .uploads import UploadedFile

if TYPE_CHECKING:
    from .requests import Request
    from .routing import Route

EMPTY = inspect.Parameter.empty
VAR_POSITIONAL = inspect.Parameter.VAR_POSITIONAL
VAR_KEYWORD = inspect.Parameter.VAR_KEYWORD
KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY

_INTEGER = re.compile(r"[+-]?[0-9]+")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


class _Invalid(Exception):
    """A value could not be converted; bind() turns it into a 400."""


def _text_to_int(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise _Invalid
    return int(text)


def _text_to_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _Invalid from None
    if not math.isfinite(value):
        raise _Invalid
    return value


def _text_to_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _Invalid


def _native_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Invalid
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return _text_to_int(value)
    raise _Invalid


def _native_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _Invalid
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return _text_to_float(value)
    raise _Invalid


def _native_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _text_to_bool(value)
    raise _Invalid


def _native_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _Invalid


def _native_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode()
    raise _Invalid


# annotation -> (convert text, convert JSON value)
_CONVERTERS: dict[Any, tuple[Callable[[str], Any], Callable[[Any], Any]]] = {
    int: (_text_to_int, _native_int),
    float: (_text_to_float, _native_float),
    bool: (_text_to_bool, _native_bool),
    str: (str, _native_str),
    bytes: (str.encode, _native_bytes),
}
_BY_NAME = {t.__name__: t for t in _CONVERTERS}


class Param(Record):
    """How one handler parameter is filled."""

    name: str
    kind: inspect._ParameterKind
    default: Any
    type_name: str
    from_text: Callable[[str], Any] | None
    from_json: Callable[[Any], Any] | None
    multi: bool  # list[...]: every value of the name, not just the first
    file: bool  # annotated UploadedFile / list[UploadedFile]: binds from files only


def _resolve_annotations(function: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except Exception:
        # Unresolvable forward references: fall back to the raw annotations and
        # understand the few names conversion cares about.
        raw = dict(getattr(function, "__annotations__", {}))
        for name, value in raw.items():
            if isinstance(value, str):
                text = value.replace(" ", "")
                optional = text.endswith("|None")
                text = text.removesuffix("|None")
                if text in _BY_NAME:
                    raw[name] = _BY_NAME[text]
                elif text.startswith("list[") and text[5:-1] in _BY_NAME:
                    raw[name] = list[_BY_NAME[text[5:-1]]]  # type: ignore[misc]
                elif text.rpartition(".")[2] == "UploadedFile":
                    raw[name] = UploadedFile
                elif text.startswith("list[") and text[5:-1].rpartition(".")[2] == "UploadedFile":
                    raw[name] = list[UploadedFile]
                if optional and not isinstance(raw[name], str):
                    raw[name] = raw[name] | None
        return raw


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def plan_params(
    function: Callable[..., Any], parameters: list[inspect.Parameter]
) -> tuple[Param, ...]:
    """Compute the binding plan of a handler (its parameters after ``self``)."""
    hints = _resolve_annotations(function)
    plan = []
    for parameter in parameters:
        annotation = _unwrap_optional(hints.get(parameter.name, EMPTY))
        multi = typing.get_origin(annotation) is list
        if multi:
            inner = typing.get_args(annotation)
            annotation = inner[0] if inner else str
        is_file = annotation is UploadedFile
        converters = _CONVERTERS.get(annotation)
        type_name = annotation.__name__ if converters or is_file else ""
        if multi and (converters or is_file):
            type_name = f"list[{type_name}]"
        plan.append(
            Param(
                name=parameter.name,
                kind=parameter.kind,
                default=parameter.default,
                type_name=type_name,
                from_text=converters[0] if converters else None,
                from_json=converters[1] if converters else None,
                multi=multi,
                file=is_file,
            )
        )
    return tuple(plan)


def _invalid(param: Param, value: Any) -> HTTPError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return HTTPError(
        400, f"Invalid value for parameter '{param.name}': expected {param.type_name}, got {shown}"
    )


def _from_texts(param: Param, values: list[str]) -> Any:
    if param.file:  # a path segment (or *args) can never be an upload
        raise _text_for_file(param)
    convert = param.from_text
    try:
        if param.multi:
            return [convert(v) for v in values] if convert else list(values)
        return convert(values[0]) if convert else values[0]
    except (_Invalid, ValueError):
        raise _invalid(param, values if param.multi else values[0]) from None


def _from_json(param: Param, value: Any) -> Any:
    convert = param.from_json
    if convert is None:
        return value
    try:
        if param.multi:
            if not isinstance(value, list):
                raise _Invalid
            return [convert(v) for v in value]
        return convert(value)
    except (_Invalid, ValueError):
        raise _invalid(param, value) from None


def bind(route: Route, request: Request) -> tuple[list[Any], dict[str, Any]]:
    """Build ``(args, kwargs)`` for ``route`` from the request; HTTPError(400) if impossible."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    segments = request.path_params
    count = len(segments)
    index = 0
    for param in route.params:
        kind = param.kind
        if kind is VAR_POSITIONAL:
            args.extend(_from_texts(param, [s]) if type(s) is str else s
                        for s in segments[index:])
            index = count
            continue
        if kind is VAR_KEYWORD:
            continue
        if index < count:
            segment = segments[index]
            # A middleware doing explicit routing may set path_params it has already
            # converted (MicroPie's {record:int}); those reach the handler as given.
            value = _from_texts(param, [segment]) if type(segment) is str else segment
            index += 1
        else:
            value = _lookup(param, request)
        if kind is KEYWORD_ONLY:
            kwargs[param.name] = value
        else:
            args.append(value)
    if route.has_var_keyword:
        _collect_extra(route, request, kwargs)
    return args, kwargs


def _lookup(param: Param, request: Request) -> Any:
    name = param.name
    if param.file:
        return _lookup_file(param, request)
    values = request.query_params.get(name) or request.body_params.get(name)
    if values:
        return _from_texts(param, values)
    body = request._json
    if isinstance(body, dict) and name in body:
        return _from_json(param, body[name])
    files = request.files
    if name in files:
        if param.from_text is not None:  # an int, str, bytes... parameter: never a file
            raise HTTPError(
                400, f"Invalid value for parameter '{name}': expected {param.type_name}, "
                "got a file (annotate it UploadedFile to receive one)"
            )
        return files[name]
    if param.default is EMPTY:
        raise HTTPError(400, f"Missing required parameter '{name}'")
    return param.default


def _lookup_file(param: Param, request: Request) -> Any:
    """An ``UploadedFile`` parameter binds from uploads only; text there is a 400."""
    name = param.name
    files = request.files
    if name in files:
        if not param.multi:
            return files[name]
        getlist = getattr(files, "getlist", None)
        return getlist(name) if getlist is not None else [files[name]]
    if request.query_params.get(name) or request.body_params.get(name):
        raise _text_for_file(param)
    if param.default is EMPTY:
        raise HTTPError(400, f"Missing required parameter '{name}'")
    return param.default


def _text_for_file(param: Param) -> HTTPError:
    return HTTPError(
        400, f"Invalid value for parameter '{param.name}': expected {param.type_name} "
        "(a file sent as multipart/form-data), got a text value"
    )


def _collect_extra(route: Route, request: Request, kwargs: dict[str, Any]) -> None:
    taken = {p.name for p in route.params}
    for source in (request.query_params, request.body_params):
        for name, values in source.items():
            if name not in taken and name not in kwargs and values:
                kwargs[name] = values[0]
    body = request._json
    if isinstance(body, dict):
        for name, value in body.items():
            if isinstance(name, str) and name not in taken and name not in kwargs:
                kwargs[name] = value
    for name, value in request.files.items():
        if name not in taken and name not in kwargs:
            kwargs[name] = value


def form_names_to_wait_for(route: Route, request: Request) -> list[str] | None:
    """Form names the handler's parameters may bind from; ``None`` = the whole form.

    A multipart body is still arriving when the handler is found, so binding
    waits for these names (or the end of the body). Sync handlers and
    handlers taking ``**kwargs`` or ``list[...]`` get the whole form.
    """
    if not route.is_async or route.has_var_keyword:
        return None
    names = []
    segments = len(request.path_params)
    query = request.query_params
    for param in route.params:
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if segments > 0:  # bound from a path segment, as bind() does
            segments -= 1
            continue
        if param.multi:
            return None
        if param.name not in query or param.file:
            names.append(param.name)
    return names
