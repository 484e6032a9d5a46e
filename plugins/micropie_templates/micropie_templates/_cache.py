"""Compiled templates, loaded in a worker thread so the event loop never waits on disk.

Jinja2 loads a template (reads the file, compiles it) the first time
``Environment.get_template`` asks for it, and ``{% extends %}``, ``{% include %}``
and ``{% import %}`` ask for their templates *while rendering*, on the event loop.
So the first load of a template happens here, in a thread, together with every
template it names literally (its "tree"): by the time it renders, all of them
are in Jinja2's cache and rendering does no I/O. Only a dynamically chosen name
(``{% include variable %}``) is still loaded during rendering, the first time.

The cache is unbounded (``cache_size=-1``): a template set is finite, and an
eviction would bring a disk read back onto the event loop. With ``auto_reload``
(for development) each render first checks, in a thread, whether a file of its
tree changed and, if so, starts afresh.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import jinja2
from jinja2 import meta

from . import _errors


class TemplateCache:
    """Hands out compiled templates whose whole static tree is already loaded."""

    #: What loading a template raises; :meth:`explain` turns it into a helpful error.
    loading_errors = (jinja2.TemplateNotFound, jinja2.TemplateSyntaxError)

    def __init__(self, environment: jinja2.Environment, auto_reload: bool) -> None:
        self.environment = environment
        self.auto_reload = auto_reload
        self._ready: dict[str, jinja2.Template] = {}
        self._trees: dict[str, list[jinja2.Template]] = {}
        self._references: dict[str, list[str]] = {}
        self._loading: dict[str, asyncio.Future[jinja2.Template]] = {}
        self._lock = threading.Lock()

    async def get(self, name: str) -> jinja2.Template:
        """The compiled template ``name``; loads it (and its tree) in a thread if needed.

        Raises ``jinja2.TemplateNotFound`` or ``jinja2.TemplateSyntaxError``.
        """
        if not self.auto_reload:
            template = self._ready.get(name)
            if template is not None:
                return template
        # Concurrent requests for the same template share one load.
        loop = asyncio.get_running_loop()
        pending = self._loading.get(name)
        if pending is None or pending.get_loop() is not loop:
            pending = loop.create_task(asyncio.to_thread(self.load, name))
            self._loading[name] = pending
            pending.add_done_callback(lambda done: self._forget(name, done))
        return await asyncio.shield(pending)

    @staticmethod
    def explain(exc: Exception, rendering: str | None, searched: list[str]) -> Exception:
        """The error to raise instead of ``exc`` (one of :attr:`loading_errors`)."""
        if isinstance(exc, jinja2.TemplateNotFound):
            return _errors.not_found(exc, rendering or str(exc.name), searched)
        if isinstance(exc, jinja2.TemplateSyntaxError):
            return _errors.syntax_error(exc)
        return exc

    def _forget(self, name: str, done: asyncio.Future[jinja2.Template]) -> None:
        if self._loading.get(name) is done:
            del self._loading[name]
        if not done.cancelled():
            done.exception()  # every waiter may have gone; the error is theirs, not the loop's

    def load(self, name: str) -> jinja2.Template:
        """Load ``name`` and its tree (blocking: call it in a worker thread)."""
        with self._lock:
            if self.auto_reload:
                tree = self._trees.get(name)
                if tree is not None and all(t.is_up_to_date for t in tree):
                    return tree[0]
                if tree is not None:
                    self.clear()
            template = self._ready.get(name)
            if template is not None:
                return template
            tree = list(self._load_tree(name))
            self._trees[name] = tree
            self._ready[name] = tree[0]
            return tree[0]

    def preload(self) -> int:
        """Load every template the loader can list (blocking); return how many."""
        names = self.environment.list_templates()
        for name in names:
            self.load(name)
        return len(names)

    def clear(self) -> None:
        """Forget every compiled template."""
        self._ready.clear()
        self._trees.clear()
        self._references.clear()
        if self.environment.cache is not None:
            self.environment.cache.clear()

    def _load_tree(self, name: str) -> Iterator[jinja2.Template]:
        environment = self.environment
        seen: set[str] = set()
        stack: list[tuple[str, str | None]] = [(name, None)]
        while stack:
            current, parent = stack.pop()
            try:
                template = environment.get_template(current, parent)
            except jinja2.TemplateNotFound:
                if parent is None:
                    raise
                # A missing reference may be optional ({% include ... ignore missing %}
                # or a list of alternatives); rendering reports it if it is needed.
                continue
            if template.name is None or template.name in seen:
                continue
            seen.add(template.name)
            yield template
            stack.extend((ref, template.name) for ref in self._referenced_by(template.name))

    def _referenced_by(self, name: str) -> list[str]:
        """Names ``name`` extends, includes or imports literally (scanned once)."""
        references = self._references.get(name)
        if references is None:
            environment = self.environment
            assert environment.loader is not None
            source, filename, _ = environment.loader.get_source(environment, name)
            tree = environment.parse(source, name, filename)
            references = [r for r in meta.find_referenced_templates(tree) if r is not None]
            self._references[name] = references
        return references
