"""The codings: gzip always, brotli and zstd when their packages are installed.

Each is a one-shot function for whole bodies and a stream object for
streamed ones. Nothing here ever decompresses: the plugin only compresses
what the app sends, so there is no decompression-bomb surface.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class Stream(Protocol):
    """Incremental compression of one response body."""

    def write(self, data: bytes) -> bytes:
        """Compress ``data`` and flush, so the client can decode everything sent so far."""

    def finish(self) -> bytes:
        """The end of the compressed stream."""


@dataclass(frozen=True)
class Coding:
    """A content coding: its ``Content-Encoding`` token and how to produce it."""

    name: str
    compress: Callable[[bytes], bytes]
    stream: Callable[[], Stream]


class _Zlib:
    def __init__(self, level: int) -> None:
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: gzip framing

    def write(self, data: bytes) -> bytes:
        return self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._compressor.flush(zlib.Z_FINISH)


def _gzip(level: int) -> Coding:
    def compress(data: bytes) -> bytes:
        compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
        return compressor.compress(data) + compressor.flush()

    return Coding("gzip", compress, lambda: _Zlib(level))


class _Brotli:
    def __init__(self, module: Any, quality: int) -> None:
        self._compressor = module.Compressor(quality=quality)

    def write(self, data: bytes) -> bytes:
        return bytes(self._compressor.process(data) + self._compressor.flush())

    def finish(self) -> bytes:
        return bytes(self._compressor.finish())


def _brotli(module: Any, quality: int) -> Coding:
    return Coding("br", lambda data: bytes(module.compress(data, quality=quality)),
                  lambda: _Brotli(module, quality))


class _Zstd:
    def __init__(self, module: Any, level: int) -> None:
        self._module = module
        self._compressor = module.ZstdCompressor(level=level).compressobj()

    def write(self, data: bytes) -> bytes:
        flushed = self._compressor.flush(self._module.COMPRESSOBJ_FLUSH_BLOCK)
        return bytes(self._compressor.compress(data) + flushed)

    def finish(self) -> bytes:
        return bytes(self._compressor.flush())


def _zstd(module: Any, level: int) -> Coding:
    compressor = module.ZstdCompressor(level=level)
    return Coding("zstd", lambda data: bytes(compressor.compress(data)),
                  lambda: _Zstd(module, level))


#: The package each optional coding needs (``pip install micropie-compress[brotli]``).
OPTIONAL_PACKAGES = {"br": "brotli", "zstd": "zstandard"}
KNOWN = ("br", "zstd", "gzip")


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def available_codings(preference: Sequence[str], gzip_level: int, brotli_quality: int,
                      zstd_level: int) -> list[Coding]:
    """The codings of ``preference`` that can run here, in that order.

    An optional coding whose package is not installed is left out silently:
    installing the package is what turns it on.
    """
    codings = []
    for name in preference:
        if name == "gzip":
            codings.append(_gzip(gzip_level))
        elif name == "br" and (module := _import("brotli")) is not None:
            codings.append(_brotli(module, brotli_quality))
        elif name == "zstd" and (module := _import("zstandard")) is not None:
            codings.append(_zstd(module, zstd_level))
    return codings


def choose(accept_encoding: str, codings: Sequence[Coding]) -> Coding | None:
    """The coding to use for ``Accept-Encoding: accept_encoding`` (RFC 9110 §12.5.3).

    The highest q-value wins; on a tie, the order of ``codings`` (the
    server's preference). ``*`` covers codings not named; ``q=0`` refuses one;
    ``x-gzip`` is ``gzip``. A malformed q-value makes its item count as
    refused. One pass over the header: linear in its length.
    """
    weights: dict[str, float] = {}
    star: float | None = None
    for item in accept_encoding.split(","):
        token, _, params = item.partition(";")
        token = token.strip(" \t").lower()
        if not token:
            continue
        weight = 1.0
        if params:
            name, _, value = params.strip(" \t").partition("=")
            weight = _qvalue(value) if name.strip(" \t").lower() == "q" else 0.0
        if token == "*":
            star = weight
        else:
            weights["gzip" if token == "x-gzip" else token] = weight
    best: Coding | None = None
    best_weight = 0.0
    for coding in codings:
        weight = weights.get(coding.name, star if star is not None else 0.0)
        if weight > best_weight:
            best, best_weight = coding, weight
    return best


def _qvalue(text: str) -> float:
    text = text.strip(" \t")
    if len(text) > 5 or not text or not text.replace(".", "", 1).isdigit() \
            or not text.isascii():
        return 0.0
    value = float(text)
    return value if 0.0 <= value <= 1.0 else 0.0
