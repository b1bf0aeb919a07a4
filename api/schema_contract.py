"""The schema contract: what reporting tools and other clients may rely on between releases.

`schema.graphql` is compared with the last released schema (`schema/released.graphql`)
by graphql-core's `find_breaking_changes` and `find_dangerous_changes`. A breaking
change (a field or type removed, a type changed, a required argument added) fails
the contract unless `schema/changes.toml` lists it with its deprecation period:
the day the field was deprecated and the day it went, at least
`minimum_deprecation_days` apart. A removed field or enum value must also have been
deprecated in the released schema: fields are deprecated before they go.
Dangerous changes (an enum value added, a default changed) are reported, never
refused. Pure functions over schema text; `heatshield schema-contract` (run by
`make schema-contract`, hence `make test` and CI) prints the report.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from graphql import GraphQLEnumType, GraphQLError, GraphQLSchema, build_schema
from graphql.utilities import (
    BreakingChangeType,
    find_breaking_changes,
    find_dangerous_changes,
)

RELEASED = Path("schema/released.graphql")
CHANGES = Path("schema/changes.toml")
CURRENT = Path("schema.graphql")
DEFAULT_MINIMUM_DAYS = 90

_FIELD_REMOVED = re.compile(r"Field (\w+)\.(\w+) was removed\.")
_VALUE_REMOVED = re.compile(r"Enum value (\w+)\.(\w+) was removed\.")


class ContractError(Exception):
    """The contract's own files cannot be read: which file, which entry, what is wrong."""


@dataclass(frozen=True, slots=True)
class Allowance:
    """One breaking change the changelog allows, in graphql-core's words."""

    change: str  # a BreakingChangeType name, e.g. FIELD_REMOVED
    description: str  # graphql-core's description, e.g. "Field Release.foo was removed."
    deprecated_on: date
    removed_on: date
    reason: str


@dataclass(frozen=True, slots=True)
class Changelog:
    minimum_deprecation_days: int
    allowances: tuple[Allowance, ...]


@dataclass
class ContractReport:
    refused: list[str] = field(default_factory=list)  # breaking and not allowed: fails
    allowed: list[str] = field(default_factory=list)  # breaking, listed, period respected
    dangerous: list[str] = field(default_factory=list)  # reported only
    unused: list[str] = field(default_factory=list)  # listed, but no such change

    @property
    def passed(self) -> bool:
        return not self.refused

    def lines(self) -> list[str]:
        out = [f"refused: {line}" for line in self.refused]
        out += [f"allowed: {line}" for line in self.allowed]
        out += [f"dangerous (allowed): {line}" for line in self.dangerous]
        out += [f"unused allowance (remove it from {CHANGES}): {line}" for line in self.unused]
        verdict = ("the schema keeps its contract with the released one" if self.passed else
                   f"the schema breaks its contract: deprecate first, then list each breaking "
                   f"change in {CHANGES} with its deprecation period")
        return [*out, verdict]


