"""The schema contract: a breaking change fails CI unless listed with its deprecation period.

The check runs over the repository's own released schema (`schema/released.graphql`),
edited the way a careless change would edit it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from api.schema_contract import ContractError, check, parse_changelog
from tests.support.paths import REPO

RELEASED = (REPO / "schema" / "released.graphql").read_text(encoding="utf-8")
APPLICATION = """type Application implements Node {
  id: ID!
  key: String!
  name: String!
  description: String!
"""
NO_LIST = parse_changelog("minimum_deprecation_days = 90")


def edited(old: str, new: str, schema: str = RELEASED) -> str:
    assert schema.count(old) == 1, f"the released schema changed: {old!r} not found once"
    return schema.replace(old, new)


def allowing(change: str, description: str, deprecated_on: str = "2026-06-01",
             removed_on: str = "2026-12-01", minimum: int = 90) -> str:
    return (f"minimum_deprecation_days = {minimum}\n\n[[breaking]]\nchange = \"{change}\"\n"
            f"description = \"{description}\"\ndeprecated_on = {deprecated_on}\n"
            f"removed_on = {removed_on}\nreason = \"Replaced by Application.key.\"\n")


WITHOUT_DESCRIPTION = edited(APPLICATION, APPLICATION.replace("  description: String!\n", ""))
DEPRECATED_DESCRIPTION = edited(
    APPLICATION, APPLICATION.replace("description: String!",
                                     'description: String! @deprecated(reason: "use name")'))
BREAKING = {
    "a removed field": (WITHOUT_DESCRIPTION,
                        "FIELD_REMOVED: Field Application.description was removed."),
    "a changed type": (edited(APPLICATION, APPLICATION.replace("  name: String!",
                                                               "  name: Int!")),
                       "FIELD_CHANGED_KIND: Field Application.name changed type from String! "
                       "to Int!."),
    "a new required argument": (
        edited("  release(key: String!): Release\n",
               "  release(key: String!, tenant: String!): Release\n"),
        "REQUIRED_ARG_ADDED: A required argument Query.release(tenant:) was added."),
    "a removed enum value": (edited("enum ReleaseStatus {\n  PLANNED\n",
                                    "enum ReleaseStatus {\n"),
                             "VALUE_REMOVED_FROM_ENUM: Enum value ReleaseStatus.PLANNED was "
                             "removed."),
}


def test_the_repository_schema_keeps_its_contract() -> None:
    changelog = parse_changelog((REPO / "schema" / "changes.toml").read_text(encoding="utf-8"))
    report = check(RELEASED, (REPO / "schema.graphql").read_text(encoding="utf-8"), changelog)
    assert report.passed, report.lines()


@pytest.mark.parametrize("case", list(BREAKING))
def test_an_unlisted_breaking_change_fails_the_contract(case: str) -> None:
    schema, change = BREAKING[case]
    report = check(RELEASED, schema, NO_LIST)
    assert not report.passed
    assert any(line.startswith(change) for line in report.refused), report.refused


def test_additions_keep_the_contract() -> None:
    schema = edited(APPLICATION, APPLICATION + "  owner: String\n")
    schema = edited("  release(key: String!): Release\n",
                    "  release(key: String!, at: DateTime = null): Release\n", schema)
    schema += "\ntype Incident {\n  number: String!\n}\n"
    report = check(RELEASED, schema, NO_LIST)
    assert report.passed and report.refused == []


def test_a_dangerous_change_is_reported_but_keeps_the_contract() -> None:
    schema = edited("enum ReleaseStatus {\n", "enum ReleaseStatus {\n  ABANDONED\n")
    report = check(RELEASED, schema, NO_LIST)
    assert report.passed
    assert report.dangerous == ["VALUE_ADDED_TO_ENUM: Enum value ReleaseStatus.ABANDONED "
                                "was added."]


def test_a_listed_removal_of_a_deprecated_field_keeps_the_contract() -> None:
    changelog = parse_changelog(allowing("FIELD_REMOVED",
                                         "Field Application.description was removed."))
    report = check(DEPRECATED_DESCRIPTION, WITHOUT_DESCRIPTION, changelog)
    assert report.passed, report.lines()
    assert report.allowed and "deprecated 2026-06-01, removed 2026-12-01" in report.allowed[0]


def test_a_listed_removal_of_a_field_never_deprecated_still_fails() -> None:
    changelog = parse_changelog(allowing("FIELD_REMOVED",
                                         "Field Application.description was removed."))
    report = check(RELEASED, WITHOUT_DESCRIPTION, changelog)
    assert not report.passed
    assert "not deprecated in the released schema" in report.refused[0]


def test_a_listed_breaking_change_that_deprecates_nothing_passes_when_listed() -> None:
    schema, _ = BREAKING["a new required argument"]
    changelog = parse_changelog(allowing(
        "REQUIRED_ARG_ADDED", "A required argument Query.release(tenant:) was added."))
    assert check(RELEASED, schema, changelog).passed


def test_a_deprecation_period_shorter_than_promised_is_refused() -> None:
    with pytest.raises(ContractError, match="30 days, fewer than the 90 days"):
        parse_changelog(allowing("FIELD_REMOVED", "Field Application.description was removed.",
                                 deprecated_on="2026-11-01", removed_on="2026-12-01"))


@pytest.mark.parametrize(("text", "problem"), [
    ('[[breaking]]\nchange = "FIELD_GONE"', "change must be one of"),
    ('[[breaking]]\nchange = "FIELD_REMOVED"\ndescription = "x"\nreason = "y"\n'
     'deprecated_on = "June"\nremoved_on = 2026-12-01', "must be TOML dates"),
    ('[[breaking]]\nchange = "FIELD_REMOVED"\ndescription = "x"', "reason"),
    ('[[breaking]]\nchange = "FIELD_REMOVED"\nwhen = 1', "unknown key"),
    ("minimum_deprecation_days = -1", "minimum_deprecation_days"),
    ("[[breaking]", "not valid TOML"),
])
def test_a_malformed_changelog_is_refused_naming_the_entry(text: str, problem: str) -> None:
    with pytest.raises(ContractError, match=problem):
        parse_changelog(text)


def test_a_schema_that_does_not_build_is_refused_by_name() -> None:
    broken = edited("input ApplicationInput {", "input ApplicationDraft {")
    with pytest.raises(ContractError, match="Unknown type 'ApplicationInput'"):
        check(RELEASED, broken, NO_LIST)


def test_an_allowance_that_matches_no_change_is_reported_as_unused() -> None:
    changelog = parse_changelog(allowing("FIELD_REMOVED",
                                         "Field Application.description was removed."))
    report = check(RELEASED, RELEASED, changelog)
    assert report.passed
    assert report.unused == ["FIELD_REMOVED: Field Application.description was removed."]


def contract(tmp_path: Path, schema: str, changes: str = "") -> subprocess.CompletedProcess[str]:
    (tmp_path / "schema.graphql").write_text(schema, encoding="utf-8")
    (tmp_path / "changes.toml").write_text(changes, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "schema-contract",
         "--released", str(REPO / "schema" / "released.graphql"),
         "--current", str(tmp_path / "schema.graphql"),
         "--changes", str(tmp_path / "changes.toml")],
        capture_output=True, text=True, cwd=REPO, timeout=60)


def test_ci_fails_on_a_deliberately_breaking_schema_change(tmp_path: Path) -> None:
    result = contract(tmp_path, WITHOUT_DESCRIPTION)
    assert result.returncode == 1
    assert "refused: FIELD_REMOVED: Field Application.description was removed." in result.stdout
    assert "breaks its contract" in result.stdout


def test_ci_passes_the_released_schema_and_says_so(tmp_path: Path) -> None:
    result = contract(tmp_path, RELEASED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "keeps its contract" in result.stdout


def test_ci_names_a_broken_changelog_and_stops(tmp_path: Path) -> None:
    result = contract(tmp_path, RELEASED, "[[breaking]]\nchange = 3\n")
    assert result.returncode == 2
    assert "changes.toml: [[breaking]] entry 1: change must be one of" in " ".join(
        result.stderr.split())
