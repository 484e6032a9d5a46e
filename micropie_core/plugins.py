"""Finding, loading and calling plugins: one pluggy ``PluginManager`` per App."""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import pluggy

from . import hookspecs
from .config import did_you_mean
from .errors import PluginError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

ENTRY_POINT_GROUP = "micropie"
ENV_VAR = "MICROPIE_PLUGINS"

#: Plugins that ship with the core; they load through the same hooks as any other.
BUILTIN_PLUGINS: dict[str, str] = {
    "sessions": "micropie_core._builtin.memory_sessions",
    "streaming": "micropie_core._builtin.streaming",
}


class PluginInfo(NamedTuple):
    """What ``micropie plugins`` shows about one available plugin."""

    # A NamedTuple, not a frozen dataclass: as immutable, and 0.3 ms to define at
    # import instead of 1-1.5 ms (the dataclass decorator compiles its methods).

    name: str
    distribution: str
    version: str
    module: str


def available_plugins() -> list[PluginInfo]:
    """Built-in plugins first, then installed entry points sorted by name."""
    infos = [
        PluginInfo(name, "micropie-core (built-in)", _core_version(), module)
        for name, module in BUILTIN_PLUGINS.items()
    ]
    for ep in _entry_points():
        dist = ep.dist
        infos.append(
            PluginInfo(
                ep.name,
                dist.metadata["Name"] if dist else "?",
                dist.version if dist else "?",
                ep.value,
            )
        )
    return infos


def _core_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("micropie-core")
    except PackageNotFoundError:
        return "unknown"


def _entry_points() -> list[EntryPoint]:
    # Imported here, not at module level: importlib.metadata is a fifth of
    # `import micropie_core` (11 of 61 ms measured) and is only needed by App().
    from importlib.metadata import entry_points

    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)
    return [found[name] for name in sorted(found)]


def _selected_names(
    plugins: Sequence[str | object] | None, available: Iterable[str]
) -> set[str] | None:
    """The names to load, or ``None`` for "all of them"."""
    if plugins is None:
        env = os.environ.get(ENV_VAR)
        if env is None:
            return None
        names = {name.strip() for name in env.split(",") if name.strip()}
        source = f"the {ENV_VAR} environment variable"
    else:
        if isinstance(plugins, str):
            raise TypeError(
                f"App(plugins=...) expects a list of plugin names, got the string {plugins!r}; "
                f"write plugins=[{plugins!r}]."
            )
        names = {p for p in plugins if isinstance(p, str)}
        source = "App(plugins=...)"
    _check_known(names, available, f"{source} asks for")
    return names


def _check_known(names: Iterable[str], available: Iterable[str], source: str) -> None:
    """A :class:`PluginError` with a did-you-mean for the first name not available."""
    known = list(available)
    for name in sorted(names):
        if name not in known:
            hint = did_you_mean(name, known)
            raise PluginError(
                f"{source} plugin {name!r}, which is not installed.{hint} "
                f"Available plugins: {', '.join(known) or 'none'}."
            )


