"""``Record``: the base of the small read-only plans computed at start-up (routes, parameters)."""

from __future__ import annotations

from typing import Any, dataclass_transform


class _RecordType(type):
    """Gives each record class ``__slots__`` named after its annotated fields."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> type:
        namespace["__slots__"] = tuple(namespace.get("__annotations__", ()))
        return super().__new__(mcs, name, bases, namespace)


@dataclass_transform(kw_only_default=True, frozen_default=True)
class Record(metaclass=_RecordType):
    """Annotated fields, set once by keyword, read-only afterwards.

    Used instead of ``typing.NamedTuple`` for what the request path reads on
    every request: CPython 3.11 specialises reading a slot (``LOAD_ATTR_SLOT``)
    but reads a NamedTuple field through its descriptor generically, about 150
    instructions more per read. And instead of a frozen dataclass, whose
    decorator compiles its methods at import (1-1.5 ms per class).
    """

    def __init__(self, **fields: Any) -> None:
        names: tuple[str, ...] = type(self).__slots__  # type: ignore[attr-defined]
        if fields.keys() != set(names):
            raise TypeError(
                f"{type(self).__name__}() takes the fields {', '.join(names)} by keyword; "
                f"got {', '.join(fields) or 'none'}."
            )
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only: cannot set {name!r}.")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only: cannot delete {name!r}.")

    def __repr__(self) -> str:
        names: tuple[str, ...] = type(self).__slots__  # type: ignore[attr-defined]
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({fields})"
