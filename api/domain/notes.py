"""Release notes for the two sides, each in its own words.

Developers read pull requests, issues, contributors and breaking changes; the
change advisory board reads a CAB summary in ITSM terms. Both are built as a
few plain blocks and then written as Markdown or HTML, so the two formats
always say the same thing. Words an organisation calls differently come from
`Vocabulary`.
"""

from __future__ import annotations

import enum
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from api.domain.compose import ComposedChange, linked_tickets
from api.domain.facts import ReleaseFacts, format_utc, format_window
from api.domain.gates import GateResult
from api.domain.words import (
    approval_word,
    change_state_word,
    gate_word,
    kind_word,
    plain,
    risk_word,
)
from connectors.records import ChangeRecord, PullRequest, WorkItem, WorkStatus

# Canonical records carry no labels, so breaking changes are found by title.
BREAKING_MARKER = re.compile(r"breaking", re.IGNORECASE)


class Audience(enum.Enum):
    DEVELOPMENT = "DEVELOPMENT"
    OPERATIONS = "OPERATIONS"


class NotesFormat(enum.Enum):
    MARKDOWN = "MARKDOWN"
    HTML = "HTML"


@dataclass(frozen=True, slots=True)
class Vocabulary:
    release: str = "release"
    change: str = "change"
    work_item: str = "work item"
    version: str = "version"


# --------------------------------------------------------------------------- blocks


@dataclass(frozen=True, slots=True)
class _Heading:
    text: str
    level: int


@dataclass(frozen=True, slots=True)
class _Para:
    text: str


@dataclass(frozen=True, slots=True)
class _Bullets:
    items: tuple[_Line, ...]


@dataclass(frozen=True, slots=True)
class _Line:
    """One bullet: an optional linked key, then plain text."""

    text: str
    key: str | None = None
    url: str | None = None


_Block = _Heading | _Para | _Bullets

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def _md(text: str) -> str:
    """Backslash-escape what Markdown (or raw HTML inside it) would interpret."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_line(line: _Line) -> str:
    if line.key is None:
        return _md(line.text)
    key = f"[{_md(line.key)}](<{line.url}>)" if line.url else _md(line.key)
    return f"{key} {_md(line.text)}" if line.text else key


def _html_line(line: _Line) -> str:
    if line.key is None:
        return html.escape(line.text)
    key = html.escape(line.key)
    if line.url:
        key = f'<a href="{html.escape(line.url)}">{key}</a>'
    return f"{key} {html.escape(line.text)}" if line.text else key


def _markdown(blocks: Sequence[_Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, _Heading):
            out.append(f"{'#' * block.level} {_md(block.text)}")
        elif isinstance(block, _Para):
            out.append(_md(block.text))
        else:
            out.append("\n".join(f"- {_md_line(line)}" for line in block.items))
    return "\n\n".join(out) + "\n"


def _html(blocks: Sequence[_Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, _Heading):
            out.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, _Para):
            out.append(f"<p>{html.escape(block.text)}</p>")
        else:
            items = "".join(f"<li>{_html_line(line)}</li>" for line in block.items)
            out.append(f"<ul>{items}</ul>")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- content


def _cap(word: str) -> str:
    return word[:1].upper() + word[1:]


def _plural(word: str) -> str:
    return word if word.endswith("s") else f"{word}s"


def _bullets(lines: Sequence[_Line], empty: str) -> _Block:
    return _Bullets(tuple(lines)) if lines else _Para(empty)


def _safe_url(url: str | None) -> str | None:
    """Only web links: an upstream `javascript:` URL must not become a live link."""
    return url if url and url.startswith(("https://", "http://")) else None


def _item_line(item: WorkItem, detail: str) -> _Line:
    return _Line(f"{item.title} ({detail})", key=item.key, url=_safe_url(item.url))


def _person_key(name: str) -> str:
    return " ".join(re.split(r"[\s._-]+", name.casefold())).strip()


def people(names: Iterable[str]) -> list[str]:
    """Each person once, though one tracker says "Lena Haddad" and a code host "lena-haddad".

    The spelled-out name wins over a login; matching ignores case and the
    separators logins use instead of spaces.
    """
    chosen: dict[str, str] = {}
    for name in names:
        key = _person_key(name)
        if key not in chosen or (" " in name and " " not in chosen[key]):
            chosen[key] = name
    return sorted(chosen.values(), key=str.casefold)


def is_breaking(item: WorkItem) -> bool:
    return bool(BREAKING_MARKER.search(item.title))


def _development(release: ReleaseFacts, items: Sequence[WorkItem], v: Vocabulary
                 ) -> list[_Block]:
    pulls = [i for i in items if isinstance(i, PullRequest)]
    merged = [p for p in pulls if p.merged]
    open_pulls = [p for p in pulls if not p.merged]
    issues = [i for i in items if not isinstance(i, PullRequest)]
    blocks: list[_Block] = [
        _Heading(f"{_cap(v.release)} notes: {release.name}", 1),
        _Para(f"{_cap(v.release)} {release.key}, {v.version} {release.name}; window "
              f"{format_window(release.window_start, release.window_end)}."),
        _Heading("Pull requests", 2),
        _Heading(f"Merged ({len(merged)})", 3),
        _bullets([_item_line(p, f"by {p.assignee or 'unassigned'}") for p in merged],
                 "No merged pull requests."),
        _Heading(f"Open ({len(open_pulls)})", 3),
        _bullets([_item_line(p, p.status_label) for p in open_pulls],
                 "No open pull requests."),
        _Heading(f"{_cap(_plural(v.work_item))} and issues", 2),
    ]
    for status, title in ((WorkStatus.DONE, "Done"), (WorkStatus.IN_PROGRESS, "In progress"),
                          (WorkStatus.TODO, "To do")):
        group = [i for i in issues if i.status is status]
        blocks += [_Heading(f"{title} ({len(group)})", 3),
                   _bullets([_item_line(i, f"{kind_word(i.kind)}, {i.status_label}")
                             for i in group],
                            "None.")]
    contributors = people(i.assignee for i in items if i.assignee)
    breaking = [i for i in items if is_breaking(i)]
    blocks += [
        _Heading(f"Contributors ({len(contributors)})", 2),
        _bullets([_Line(name) for name in contributors], "No assignees recorded."),
        _Heading("Breaking changes", 2),
        _Para("Found by the word \"breaking\" in titles (upstream labels are not read)."),
        _bullets([_item_line(i, i.status_label) for i in breaking],
                 "None marked as breaking."),
    ]
    return blocks


def _override(release: ReleaseFacts) -> list[_Block]:
    """The lasting mark of a release moved on past failing gates: who, when, why."""
    o = release.override
    if o is None or not release.under_override:
        return []
    failed = ", ".join(gate_word(g).lower() for g in o.failed)
    return [_Para(f"Deploying under override: {o.actor} moved it on at {format_utc(o.at)}"
                  + (f" although these gates failed: {failed}" if failed else "")
                  + f". Reason given: {o.reason}")]


def _state(change: ChangeRecord) -> str:
    """Our word for the state, and the ITSM's own where it says it differently."""
    word = change_state_word(change.state)
    label = change.state_label.strip()
    return word if not label or label.casefold() == word.casefold() else f"{word} ({label})"