class PluginHost:
    """The plugins of one App: loading, blocking, and calling hooks."""

    _registration_open = False

    def __init__(
        self,
        plugins: Sequence[str | object] | None = None,
        block_plugins: Iterable[str] = (),
    ) -> None:
        self.manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.manager.add_hookspecs(hookspecs)
        #: Names of the objects plugins registered with :meth:`register`.
        self.registered_in_app_created: set[str] = set()
        eps = _entry_points()
        names = [*BUILTIN_PLUGINS, *(ep.name for ep in eps)]
        selected = _selected_names(plugins, names)
        if isinstance(block_plugins, str):
            raise TypeError(
                f"App(block_plugins=...) expects a list of plugin names, got the string "
                f"{block_plugins!r}; write block_plugins=[{block_plugins!r}]."
            )
        blocked = set(block_plugins)
        _check_known(blocked, names, "App(block_plugins=...) blocks")
        for name in blocked:
            self.manager.set_blocked(name)
        # Kept so `micropie plugins` can say why an installed plugin is inactive.
        self.blocked: frozenset[str] = frozenset(blocked)
        self.selected: frozenset[str] | None = None if selected is None else frozenset(selected)
        self.selected_by = "App(plugins=[...])" if plugins is not None else ENV_VAR

        def wanted(name: str) -> bool:
            return name not in blocked and (selected is None or name in selected)

        for name, module_name in BUILTIN_PLUGINS.items():
            if wanted(name):
                self._register(importlib.import_module(module_name), name)
        for ep in eps:
            if wanted(ep.name):
                self._register(_load_entry_point(ep), ep.name)
        for obj in plugins or ():
            if not isinstance(obj, str):
                self._register_object(obj, blocked)
        try:
            self.manager.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(
                f"Plugin {exc.plugin!r} implements a hook that does not exist: {exc}. "
                "Check the spelling against docs/plugin_hooks.md."
            ) from None

    def register(self, plugin: object, name: str) -> None:
        """Register ``plugin`` (an object with ``@hookimpl`` methods) for this app only.

        Call it from an ``app_created`` hook: a plugin that is off until
        configured registers its per-request hooks (``prepare_request``,
        ``process_response``, ``template_context``, ...) only when its config
        asks for them, so an unconfigured plugin costs nothing per request.
        The object takes part in every hook called after ``app_created``
        (not in ``app_created`` itself). ``name`` shows in errors and must be
        unique within the app, e.g. ``"csrf.checks"``.
        """
        if not self._registration_open:
            raise PluginError(
                f"app.plugins.register({plugin!r}, {name!r}) was called after the app's "
                "app_created hooks ran; per-request hooks are already resolved then. "
                "Register plugin objects from an app_created hook."
            )
        if self.manager.has_plugin(name):
            raise PluginError(
                f"app.plugins.register(...): a plugin named {name!r} is already "
                "registered in this app; pick a name of your own (e.g. 'myplugin.checks')."
            )
        self._register(plugin, name)
        self.registered_in_app_created.add(name)
        if not self.manager.get_hookcallers(plugin):
            self.registered_in_app_created.discard(name)
            self.manager.unregister(plugin)
            raise PluginError(
                f"app.plugins.register(...) got {plugin!r} ({type(plugin).__name__}) as "
                f"{name!r}, which implements no hook. Expected an object with @hookimpl "
                "methods named after the hooks in docs/plugin_hooks.md."
            )
        try:
            self.manager.check_pending()
        except pluggy.PluginValidationError as exc:
            self.registered_in_app_created.discard(name)
            self.manager.unregister(plugin)
            raise PluginError(
                f"Plugin {name!r} implements a hook that does not exist: {exc}. "
                "Check the spelling against docs/plugin_hooks.md."
            ) from None

    def call_app_created(self, app: object) -> None:
        """Call every ``app_created`` hook; :meth:`register` works only while they run."""
        self._registration_open = True
        try:
            self.each("app_created", app=app)
        finally:
            self._registration_open = False

    def _register_object(self, plugin: object, blocked: set[str]) -> None:
        """A plugin object from ``App(plugins=[...])``, named after its module or class."""
        name: str | None = getattr(plugin, "__name__", None)
        if not isinstance(name, str):
            name = type(plugin).__name__
        if name in blocked or self.manager.has_plugin(name):
            name = None  # pluggy then names it by id; never silently blocked or clashing
        self._register(plugin, name)
        if not self.manager.get_hookcallers(plugin):
            raise PluginError(
                f"App(plugins=[...]) got {plugin!r} ({type(plugin).__name__}), which "
                "implements no hook. Expected a plugin name (str), or a module, class or "
                "object with @hookimpl functions named after the hooks in "
                "docs/plugin_hooks.md."
            )

    def _register(self, plugin: object, name: str | None) -> None:
        try:
            self.manager.register(plugin, name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(
                f"Plugin {name or plugin!r} is invalid: {exc}. A @hookimpl function may take "
                "only the arguments its hook documents in docs/plugin_hooks.md (any subset)."
            ) from None
        except ValueError as exc:
            raise PluginError(
                f"Plugin {name or plugin!r} could not be registered: {exc}"
            ) from None

    def inactive_reason(self, name: str) -> str | None:
        """Why the available plugin ``name`` is not loaded here, or ``None`` if it is."""
        if self.manager.has_plugin(name) and self.manager.get_plugin(name) is not None:
            return None
        if name in self.blocked:
            return "blocked by App(block_plugins=[...])"
        if self.selected is not None and name not in self.selected:
            return f"not listed in {self.selected_by}"
        return "not loaded"

    def active_names(self) -> list[str]:
        """Names of the registered plugins, in registration order."""
        return [name for name, plugin in self.manager.list_name_plugin() if plugin is not None]

    def each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation; return ``(plugin_name, result)`` pairs, non-None only."""
        results = []
        for impl in reversed(getattr(self.manager.hook, hook_name).get_hookimpls()):
            result = impl.function(*[kwargs[arg] for arg in impl.argnames])
            if result is not None:
                results.append((impl.plugin_name, result))
        return results

    async def each_async(
        self, hook_name: str, *, reverse: bool = False, **kwargs: Any
    ) -> list[Exception]:
        """Call and await every implementation in turn (reversed order if asked).

        With ``reverse`` every implementation runs even if one fails, and the
        failures are returned (used for shutdown); otherwise the first failure
        propagates.
        """
        impls = getattr(self.manager.hook, hook_name).get_hookimpls()
        errors: list[Exception] = []
        for impl in impls if reverse else reversed(impls):
            try:
                await resolve(impl.function(*[kwargs[arg] for arg in impl.argnames]))
            except Exception as exc:
                if not reverse:
                    raise
                errors.append(exc)
        return errors

    def first(self, hook_name: str, **kwargs: Any) -> Any:
        """Call a ``firstresult`` hook through pluggy (ordering rules included)."""
        return getattr(self.manager.hook, hook_name)(**kwargs)

    def compile(self, hook_name: str) -> Callable[..., Awaitable[None]] | None:
        """Resolve a hook into one plain async callable, or ``None`` if unimplemented.

        Used for per-request hooks so that pluggy's dispatch is paid at start-up,
        not on every request.
        """
        impls = getattr(self.manager.hook, hook_name).get_hookimpls()
        if not impls:
            return None
        calls = [(impl.function, impl.argnames) for impl in reversed(impls)]

        async def run_all(**kwargs: Any) -> None:
            for function, argnames in calls:
                result = function(*[kwargs[arg] for arg in argnames])
                if inspect.isawaitable(result):
                    await result

        return run_all

    def compile_first(self, hook_name: str) -> Callable[..., Any] | None:
        """Like :meth:`compile` for a ``firstresult`` hook (synchronous)."""
        impls = getattr(self.manager.hook, hook_name).get_hookimpls()
        if not impls:
            return None
        calls = [(impl.function, impl.argnames) for impl in reversed(impls)]

        def first_result(**kwargs: Any) -> Any:
            for function, argnames in calls:
                result = function(*[kwargs[arg] for arg in argnames])
                if result is not None:
                    return result
            return None

        return first_result


async def resolve(value: Any) -> Any:
    """Await ``value`` if a hook returned an awaitable; the one place this happens."""
    if inspect.isawaitable(value):
        return await value
    return value


def _load_entry_point(ep: EntryPoint) -> object:
    dist = ep.dist
    dist_name = dist.metadata["Name"] if dist else "its distribution"
    try:
        return ep.load()
    except Exception as exc:
        raise PluginError(
            f"Plugin {ep.name!r} (entry point '{ep.name} = {ep.value}' of {dist_name}) "
            f"failed to import: {type(exc).__name__}: {exc}. Reinstall it with "
            f"`pip install --force-reinstall {dist_name}`, or leave it out with "
            f"App(block_plugins=[{ep.name!r}]) or the {ENV_VAR} environment variable."
        ) from exc
