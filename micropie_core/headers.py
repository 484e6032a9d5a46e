"""Case-insensitive, read-only view of ASGI request headers that keeps repeats."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .types import RawHeaders


class Headers(Mapping[str, str]):
    """Request headers keyed case-insensitively.

    ``headers["x"]`` and ``headers.get("x")`` give the first value, like Starlette;
    ``headers.getlist("x")`` gives every value in the order received. Decoding is
    latin-1, the encoding HTTP/1.1 header bytes are defined in, so it never fails.
    """

    __slots__ = ("_index", "_raw")

    def __init__(self, raw: RawHeaders | None = None) -> None:
        self._raw: RawHeaders = raw or []
        self._index: dict[str, list[str]] | None = None

    @property
    def raw(self) -> RawHeaders:
        """The headers exactly as the server passed them."""
        return self._raw

    def _lookup(self) -> dict[str, list[str]]:
        index = self._index
        if index is None:
            index = {}
            for key, value in self._raw:
                name = key.decode("latin-1").lower()
                index.setdefault(name, []).append(value.decode("latin-1"))
            self._index = index
        return index

    def __getitem__(self, name: str) -> str:
        return self._lookup()[name.lower()][0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lookup()

    def __iter__(self) -> Iterator[str]:
        return iter(self._lookup())

    def __len__(self) -> int:
        return len(self._lookup())

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        values = self._lookup().get(name.lower())
        return values[0] if values else default

    def getlist(self, name: str) -> list[str]:
        """Every value of ``name`` (empty list when absent)."""
        return list(self._lookup().get(name.lower(), ()))

    def __repr__(self) -> str:
        return f"Headers({[(k, v) for k, vs in self._lookup().items() for v in vs]!r})"