def parse_changelog(text: str, origin: str = str(CHANGES)) -> Changelog:
    """Read the changelog's TOML; every problem names the file and the entry."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ContractError(f"{origin}: not valid TOML: {exc}") from None
    minimum = data.get("minimum_deprecation_days", DEFAULT_MINIMUM_DAYS)
    if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 0:
        raise ContractError(f"{origin}: minimum_deprecation_days must be a whole number >= 0")
    entries = data.get("breaking", [])
    if not isinstance(entries, list):
        raise ContractError(f"{origin}: [[breaking]] must be a list of tables")
    allowances = []
    for index, entry in enumerate(entries, start=1):
        where = f"{origin}: [[breaking]] entry {index}"
        if not isinstance(entry, dict):
            raise ContractError(f"{where}: must be a table")
        unknown = set(entry) - {"change", "description", "deprecated_on", "removed_on",
                                "reason"}
        if unknown:
            raise ContractError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        change = entry.get("change")
        if change not in BreakingChangeType.__members__:
            raise ContractError(f"{where}: change must be one of "
                                f"{', '.join(BreakingChangeType.__members__)}; got {change!r}")
        description, reason = entry.get("description"), entry.get("reason")
        if not isinstance(description, str) or not description.strip():
            raise ContractError(f"{where}: description (graphql-core's words) is required")
        if not isinstance(reason, str) or not reason.strip():
            raise ContractError(f"{where}: reason (why clients may lose this) is required")
        deprecated_on, removed_on = entry.get("deprecated_on"), entry.get("removed_on")
        if not isinstance(deprecated_on, date) or not isinstance(removed_on, date):
            raise ContractError(f"{where}: deprecated_on and removed_on must be TOML dates "
                                "(e.g. 2026-09-01)")
        if (removed_on - deprecated_on).days < minimum:
            raise ContractError(
                f"{where} ({description}): deprecated {deprecated_on}, removed {removed_on}: "
                f"{(removed_on - deprecated_on).days} days, fewer than the "
                f"{minimum} days of deprecation the contract promises")
        allowances.append(Allowance(str(change), description.strip(), deprecated_on, removed_on,
                                    reason.strip()))
    return Changelog(minimum, tuple(allowances))


def _deprecated_before(released: GraphQLSchema, change: str, description: str) -> bool:
    """Was what this change removes deprecated in the released schema? (True if n/a.)"""
    if change == BreakingChangeType.FIELD_REMOVED.name:
        match = _FIELD_REMOVED.fullmatch(description)
        if match:
            owner = released.get_type(match.group(1))
            fields = getattr(owner, "fields", {})
            old = fields.get(match.group(2))
            return old is not None and getattr(old, "deprecation_reason", None) is not None
    if change == BreakingChangeType.VALUE_REMOVED_FROM_ENUM.name:
        match = _VALUE_REMOVED.fullmatch(description)
        if match:
            enum = released.get_type(match.group(1))
            if isinstance(enum, GraphQLEnumType) and match.group(2) in enum.values:
                return enum.values[match.group(2)].deprecation_reason is not None
            return False
    return True


def check(released_sdl: str, current_sdl: str, changelog: Changelog) -> ContractReport:
    """Compare two schemas' text under the changelog's allowances."""
    try:
        released = build_schema(released_sdl)
        current = build_schema(current_sdl)
    except (GraphQLError, TypeError) as exc:  # graphql-core says TypeError for invalid SDL
        raise ContractError(f"a schema does not build: {exc}") from None
    listed = {(a.change, a.description): a for a in changelog.allowances}
    used: set[tuple[str, str]] = set()
    report = ContractReport()
    for change in find_breaking_changes(released, current):
        key = (change.type.name, change.description)
        line = f"{change.type.name}: {change.description}"
        allowance = listed.get(key)
        if allowance is None:
            report.refused.append(f"{line} (not listed in {CHANGES})")
            continue
        used.add(key)
        if not _deprecated_before(released, *key):
            report.refused.append(f"{line} (listed, but not deprecated in the released "
                                  "schema: deprecate it in a release first)")
            continue
        report.allowed.append(f"{line} (deprecated {allowance.deprecated_on}, removed "
                              f"{allowance.removed_on}: {allowance.reason})")
    report.dangerous = [f"{c.type.name}: {c.description}"
                        for c in find_dangerous_changes(released, current)]
    report.unused = [f"{change}: {description}" for change, description in listed
                     if (change, description) not in used]
    return report


def check_files(released: Path = RELEASED, current: Path = CURRENT,
                changes: Path = CHANGES) -> ContractReport:
    for path in (released, current, changes):
        if not path.is_file():
            raise ContractError(f"{path} does not exist")
    changelog = parse_changelog(changes.read_text(encoding="utf-8"), str(changes))
    return check(released.read_text(encoding="utf-8"), current.read_text(encoding="utf-8"),
                 changelog)
