"""Connector kinds, found through the `heatshield.connectors` entry-point group.

A kind is a factory `(settings, http) -> Connector`: usually a `Connector`
subclass, whose `from_settings` is used. A separate package adds a kind by
declaring an entry point in that group; tests call `register()` instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import httpx

from connectors.base import Connector, KindProfile
from connectors.config import ConnectorConfig
from connectors.errors import ConnectorConfigError
from connectors.http import UpstreamClient

ENTRY_POINT_GROUP = "heatshield.connectors"

ConnectorFactory = Callable[[ConnectorConfig, UpstreamClient], Connector]


class UnknownConnectorKind(ConnectorConfigError):
    def __init__(self, kind: str, known: Iterable[str], name: str | None = None) -> None:
        known_list = ", ".join(sorted(known)) or "none"
        where = f" (connector {name!r})" if name else ""
        super().__init__(f"unknown connector kind {kind!r}{where}; known kinds: {known_list}")
        self.kind = kind


def _as_factory(obj: Any, origin: str) -> ConnectorFactory:
    if isinstance(obj, type) and issubclass(obj, Connector):
        return obj.from_settings
    if callable(obj):
        return obj  # type: ignore[no-any-return]
    raise ConnectorConfigError(f"{origin} is not a connector class or factory")


class ConnectorRegistry:
    """Kinds by name; entry points are read once, lazily, and explicit ones win."""

    def __init__(self, entry_points_source: Callable[[], Iterable[EntryPoint]] | None = None
                 ) -> None:
        self._explicit: dict[str, ConnectorFactory] = {}
        self._discovered: dict[str, EntryPoint] | None = None
        self._loaded: dict[str, ConnectorFactory] = {}
        self._source = entry_points_source or (lambda: entry_points(group=ENTRY_POINT_GROUP))

    def register(self, kind: str, factory: ConnectorFactory | type[Connector]) -> None:
        self._explicit[kind] = _as_factory(factory, f"factory for {kind!r}")

    def unregister(self, kind: str) -> None:
        self._explicit.pop(kind, None)

    def _entry_points(self) -> dict[str, EntryPoint]:
        if self._discovered is None:
            self._discovered = {ep.name: ep for ep in self._source()}
        return self._discovered

    def kinds(self) -> list[str]:
        return sorted({*self._explicit, *self._entry_points()})

    def factory(self, kind: str, *, name: str | None = None) -> ConnectorFactory:
        if kind in self._explicit:
            return self._explicit[kind]
        if kind in self._loaded:
            return self._loaded[kind]
        ep = self._entry_points().get(kind)
        if ep is None:
            raise UnknownConnectorKind(kind, self.kinds(), name)
        try:
            loaded = ep.load()
        except Exception as exc:  # a broken plugin must not hide which one it was
            raise ConnectorConfigError(
                f"connector kind {kind!r} failed to load from {ep.value!r}: "
                f"{type(exc).__name__}") from exc
        factory = _as_factory(loaded, f"entry point {ep.value!r}")
        self._loaded[kind] = factory
        return factory

    def profile(self, kind: str) -> KindProfile:
        """What `kind` declares (product, capabilities, graph types); a bare factory
        that is no `Connector` class declares nothing, so it gets the neutral profile."""
        owner = getattr(self.factory(kind), "__self__", None)
        if isinstance(owner, type) and issubclass(owner, Connector):
            return KindProfile.of(owner)
        return KindProfile(kind=kind, product=kind)

    def build(self, configs: Iterable[ConnectorConfig], *,
              environ: Mapping[str, str] | None = None,
              transport: httpx.AsyncBaseTransport | None = None,
              clock: Callable[[], float] = time.monotonic) -> dict[str, Connector]:
        """One connector per config, keyed by its name (the graph's `source`).

        `clock` ages what each connection keeps (breaker cool-downs, login tokens).

        Fails before opening anything on a duplicate name, an unknown kind or a
        missing secret, so a bad config never half-starts.
        """
        configs = list(configs)
        seen: set[str] = set()
        for config in configs:
            if config.name in seen:
                raise ConnectorConfigError(f"two connectors are named {config.name!r}")
            seen.add(config.name)
        factories = {c.name: self.factory(c.kind, name=c.name) for c in configs}
        for config in configs:
            config.auth.resolve(environ)
        built: dict[str, Connector] = {}
        for config in configs:
            http = UpstreamClient.from_config(config, environ=environ, transport=transport,
                                              clock=clock)
            built[config.name] = factories[config.name](config, http)
        return built


default_registry = ConnectorRegistry()


def register(kind: str, factory: ConnectorFactory | type[Connector]) -> None:
    """Add a kind to the default registry (tests, or an app embedding its own kind)."""
    default_registry.register(kind, factory)


def build_connectors(configs: Iterable[ConnectorConfig], *,
                     environ: Mapping[str, str] | None = None,
                     clock: Callable[[], float] = time.monotonic) -> dict[str, Connector]:
    """Connectors from the default registry; close them with `close_connectors`."""
    return default_registry.build(configs, environ=environ, clock=clock)


async def close_connectors(connectors: Mapping[str, Connector]) -> None:
    """Close every instance, even if one fails to close (the app is shutting down)."""
    errors: list[Exception] = []
    for connector in connectors.values():
        try:
            await connector.aclose()
        except Exception as exc:
            errors.append(exc)
    if errors:
        raise ExceptionGroup("closing connectors", errors)
