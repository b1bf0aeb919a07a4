"""How the JIRA sandbox reads a write body: values, update operations and refusals (no I/O)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from connectors.jira.sandbox import writes
from connectors.jira.sandbox.writes import CREATABLE, EDITABLE, Mode, adf_text, check_write
from connectors.sandbox.world import Person

ADA = Person(index=0, display_name="Ada Okafor", email="aokafor@example.test",
             username="aokafor", account_id="acc-ada", github_login="", github_id=0)
LEAD = Person(index=1, display_name="Lee Lead", email="lead@example.test", username="lead",
              account_id="acc-lead", github_login="", github_id=0)


class FakeSite:
    """A site with one project, two versions and one component."""

    def __init__(self, mode: Mode = "datacenter") -> None:
        self.mode: Mode = mode

    def app_key_of_project(self, ref: str) -> str | None:
        return "OPS" if ref in ("OPS", "ops", "100") else None

    def version_ids(self, app_key: str) -> dict[str, int]:
        return {"#1": 1, "1.0": 1, "#2": 2, "2.0": 2}

    def component_ids(self, app_key: str) -> dict[str, int]:
        return {"#7": 7, "api": 7}

    def person(self, ref: str) -> Person | None:
        return next((p for p in (ADA, LEAD)
                     if ref == (p.account_id if self.mode == "cloud" else p.username)), None)

    def default_assignee(self, app_key: str) -> Person:
        return LEAD


def edit(fields: Any = None, update: Any = None, *, mode: Mode = "datacenter", v: str = "2",
         current: dict[str, Any] | None = None) -> writes.Write:
    return check_write(FakeSite(mode), app_key="OPS", current=current or {},
                       fields=fields or {}, update=update or {}, allowed=EDITABLE, v=v)


def test_values_are_read_into_the_sites_terms() -> None:
    write = edit({"summary": "Tidy", "priority": {"id": "2"}, "assignee": {"name": "aokafor"},
                  "fixVersions": [{"name": "2.0"}, {"id": "1"}], "components": [{"id": "7"}],
                  "duedate": "2026-12-24", "labels": ["a", "a", "b"]})
    assert write.errors == {}
    assert write.values == {"summary": "Tidy", "priority": "High", "assignee": ADA,
                            "fixVersions": [2, 1], "components": [7],
                            "duedate": date(2026, 12, 24), "labels": ["a", "b"]}


def test_every_refusal_is_reported_at_once_keyed_by_field() -> None:
    write = edit({"summary": "two\nlines", "priority": {"name": "Blocker"},
                  "fixVersions": [{"name": "9.9"}], "status": {"name": "Done"},
                  "labels": ["has space"], "duedate": "tomorrow"})
    assert write.errors == {
        "summary": "The summary is invalid because it contains newline characters.",
        "priority": "The priority selected is invalid.",
        "fixVersions": "Version name '9.9' is not valid",
        "status": writes.NOT_ON_SCREEN.format("status"),
        "labels": "The label 'has space' contains spaces which is invalid.",
        "duedate": "Error parsing date string: tomorrow"}


def test_update_operations_add_and_remove_from_the_current_list() -> None:
    write = edit(update={"labels": [{"add": "new"}, {"remove": "old"}],
                         "fixVersions": [{"add": {"name": "2.0"}}]},
                 current={"labels": ["old", "kept"], "fixVersions": [1]})
    assert write.values == {"labels": ["kept", "new"], "fixVersions": [1, 2]}


def test_comments_ride_along_in_update_but_not_in_fields() -> None:
    assert edit(update={"comment": [{"add": {"body": "Done."}}]}).comments == ["Done."]
    assert edit({"comment": "Done."}).errors == {"comment": writes.NOT_ON_SCREEN.format(
        "comment")}


@pytest.mark.parametrize(("mode", "ref", "expected"), [
    ("cloud", {"accountId": "acc-ada"}, ADA), ("datacenter", {"name": "aokafor"}, ADA),
    ("datacenter", {"name": "-1"}, LEAD), ("cloud", None, None)])
def test_users_are_named_by_the_flavours_identifier(mode: Mode, ref: Any,
                                                    expected: Person | None) -> None:
    assert edit({"assignee": ref}, mode=mode).values == {"assignee": expected}


def test_an_unknown_user_is_refused_in_the_flavours_words() -> None:
    assert edit({"assignee": {"name": "ghost"}}).errors == {
        "assignee": "User 'ghost' does not exist."}
    assert edit({"assignee": {"name": "aokafor"}}, mode="cloud").errors == {
        "assignee": "Specify a user by accountId."}


def test_v3_rich_text_is_an_atlassian_document() -> None:
    doc = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "One "},
                                          {"type": "text", "text": "line"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "Two"}]}]}
    assert adf_text(doc) == "One line\nTwo"
    assert edit({"description": doc}, v="3").values == {"description": "One line\nTwo"}
    assert edit({"description": "plain"}, v="3").errors == {"description": writes.NOT_ADF}
    assert edit({"description": doc}, v="2").errors == {"description": writes.NOT_STRING}


def test_a_create_resolves_the_project_first_and_refuses_an_unknown_one() -> None:
    site = FakeSite()
    made = check_write(site, app_key=None, current={}, update={}, allowed=CREATABLE, v="2",
                       fields={"project": {"key": "OPS"}, "assignee": {"name": "-1"}})
    assert (made.app_key, made.values) == ("OPS", {"assignee": LEAD})
    unknown = check_write(site, app_key=None, current={}, update={}, allowed=CREATABLE, v="2",
                          fields={"project": {"id": "999"}})
    assert unknown.errors == {"project": "Specify a valid project ID or key"}


def test_a_body_that_is_not_an_object_is_refused_as_a_whole() -> None:
    assert set(edit(fields=["summary"]).errors) == {""}
