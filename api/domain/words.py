"""Words for people: the codes Heatshield and its sources use, said as people say them.

Notes, change descriptions, gate reasons and conflict reasons are read by release
managers and change boards, who should never meet `NOT_REQUESTED`, `pull_request`
or `change_approved`. One table per code keeps every text saying a code the same way.
"""

from __future__ import annotations

from connectors.records import ApprovalState, ChangeState, RiskLevel

_CHANGE_STATE = {ChangeState.NEW: "new", ChangeState.ASSESS: "in assessment",
                 ChangeState.AUTHORIZE: "awaiting authorization",
                 ChangeState.SCHEDULED: "scheduled", ChangeState.IMPLEMENT: "being implemented",
                 ChangeState.REVIEW: "in review", ChangeState.CLOSED: "closed",
                 ChangeState.CANCELED: "cancelled", ChangeState.REJECTED: "rejected",
                 ChangeState.ON_HOLD: "on hold"}

_APPROVAL = {ApprovalState.APPROVED: "approved",
             ApprovalState.REQUESTED: "awaiting approval",
             ApprovalState.REJECTED: "rejected",
             ApprovalState.NOT_REQUESTED: "approval not asked"}

_GATE = {"change_approved": "Change approved", "blackout": "Outside blackout windows",
         "blockers": "No open blockers"}


def plain(code: str) -> str:
    """Any code in lower-case words: "VERY_HIGH" -> "very high", "release.transition" ->
    "release transition"; the fallback for a code no table names yet."""
    return " ".join(code.replace("_", " ").replace(".", " ").split()).lower()


def change_state_word(state: ChangeState) -> str:
    return _CHANGE_STATE.get(state, plain(state.name))


def approval_word(approval: ApprovalState) -> str:
    return _APPROVAL.get(approval, plain(approval.name))


def risk_word(risk: RiskLevel) -> str:
    return plain(risk.name)


def kind_word(kind: str) -> str:
    """A work item's kind: "pull_request" -> "pull request"; a tracker's type ("Bug") as is."""
    return kind.replace("_", " ")


def gate_word(name: str) -> str:
    """A gate's name as the board reads it."""
    return _GATE.get(name, plain(name).capitalize())



def count(n: int, word: str) -> str:
    """"1 pull request", "4 pull requests", "2 stories": never "story(s)"."""
    if n == 1:
        return f"{n} {word}"
    if word.endswith("s"):
        return f"{n} {word}"
    if len(word) > 1 and word.endswith("y") and word[-2].lower() not in "aeiou":
        return f"{n} {word[:-1]}ies"
    return f"{n} {word}s"
