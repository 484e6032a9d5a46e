"""What every template sees: ``request``, a lazy ``session``, and plugin contributions."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

from micropie_core import App, Request


class LazySession(MutableMapping[str, Any]):
    """``session`` in a template: touches ``request.session`` only when used.

    A template that never mentions ``session`` therefore neither creates a
    session nor needs a session store.
    """

    __slots__ = ("_request",)

    def __init__(self, request: Request) -> None:
        self._request = request

    def __getitem__(self, key: str) -> Any:
        return self._request.session[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._request.session[key] = value

    def __delitem__(self, key: str) -> None:
        del self._request.session[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._request.session)

    def __len__(self) -> int:
        return len(self._request.session)

    def __repr__(self) -> str:
        return f"LazySession({dict(self._request.session)!r})"


def context_contributors(app: App) -> list[tuple[Callable[..., Any], list[str]]]:
    """The ``template_context`` implementations, resolved once.

    Ordered so that merging their results in turn lets the implementation
    pluggy would call first (``tryfirst``, else the latest registered) win.
    """
    hook = app.plugins.manager.hook.template_context
    return [(impl.function, list(impl.argnames)) for impl in hook.get_hookimpls()]


async def contributions(
    contributors: list[tuple[Callable[..., Any], list[str]]],
    app: App,
    request: Request | None,
) -> dict[str, Any]:
    """Call every contributor (awaiting async ones) and merge their dicts."""
    arguments = {"app": app, "request": request}
    merged: dict[str, Any] = {}
    for function, argnames in contributors:
        result = function(*[arguments[name] for name in argnames])
        if inspect.isawaitable(result):
            result = await result
        if result is None:
            continue
        if not isinstance(result, Mapping):
            raise TypeError(
                f"template_context hook {function.__module__}.{function.__qualname__} "
                f"returned {type(result).__name__}; expected a dict of template names "
                "to values, or None."
            )
        merged.update(result)
    return merged