def _operations(release: ReleaseFacts, items: Sequence[WorkItem],
                changes: Sequence[ChangeRecord], composed: ComposedChange,
                gates: Sequence[GateResult], v: Vocabulary) -> list[_Block]:
    services = [_Line(f"{app.name} ({app.key}): "
                      + (", ".join(app.cmdb_items) or "no configuration item recorded"))
                for app in release.applications]
    approvals = [
        _Line(f"{c.title}: {plain(c.type.name)} {v.change}, state {_state(c)}, "
              f"{approval_word(c.approval)}, "
              f"planned {format_window(c.planned_start, c.planned_end)}",
              key=c.number, url=_safe_url(c.url))
        for c in changes]
    gate_lines = [_Line(f"{gate_word(g.name)}: {'passed' if g.passed else 'not passed'}: "
                        f"{g.reason}")
                  for g in gates]
    done = sum(1 for i in items if i.status is WorkStatus.DONE)
    # The board reads tickets, not pull requests: those are summed up in the evidence.
    pulls = {i.key for i in items if isinstance(i, PullRequest)}
    tickets = [t for t in composed.linked_tickets or linked_tickets(items) if t not in pulls]
    return [
        _Heading(f"CAB summary: {v.change} for {v.release} {release.name}", 1),
        *_override(release),
        _Para(f"{_cap(v.release)} {release.key} ({release.type.lower()}), "
              f"{v.version} {release.name}. Proposed {v.change}: {composed.title} "
              f"({plain(composed.type.name)} {v.change})."),
        _Heading("Implementation window", 2),
        _Para(format_window(composed.planned_start, composed.planned_end)),
        _Heading("Affected services and configuration items", 2),
        _bullets(services, "No application is linked."),
        _Para("Configuration items: " + (", ".join(composed.configuration_items) or "none")),
        _Heading(f"Risk: {risk_word(composed.risk)}", 2),
        _Para("Why:"),
        _bullets([_Line(r) for r in composed.risk_reasons], "No reasons recorded."),
        _Heading("Backout plan", 2),
        _Para(composed.backout_plan),
        _Heading("Approvals", 2),
        _bullets(approvals, f"No {v.change} request raised yet."),
        _Heading("Deployment gates", 2),
        _bullets(gate_lines, "Gates not evaluated."),
        _Heading("Test evidence", 2),
        _Para(composed.test_evidence),
        _Para(f"Scope progress: {done} of {len(items)} {_plural(v.work_item)} done, "
              f"{len(items) - done} open."),
        _Heading("Linked tickets", 2),
        _Para(", ".join(tickets) or "None."),
    ]


def render_notes(audience: Audience, fmt: NotesFormat, release: ReleaseFacts, *,
                 items: Sequence[WorkItem], changes: Sequence[ChangeRecord],
                 composed: ComposedChange, gates: Sequence[GateResult],
                 vocabulary: Vocabulary = Vocabulary()) -> str:
    blocks = (_development(release, items, vocabulary) if audience is Audience.DEVELOPMENT
              else _operations(release, items, changes, composed, gates, vocabulary))
    return _markdown(blocks) if fmt is NotesFormat.MARKDOWN else _html(blocks)
