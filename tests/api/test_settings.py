"""Configuration: TOML file, HEATSHIELD_* overrides, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import SettingsError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "heatshield.toml"
    path.write_text(text)
    return path


def test_the_file_configures_database_and_connectors(tmp_path: Path) -> None:
    path = write(tmp_path, """
[database]
url = "postgresql+asyncpg://hs@db/heatshield"

[[connectors]]
name = "jira"
kind = "jira"
base_url = "https://example.atlassian.net"
auth = { type = "basic", username = "me@example.com", token_env = "JIRA_TOKEN" }
""")
    settings = load_settings(path)
    assert settings.database.url == "postgresql+asyncpg://hs@db/heatshield"
    assert [c.name for c in settings.connectors] == ["jira"]
    assert settings.connectors[0].auth.token_env == "JIRA_TOKEN"


def test_environment_variables_override_the_file(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[server]\nport = 8100\n')
    monkeypatch.setenv("HEATSHIELD_SERVER__PORT", "9100")
    monkeypatch.setenv("HEATSHIELD_LIMITS__MAX_DEPTH", "5")
    settings = load_settings(path)
    assert settings.server.port == 9100
    assert settings.limits.max_depth == 5


def test_a_bad_value_names_its_key_and_why(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "mysql://x"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert "database.url" in str(caught.value)
    assert "sqlite+aiosqlite://" in str(caught.value)


def test_an_unknown_key_is_refused_by_name(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nprot = 1\n')
    with pytest.raises(SettingsError, match=r"server\.prot"):
        load_settings(path)


def test_a_bad_environment_value_names_its_key(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEATSHIELD_SERVER__PORT", "eighty")
    with pytest.raises(SettingsError, match=r"server\.port"):
        load_settings(write(tmp_path, ""))


def test_a_named_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_invalid_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(write(tmp_path, "[database\n"))


def test_connector_names_must_be_unique(tmp_path: Path) -> None:
    block = '[[connectors]]\nname = "gh"\nkind = "github"\nbase_url = "https://api.github.com"\n'
    with pytest.raises(SettingsError, match="used twice"):
        load_settings(write(tmp_path, block + block))
