"""How an upstream's word becomes a canonical status (`connectors.records.map_status`)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from enum import Enum

import pytest

from connectors.github.mapping import DEPLOYMENT_STATE, PULL_STATUS
from connectors.records import DeploymentState, WorkStatus, map_status

MAPPING_MODULES = ("connectors.jira.mapping", "connectors.github.mapping",
                   "connectors.servicenow.mapping", "connectors.remedy.mapping",
                   "connectors.perforce.mapping")


def word_tables() -> list[tuple[str, Mapping[str, Enum]]]:
    """Every module-level table of upstream words to canonical members."""
    tables = []
    for name in MAPPING_MODULES:
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if isinstance(value, Mapping) and value and all(
                    isinstance(k, str) and isinstance(v, Enum) for k, v in value.items()):
                tables.append((f"{name}.{attribute}", value))
    return tables


def test_the_word_tables_are_found() -> None:
    names = {name for name, _ in word_tables()}
    assert "connectors.github.mapping.DEPLOYMENT_STATE" in names
    assert "connectors.jira.mapping.STATUS_NAMES" in names
    assert len(names) >= 8


@pytest.mark.parametrize(("name", "table"), word_tables(), ids=lambda v: v if isinstance(
    v, str) else "")
def test_every_default_table_names_each_word_once_whatever_its_case(
        name: str, table: Mapping[str, Enum]) -> None:
    """A word spelt as the table spells it is found by one lookup; that answer is the
    case-blind one only while no two words differ by case alone."""
    folded = [word.casefold() for word in table]
    assert len(folded) == len(set(folded)), name


def test_a_word_in_another_case_maps_like_its_own_spelling() -> None:
    assert map_status("SUCCESS", DEPLOYMENT_STATE, {}, DeploymentState.PENDING) \
        is DeploymentState.SUCCESS
    assert map_status("Merged", PULL_STATUS, {}, WorkStatus.IN_PROGRESS) is WorkStatus.DONE


def test_an_override_in_another_case_wins_over_the_exact_default() -> None:
    assert map_status("success", DEPLOYMENT_STATE, {"Success": "FAILURE"},
                      DeploymentState.PENDING) is DeploymentState.FAILURE


def test_an_override_naming_no_member_leaves_the_default() -> None:
    assert map_status("success", DEPLOYMENT_STATE, {"success": "SHIPPED"},
                      DeploymentState.PENDING) is DeploymentState.SUCCESS


def test_an_unknown_word_is_the_fallback() -> None:
    assert map_status("abandoned", DEPLOYMENT_STATE, {}, DeploymentState.PENDING) \
        is DeploymentState.PENDING
