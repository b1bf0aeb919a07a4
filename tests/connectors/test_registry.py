"""Connector kinds are found by entry point or registration and built per named instance."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint

import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors import registry
from connectors.base import Connector, SourceStatus, WorkStatus
from connectors.config import AuthConfig, ConnectorConfig
from connectors.errors import ConnectorConfigError, ErrorCode, UpstreamAuthFailed
from connectors.http import UpstreamClient
from connectors.records import BreakerState
from connectors.registry import ENTRY_POINT_GROUP, ConnectorRegistry, UnknownConnectorKind
from tests.support.server import serve_asgi

SECRET = "s3cret-from-env-9d1c"
ENV = {"FAKE_TOKEN": SECRET}


class FakeConnector(Connector):
    """A kind with no upstream words: enough to be built, named and closed."""

    kind = "fake"
    STATUS = {"open": WorkStatus.TODO, "shipped": WorkStatus.DONE}

    def status_of(self, raw: str) -> WorkStatus:
        return self.canonical(raw, self.STATUS, WorkStatus.IN_PROGRESS)


def fake_config(name: str = "fake-1", kind: str = "fake", base_url: str = "http://127.0.0.1:9",
                **extra: object) -> ConnectorConfig:
    return ConnectorConfig.model_validate({
        "name": name, "kind": kind, "base_url": base_url,
        "auth": {"type": "bearer", "token_env": "FAKE_TOKEN"}, **extra,
    })


@pytest.fixture
def kinds() -> ConnectorRegistry:
    reg = ConnectorRegistry(entry_points_source=lambda: [])
    reg.register("fake", FakeConnector)
    return reg


@pytest.fixture
def upstream_url() -> Iterator[str]:
    async def me(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {SECRET}":
            return JSONResponse({"message": "Bad credentials"}, 401)
        return JSONResponse({"ok": True})

    with serve_asgi(Starlette(routes=[Route("/me", me)])) as url:
        yield url


# --------------------------------------------------------------------------- building


async def test_each_named_instance_of_a_kind_becomes_its_own_connector(
        kinds: ConnectorRegistry) -> None:
    built = kinds.build([fake_config("jira-eu", base_url="http://127.0.0.1:9/eu"),
                         fake_config("jira-us", base_url="http://127.0.0.1:9/us")], environ=ENV)
    try:
        assert sorted(built) == ["jira-eu", "jira-us"]
        assert isinstance(built["jira-eu"], FakeConnector)
        assert built["jira-eu"].name == "jira-eu"
        assert built["jira-eu"].http is not built["jira-us"].http
        assert str(built["jira-us"].http.base_url) == "http://127.0.0.1:9/us/"
    finally:
        await registry.close_connectors(built)


def test_an_unknown_kind_is_named_with_the_known_kinds(kinds: ConnectorRegistry) -> None:
    kinds.register("other", FakeConnector)
    with pytest.raises(UnknownConnectorKind) as caught:
        kinds.build([fake_config("gl", kind="gitlab")], environ=ENV)
    message = str(caught.value)
    assert "'gitlab'" in message and "'gl'" in message
    assert "known kinds: fake, other" in message


def test_duplicate_instance_names_are_refused(kinds: ConnectorRegistry) -> None:
    with pytest.raises(ConnectorConfigError, match="two connectors are named 'a'"):
        kinds.build([fake_config("a"), fake_config("a")], environ=ENV)


def test_a_missing_secret_names_the_variable_and_builds_nothing(
        kinds: ConnectorRegistry) -> None:
    with pytest.raises(ConnectorConfigError, match="FAKE_TOKEN is not set"):
        kinds.build([fake_config()], environ={})


async def test_a_plain_factory_function_can_be_a_kind(kinds: ConnectorRegistry) -> None:
    made: list[str] = []

    def factory(settings: ConnectorConfig, http: UpstreamClient) -> Connector:
        made.append(settings.name)
        return FakeConnector(settings, http)

    kinds.register("fn", factory)
    built = kinds.build([fake_config("via-fn", kind="fn")], environ=ENV)
    assert made == ["via-fn"] and isinstance(built["via-fn"], FakeConnector)
    await registry.close_connectors(built)


# --------------------------------------------------------------------------- entry points


async def test_kinds_are_discovered_from_the_entry_point_group() -> None:
    entry = EntryPoint(name="fake", value=f"{__name__}:FakeConnector", group=ENTRY_POINT_GROUP)
    reg = ConnectorRegistry(entry_points_source=lambda: [entry])
    assert reg.kinds() == ["fake"]
    built = reg.build([fake_config()], environ=ENV)
    assert type(built["fake-1"]) is FakeConnector
    await registry.close_connectors(built)


async def test_an_explicit_registration_wins_over_an_entry_point() -> None:
    class Replacement(FakeConnector):
        pass

    entry = EntryPoint(name="fake", value=f"{__name__}:FakeConnector", group=ENTRY_POINT_GROUP)
    reg = ConnectorRegistry(entry_points_source=lambda: [entry])
    reg.register("fake", Replacement)
    built = reg.build([fake_config()], environ=ENV)
    assert type(built["fake-1"]) is Replacement
    await registry.close_connectors(built)


def test_a_broken_entry_point_is_reported_by_kind_and_target() -> None:
    entry = EntryPoint(name="broken", value="no_such_module_xyz:Thing", group=ENTRY_POINT_GROUP)
    reg = ConnectorRegistry(entry_points_source=lambda: [entry])
    with pytest.raises(ConnectorConfigError, match="'broken' failed to load from "
                                                   "'no_such_module_xyz:Thing'"):
        reg.factory("broken")


async def test_the_module_level_register_feeds_build_connectors() -> None:
    registry.register("fake-default", FakeConnector)
    try:
        assert "fake-default" in registry.default_registry.kinds()
        built = registry.build_connectors([fake_config(kind="fake-default")], environ=ENV)
        assert isinstance(built["fake-1"], FakeConnector)
        await registry.close_connectors(built)
    finally:
        registry.default_registry.unregister("fake-default")
    assert "fake-default" not in registry.default_registry.kinds()


# --------------------------------------------------------------------------- config


def test_config_refuses_credentials_in_the_base_url() -> None:
    with pytest.raises(ValidationError, match="must not contain credentials"):
        fake_config(base_url="https://me:pw@example.atlassian.net")


def test_config_holds_variable_names_and_resolved_secrets_stay_hidden() -> None:
    config = fake_config()
    secrets = config.auth.resolve(ENV)
    assert SECRET not in repr(config) and SECRET not in repr(secrets)
    assert secrets.token is not None and secrets.token.get_secret_value() == SECRET


def test_basic_auth_config_needs_a_username() -> None:
    with pytest.raises(ValidationError, match="needs a username"):
        AuthConfig(type="basic", password_env="X")


# --------------------------------------------------------------------------- health, mapping


async def test_health_reports_up_then_the_last_error_of_the_instance(
        kinds: ConnectorRegistry, upstream_url: str) -> None:
    good = kinds.build([fake_config("good", base_url=upstream_url)], environ=ENV)["good"]
    bad = kinds.build([fake_config("bad", base_url=upstream_url)],
                      environ={"FAKE_TOKEN": "wrong"})["bad"]
    try:
        assert (await good.health()).status is SourceStatus.UNKNOWN
        await good.http.get_json("/me")
        health = await good.health()
        assert (health.name, health.kind, health.status) == ("good", "fake", SourceStatus.UP)
        assert health.breaker is BreakerState.CLOSED and health.latency_ms is not None

        with pytest.raises(UpstreamAuthFailed):
            await bad.http.get_json("/me")
        health = await bad.health()
        assert health.status is SourceStatus.DEGRADED
        assert health.last_error_code is ErrorCode.UPSTREAM_AUTH_FAILED
        assert health.last_error_message is not None and "wrong" not in health.last_error_message
    finally:
        await registry.close_connectors({"good": good, "bad": bad})


async def test_an_instance_status_map_overrides_the_kind_defaults(
        kinds: ConnectorRegistry) -> None:
    plain, custom = kinds.build([
        fake_config("plain"),
        fake_config("custom", status_map={"In QA": "DONE", "shipped": "NOT_A_STATUS"}),
    ], environ=ENV).values()
    assert isinstance(plain, FakeConnector) and isinstance(custom, FakeConnector)
    assert plain.status_of("in qa") is WorkStatus.IN_PROGRESS
    assert custom.status_of("in qa") is WorkStatus.DONE
    assert custom.status_of("Shipped") is WorkStatus.DONE  # bad override ignored
    assert custom.status_of("Open") is WorkStatus.TODO
    await registry.close_connectors({"plain": plain, "custom": custom})
