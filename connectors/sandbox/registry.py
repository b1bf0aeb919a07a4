"""Sandboxes by connector kind, found through the `heatshield.sandboxes` entry-point group.

Each kind registers its fake under the same name as its connector in
`heatshield.connectors`, so `heatshield sandbox` and `heatshield demo` loop over
what is installed instead of naming vendors. Tests call `register()` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol

from starlette.applications import Starlette

from connectors.config import ConnectorConfig
from connectors.records import LinkKind
from connectors.sandbox.kit import Credentials
from connectors.sandbox.world import ChangeRequest, Release, World

ENTRY_POINT_GROUP = "heatshield.sandboxes"


@dataclass(frozen=True)
class DemoWiring:
    """What a kind needs to point a demo connector at its mounted fake.

    The secrets stay in the environment variables named here; the demo fills them.
    """

    name: str  # the connector instance's name: the kind's own name in the demo
    base_url: str  # the fake's mount, e.g. http://127.0.0.1:8000/sandbox/<kind>
    username: str
    token_env: str
    password_env: str
    webhook_secret_env: str


#: A demo release's links to one kind's records: (link kind, key).
DemoLinks = Callable[[World, Release], list[tuple[LinkKind, str]]]


class SandboxFactory(Protocol):
    """The part of every sandbox's `create_app` that the CLI and the demo call."""

    def __call__(self, world: World | None = None, *, credentials: Credentials | None = None,
                 webhook_url: str | None = None, webhook_secret: str | None = None
                 ) -> Starlette: ...


@dataclass(frozen=True)
class Sandbox:
    """One kind's fake, and what the demo needs to wire it to the hub."""

    create_app: SandboxFactory
    #: The hub has a webhook receiver for this kind, so the demo sends the fake's webhooks there.
    webhooks_to_hub: bool = False
    #: For an ITSM: the number the fake gives a world change request (the demo links by it).
    change_number: Callable[[ChangeRequest], str] | None = None
    #: The connector the demo configures against the fake (None: the demo connects none).
    demo_connector: Callable[[DemoWiring], ConnectorConfig] | None = None
    #: How the demo links a world release to the fake's records (None: no links).
    demo_links: DemoLinks | None = None
    #: Variants of the upstream the fake can play (`heatshield sandbox jira --flavor ...`);
    #: `create_app` is the first one's.
    flavors: Mapping[str, SandboxFactory] = field(default_factory=dict)

    def factory(self, flavor: str | None) -> SandboxFactory:
        """The fake for one flavour; None is the default one."""
        if flavor is None:
            return self.create_app
        if not self.flavors:
            raise UnknownFlavor(f"this sandbox has no flavours, so {flavor!r} cannot be "
                                f"chosen; leave the option out")
        if flavor not in self.flavors:
            raise UnknownFlavor(f"unknown flavour {flavor!r}; choose one of "
                                f"{', '.join(self.flavors)}")
        return self.flavors[flavor]



class UnknownFlavor(LookupError):
    """A flavour the kind's sandbox does not play."""


class UnknownSandboxKind(LookupError):
    def __init__(self, kind: str, known: Iterable[str]) -> None:
        super().__init__(f"unknown sandbox {kind!r}; choose one of "
                         f"{', '.join(sorted(known)) or 'none'}")
        self.kind = kind


class SandboxRegistry:
    """Sandboxes by kind; entry points are read once, lazily, and explicit ones win."""

    def __init__(self, entry_points_source: Callable[[], Iterable[EntryPoint]] | None = None
                 ) -> None:
        self._explicit: dict[str, Sandbox] = {}
        self._discovered: dict[str, EntryPoint] | None = None
        self._loaded: dict[str, Sandbox] = {}
        self._source = entry_points_source or (lambda: entry_points(group=ENTRY_POINT_GROUP))

    def register(self, kind: str, sandbox: Sandbox) -> None:
        self._explicit[kind] = sandbox

    def unregister(self, kind: str) -> None:
        self._explicit.pop(kind, None)

    def _entry_points(self) -> dict[str, EntryPoint]:
        if self._discovered is None:
            self._discovered = {ep.name: ep for ep in self._source()}
        return self._discovered

    def kinds(self) -> list[str]:
        return sorted({*self._explicit, *self._entry_points()})

    def get(self, kind: str) -> Sandbox:
        if kind in self._explicit:
            return self._explicit[kind]
        if kind not in self._loaded:
            ep = self._entry_points().get(kind)
            if ep is None:
                raise UnknownSandboxKind(kind, self.kinds())
            loaded = ep.load()
            if not isinstance(loaded, Sandbox):
                raise TypeError(f"sandbox entry point {ep.value!r} is not a Sandbox")
            self._loaded[kind] = loaded
        return self._loaded[kind]


default_registry = SandboxRegistry()


def register(kind: str, sandbox: Sandbox) -> None:
    """Add a kind's sandbox to the default registry (tests, or an app embedding its own kind)."""
    default_registry.register(kind, sandbox)
