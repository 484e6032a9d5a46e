"""Private helpers for iterating in a worker thread without leaking it."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_END: Any = object()


async def iterate_in_thread(iterator: Iterator[T]) -> AsyncIterator[T]:
    """Advance a blocking iterator in a worker thread, one item per step.

    Closing (or cancelling the consumer of) this async generator lets a step
    already running in the thread finish, then closes ``iterator`` in a
    thread too, so a generator's ``finally`` always runs and never on the loop.
    """
    loop = asyncio.get_running_loop()
    step: asyncio.Future[Any] | None = None
    try:
        while True:
            context = contextvars.copy_context()
            step = loop.run_in_executor(None, context.run, _next, iterator)
            item = await asyncio.shield(step)
            step = None
            if item is _END:
                return
            yield item
    finally:
        if step is not None:
            await asyncio.wait({step})  # the thread is still inside next()
            if not step.cancelled():
                step.exception()  # retrieved: the consumer is gone anyway
        close = getattr(iterator, "close", None)
        if close is not None:
            await asyncio.to_thread(close)


def _next(iterator: Iterator[Any]) -> Any:
    return next(iterator, _END)


def as_async_iterator(source: AsyncIterable[T] | Iterable[T]) -> AsyncIterator[T]:
    """An async iterator over ``source``; a blocking one advances in a worker thread."""
    if isinstance(source, AsyncIterable):
        return aiter(source)
    return iterate_in_thread(iter(source))
