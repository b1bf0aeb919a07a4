"""A small JQL parser and evaluator for the JIRA sandbox.

It covers the clauses the hub sends (project, fixVersion, key, status,
statusCategory, issuetype, priority, created/updated, AND/OR, parentheses,
ORDER BY), the ones people type most (assignee and reporter, `currentUser()`,
resolution, component, labels, `IS [NOT] EMPTY`, text search with `~`), and
refuses everything else with JIRA's own error sentences, so a connector or a
client library meets the same 400s it would meet on a real site. Pure: no I/O.

Text search (`summary ~ "login page"`) matches issues holding every word, in any
order, a trailing `*` or `?` as a wildcard and an inner quoted phrase exactly; real
JIRA also stems English words (`logins` finds `login`), which this does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

OPERATORS_TEXT = ("'=', '!=', '~', '!~', '<', '>', '<=', '>=', 'IN', 'NOT IN', 'IS' and "
                  "'IS NOT'")


class JqlError(ValueError):
    """A query JIRA would refuse with 400; `messages` go into `errorMessages`."""

    def __init__(self, *messages: str) -> None:
        super().__init__(messages[0] if messages else "")
        self.messages = list(messages)


@dataclass(slots=True)
class IssueFacts:
    """What the evaluator may look at on one issue (names compared case-insensitively)."""

    id: int
    key: str
    project_key: str
    project_id: int
    fix_versions: list[tuple[str, str]]  # (id, name)
    status: str
    status_category: str  # new | indeterminate | done
    issue_type: str
    priority: str
    priority_rank: int  # 1 = highest
    status_rank: int
    created: datetime
    updated: datetime
    labels: list[str] = field(default_factory=list)
    assignee: str = ""  # account id, "" when unassigned
    reporter: str = ""
    resolved: bool = False  # JIRA sets a resolution (Done) when work reaches done
    components: list[str] = field(default_factory=list)  # component ids
    summary: str = ""
    description: str = ""
    environment: str = ""
    sprint: str = ""  # sprint id, "" in the backlog


@dataclass(slots=True)
class Vocabulary:
    """The values that exist on the site, so unknown ones fail like JIRA's do."""

    projects: dict[str, str]  # lower key or id -> key
    versions: dict[str, set[str]]  # lower name or id -> ids
    released_versions: dict[str, set[str]]  # project key (lower) -> version ids
    unreleased_versions: dict[str, set[str]]
    issue_keys: Set[str]  # upper
    statuses: set[str]  # lower names
    status_categories: dict[str, str]  # lower key/name/id -> key
    issue_types: set[str]
    priorities: set[str]
    now: datetime
    users: dict[str, str] = field(default_factory=dict)  # lower id/email/name -> account id
    me: str = ""  # the caller's account id: `currentUser()`
    components: dict[str, set[str]] = field(default_factory=dict)  # lower name or id -> ids
    sprints: dict[str, set[str]] = field(default_factory=dict)  # lower name or id -> ids
    sprints_by_state: dict[str, set[str]] = field(default_factory=dict)  # open/closed/future


# --- tokens -----------------------------------------------------------------

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
     |(?P<op>!=|>=|<=|!~|=|<|>|~)
     |(?P<punct>[(),])
     |(?P<word>[^\s"'(),=!<>~]+)
    )""", re.VERBOSE)


@dataclass(slots=True, frozen=True)
class Token:
    kind: str  # string | op | punct | word | end
    text: str
    position: int  # 1-based character, as JIRA reports it

    @property
    def value(self) -> str:
        if self.kind == "string":
            return re.sub(r"\\(.)", r"\1", self.text[1:-1])
        return self.text

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


def tokenize(jql: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(jql):
        if jql[pos:].strip() == "":
            break
        match = _TOKEN.match(jql, pos)
        if match is None or match.lastgroup is None:
            char = jql[pos:].lstrip()[:1]
            raise JqlError(f"Error in the JQL Query: The character '{char}' is a reserved JQL "
                           f"character. You must enclose it in a string or use the escape "
                           f"'\\u{ord(char):04x}' instead. (line 1, character {pos + 1})")
        start = match.start(match.lastgroup)
        tokens.append(Token(match.lastgroup, match.group(match.lastgroup), start + 1))
        pos = match.end()
    tokens.append(Token("end", "", len(jql) + 1))
    return tokens


# --- syntax tree ----------------------------------------------------------------

@dataclass(slots=True, frozen=True)
class Value:
    text: str
    function: tuple[str, ...] | None = None  # (name, *args) for a function call


@dataclass(slots=True, frozen=True)
class Clause:
    field: str  # canonical field name
    operator: str  # = != < > <= >= in "not in"
    values: tuple[Value, ...]


@dataclass(slots=True, frozen=True)
class BoolOp:
    op: str  # and | or
    parts: tuple[Node, ...]


@dataclass(slots=True, frozen=True)
class Not:
    part: Node


Node = Clause | BoolOp | Not


@dataclass(slots=True, frozen=True)
class Query:
    where: Node | None
    order_by: tuple[tuple[str, bool], ...]  # (field, descending)

    @property
    def bounded(self) -> bool:
        return self.where is not None


def narrowed(query: Query, to: Query) -> Query:
    """`query` limited to what `to` matches, in `query`'s order: the agile API's `jql`
    within a sprint or board, which may carry its own ORDER BY."""
    if to.where is None:
        return query
    where = to.where if query.where is None else BoolOp("and", (to.where, query.where))
    return Query(where, query.order_by)


# Field names JIRA accepts, with their aliases, mapped to the evaluator's names.
FIELDS: dict[str, str] = {
    "project": "project", "fixversion": "fixVersion", "key": "key", "issuekey": "key",
    "status": "status", "statuscategory": "statusCategory",
    "issuetype": "issuetype", "type": "issuetype", "priority": "priority",
    "updated": "updated", "updateddate": "updated", "created": "created",
    "createddate": "created", "labels": "labels", "assignee": "assignee",
    "reporter": "reporter", "resolution": "resolution", "component": "component",
    "summary": "summary", "description": "description", "environment": "environment",
    "text": "text", "sprint": "sprint",
}
EQUALITY = {"=", "!=", "in", "not in"}
ORDERED = EQUALITY | {"<", ">", "<=", ">="}
EMPTINESS = {"is", "is not"}
MATCHING = {"~", "!~"}
FIELD_OPERATORS: dict[str, set[str]] = {
    "project": EQUALITY, "fixVersion": EQUALITY | EMPTINESS, "key": ORDERED,
    "status": EQUALITY, "statusCategory": EQUALITY, "issuetype": EQUALITY,
    "priority": ORDERED, "updated": ORDERED, "created": ORDERED,
    "labels": EQUALITY | EMPTINESS, "assignee": EQUALITY | EMPTINESS,
    "reporter": EQUALITY | EMPTINESS, "resolution": EQUALITY | EMPTINESS,
    "component": EQUALITY | EMPTINESS, "summary": MATCHING,
    "description": MATCHING | EMPTINESS, "environment": MATCHING | EMPTINESS,
    "text": {"~"}, "sprint": EQUALITY | EMPTINESS,
}
#: Fields whose values are the words of a text (`~`), not names.
TEXT_FIELDS = {"summary": ("summary",), "description": ("description",),
               "environment": ("environment",),
               "text": ("summary", "description", "environment")}
SORTABLE = {"project", "fixVersion", "key", "status", "issuetype", "priority", "updated",
            "created"}
SPRINT_FUNCTIONS = {"opensprints": "open", "closedsprints": "closed",
                    "futuresprints": "future"}
FUNCTIONS = {"releasedversions", "unreleasedversions", "now", "currentuser",
             *SPRINT_FUNCTIONS}
USER_FIELDS = {"assignee", "reporter"}
UNRESOLVED = "unresolved"  # `resolution = Unresolved`: the value JIRA gives "no resolution"


class _Parser:
    def __init__(self, jql: str) -> None:
        self.tokens = tokenize(jql)
        self.index = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, expected: str) -> JqlError:
        token = self.token
        got = "end of query" if token.kind == "end" else token.text
        return JqlError(f"Error in the JQL Query: Expecting {expected} but got '{got}'. "
                        f"(line 1, character {token.position})")

    def parse(self) -> Query:
        where: Node | None = None
        if not self.token.is_word("order") and self.token.kind != "end":
            where = self.parse_or()
        order_by: list[tuple[str, bool]] = []
        if self.token.is_word("order"):
            self.take()
            if not self.token.is_word("by"):
                raise self.fail("'by'")
            self.take()
            while True:
                name_token = self.take()
                if name_token.kind not in ("word", "string"):
                    self.index -= 1
                    raise self.fail("a field name")
                name = FIELDS.get(name_token.value.lower())
                if name is None or name not in SORTABLE:
                    raise JqlError(f"Not able to sort using field '{name_token.value}'.")
                descending = False
                if self.token.is_word("asc", "desc"):
                    descending = self.take().text.lower() == "desc"
                order_by.append((name, descending))
                if self.token.kind == "punct" and self.token.text == ",":
                    self.take()
                    continue
                break
            if len(order_by) > 7:
                raise JqlError("The ORDER BY clause can contain a maximum of 7 fields.")
        if self.token.kind != "end":
            raise self.fail("either 'OR' or 'AND'" if where is not None else "a field name")
        return Query(where, tuple(order_by))

    def parse_or(self) -> Node:
        parts = [self.parse_and()]
        while self.token.is_word("or"):
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def parse_and(self) -> Node:
        parts = [self.parse_not()]
        while self.token.is_word("and"):
            self.take()
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def parse_not(self) -> Node:
        if self.token.is_word("not"):
            self.take()
            return Not(self.parse_not())
        if self.token.kind == "punct" and self.token.text == "(":
            self.take()
            node = self.parse_or()
            if not (self.token.kind == "punct" and self.token.text == ")"):
                raise self.fail("')'")
            self.take()
            return node
        return self.parse_clause()

    def parse_clause(self) -> Clause:
        name_token = self.token
        if name_token.kind not in ("word", "string"):
            raise self.fail("a field name")
        self.take()
        name = FIELDS.get(name_token.value.lower())
        if name is None:
            raise JqlError(f"Field '{name_token.value}' does not exist or you do not have "
                           f"permission to view it.")
        operator = self.parse_operator()
        if operator not in FIELD_OPERATORS[name]:
            shown = operator.upper() if operator[0].isalpha() else operator
            raise JqlError(f"The operator '{shown}' is not supported by the "
                           f"'{name_token.value}' field.")
        if operator in ("=", "!=") and "is" in FIELD_OPERATORS[name] \
                and self.token.is_word("empty", "null"):
            operator = "is" if operator == "=" else "is not"  # `= EMPTY` says `IS EMPTY`
        if operator in EMPTINESS:
            if not self.token.is_word("empty", "null"):
                raise self.fail("'EMPTY' or 'NULL'")
            return Clause(name, operator, (Value(self.take().text),))
        in_list = operator in ("in", "not in")
        values = self.parse_list() if in_list else (self.parse_value(),)
        return Clause(name, operator, values)

    def parse_operator(self) -> str:
        token = self.token
        if token.kind == "op":
            self.take()
            return token.text
        if token.is_word("in"):
            self.take()
            return "in"
        if token.is_word("is"):
            self.take()
            if self.token.is_word("not"):
                self.take()
                return "is not"
            return "is"
        if token.is_word("not"):
            self.take()
            if self.token.is_word("in"):
                self.take()
                return "not in"
            self.index -= 1
        if token.is_word("was", "changed"):
            raise JqlError(f"The operator '{token.text.upper()}' is not supported by the sandbox "
                           f"for this field.")
        raise self.fail(f"operator. The valid operators are {OPERATORS_TEXT}")

    def parse_list(self) -> tuple[Value, ...]:
        if not (self.token.kind == "punct" and self.token.text == "("):
            value = self.parse_value()
            if value.function is None:
                raise self.fail("'('")
            return (value,)
        self.take()
        values = [self.parse_value()]
        while self.token.kind == "punct" and self.token.text == ",":
            self.take()
            values.append(self.parse_value())
        if not (self.token.kind == "punct" and self.token.text == ")"):
            raise self.fail("')'")
        self.take()
        return tuple(values)

    def parse_value(self) -> Value:
        token = self.token
        if token.kind not in ("word", "string"):
            raise self.fail("either a value, list or function")
        self.take()
        if token.kind == "word" and self.token.kind == "punct" and self.token.text == "(":
            self.take()
            args: list[str] = []
            while not (self.token.kind == "punct" and self.token.text == ")"):
                if self.token.kind not in ("word", "string"):
                    raise self.fail("')'")
                args.append(self.take().value)
                if self.token.kind == "punct" and self.token.text == ",":
                    self.take()
            self.take()
            if token.text.lower() not in FUNCTIONS:
                raise JqlError(f"Unable to find JQL function '{token.text}({', '.join(args)})'.")
            return Value(token.text, (token.text.lower(), *args))
        return Value(token.value)


def parse(jql: str) -> Query:
    """Parse a JQL string; raises JqlError with JIRA's wording."""
    return _Parser(jql).parse()


# --- evaluation ---------------------------------------------------------------

_RELATIVE = re.compile(r"^([-+]?)(\d+)([wdhm])$", re.IGNORECASE)
_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")


def parse_date(text: str, field_name: str, now: datetime) -> datetime:
    """A JQL date: absolute (`yyyy-MM-dd[ HH:mm]`, slashes too) or relative (`-7d`)."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        sign = -1 if relative.group(1) == "-" else 1
        amount = int(relative.group(2))
        unit = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}[relative.group(3).lower()]
        return now + sign * timedelta(**{unit: amount})
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise JqlError(f"Date value '{text}' for field '{field_name}' is invalid. Valid formats "
                   f"include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', "
                   f"'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.")


def _key_order(key: str) -> tuple[str, int]:
    project, _, number = key.rpartition("-")
    return project, int(number) if number.isdigit() else 0


def _missing(value: str, field_name: str) -> JqlError:
    if field_name == "key":
        return JqlError(f"An issue with key '{value}' does not exist for the field 'key'.")
    return JqlError(f"The value '{value}' does not exist for the field '{field_name}'.")


#: Fields an `IssueSource` can look issues up by, and a value of each (as `_values_of` has it).
INDEXED = {"key", "fixVersion", "project"}
#: Issues a query can only match if they hold one of these (field, values): None for any.
Within = tuple[tuple[str, frozenset[str]], ...] | None


class IssueSource(Protocol):
    """The issues a query runs over: all of them, or those holding one value of an
    `INDEXED` field (possibly with others the query's test will drop)."""

    def all(self) -> Iterable[IssueFacts]: ...

    def having(self, field_name: str, value: str) -> Iterable[IssueFacts]: ...


@dataclass(slots=True)
class _Matcher:
    """A clause compiled against the vocabulary: a predicate on IssueFacts, and the
    indexed values an issue must hold to pass it, when the clause says."""

    test: Callable[[IssueFacts], bool]
    within: Within = None


def _and_within(parts: list[_Matcher]) -> Within:
    """Any part's bound holds for the conjunction: the one naming the fewest values."""
    bounds = [p.within for p in parts if p.within is not None]
    return min(bounds, key=lambda b: sum(len(values) for _, values in b), default=None)


def _or_within(parts: list[_Matcher]) -> Within:
    """The union of the parts' bounds, if every part has one."""
    if any(p.within is None for p in parts):
        return None
    return tuple(bound for p in parts for bound in p.within or ())


def _compile_value_set(clause: Clause, vocab: Vocabulary) -> set[str]:
    """Resolve the clause's values into the comparable set for its field."""
    wanted: set[str] = set()
    for value in clause.values:
        if value.function is not None:
            name, *args = value.function
            if clause.field in USER_FIELDS and name == "currentuser" and not args:
                wanted.add(vocab.me)
                continue
            if clause.field == "sprint" and name in SPRINT_FUNCTIONS and not args:
                wanted |= vocab.sprints_by_state.get(SPRINT_FUNCTIONS[name], set())
                continue
            if clause.field != "fixVersion" or name not in ("releasedversions",
                                                            "unreleasedversions"):
                raise JqlError(f"Unable to find JQL function '{value.text}({', '.join(args)})'.")
            table = vocab.released_versions if name == "releasedversions" \
                else vocab.unreleased_versions
            projects = [a.lower() for a in args] or list(table)
            for project in projects:
                key = vocab.projects.get(project)
                if key is None:
                    raise JqlError(f"Could not resolve the project '{project}' provided to "
                                   f"function '{value.text}'.")
                wanted |= table.get(key.lower(), set())
            continue
        text = value.text.lower()
        if clause.field == "project":
            if text not in vocab.projects:
                raise _missing(value.text, "project")
            wanted.add(vocab.projects[text].lower())
        elif clause.field == "fixVersion":
            if text not in vocab.versions:
                raise _missing(value.text, "fixVersion")
            wanted |= vocab.versions[text]
        elif clause.field == "key":
            if value.text.upper() not in vocab.issue_keys:
                raise _missing(value.text, "key")
            wanted.add(value.text.upper())
        elif clause.field == "status":
            if text not in vocab.statuses:
                raise _missing(value.text, "status")
            wanted.add(text)
        elif clause.field == "statusCategory":
            if text not in vocab.status_categories:
                raise _missing(value.text, "statusCategory")
            wanted.add(vocab.status_categories[text])
        elif clause.field == "issuetype":
            if text not in vocab.issue_types:
                raise _missing(value.text, "issuetype")
            wanted.add(text)
        elif clause.field == "priority":
            if text not in vocab.priorities:
                raise _missing(value.text, "priority")
            wanted.add(text)
        elif clause.field in USER_FIELDS:
            if text not in vocab.users:
                raise _missing(value.text, clause.field)
            wanted.add(vocab.users[text])
        elif clause.field == "resolution":
            if text not in (UNRESOLVED, "done", "10000"):
                raise _missing(value.text, "resolution")
            wanted.add(UNRESOLVED if text == UNRESOLVED else "done")
        elif clause.field == "component":
            if text not in vocab.components:
                raise _missing(value.text, "component")
            wanted |= vocab.components[text]
        elif clause.field == "sprint":
            if text not in vocab.sprints:
                raise _missing(value.text, "sprint")
            wanted |= vocab.sprints[text]
        else:  # labels: any value is legal
            wanted.add(text)
    return wanted


def _values_of(field_name: str, issue: IssueFacts) -> set[str]:
    if field_name == "project":
        return {issue.project_key.lower()}
    if field_name == "fixVersion":
        return {version_id for version_id, _ in issue.fix_versions}
    if field_name == "key":
        return {issue.key.upper()}
    if field_name == "status":
        return {issue.status.lower()}
    if field_name == "statusCategory":
        return {issue.status_category}
    if field_name == "issuetype":
        return {issue.issue_type.lower()}
    if field_name == "priority":
        return {issue.priority.lower()}
    if field_name == "labels":
        return {label.lower() for label in issue.labels}
    if field_name == "assignee":
        return {issue.assignee} if issue.assignee else set()
    if field_name == "reporter":
        return {issue.reporter} if issue.reporter else set()
    if field_name == "resolution":
        return {"done"} if issue.resolved else set()
    if field_name == "component":
        return set(issue.components)
    if field_name == "sprint":
        return {issue.sprint} if issue.sprint else set()
    texts = [_text_of(issue, name) for name in TEXT_FIELDS[field_name]]
    return {text for text in texts if text}


def _text_of(issue: IssueFacts, field_name: str) -> str:
    return {"summary": issue.summary, "description": issue.description,
            "environment": issue.environment}[field_name]


def _compile(node: Node, vocab: Vocabulary, priority_ranks: dict[str, int]) -> _Matcher:
    if isinstance(node, BoolOp):
        parts = [_compile(p, vocab, priority_ranks) for p in node.parts]
        if node.op == "and":
            return _Matcher(lambda issue: all(p.test(issue) for p in parts), _and_within(parts))
        return _Matcher(lambda issue: any(p.test(issue) for p in parts), _or_within(parts))
    if isinstance(node, Not):
        inner = _compile(node.part, vocab, priority_ranks)
        return _Matcher(lambda issue: not inner.test(issue))
    clause = node
    field_name = clause.field
    if clause.operator == "is":
        return _Matcher(lambda issue: not _values_of(field_name, issue))
    if clause.operator == "is not":
        return _Matcher(lambda issue: bool(_values_of(field_name, issue)))
    if clause.operator in MATCHING:
        return _compile_text(clause)
    if clause.field in ("updated", "created"):
        return _compile_date(clause, vocab)
    if clause.operator in ("<", ">", "<=", ">="):
        return _compile_ranked(clause, vocab, priority_ranks)
    wanted = _compile_value_set(clause, vocab)
    if clause.operator in ("=", "in"):
        within = ((field_name, frozenset(wanted)),) if field_name in INDEXED else None
        if field_name == "resolution" and UNRESOLVED in wanted:
            # "Unresolved" is the name of no resolution at all.
            return _Matcher(lambda issue: not _values_of(field_name, issue)
                            or bool(_values_of(field_name, issue) & wanted))
        return _Matcher(lambda issue: bool(_values_of(field_name, issue) & wanted), within)
    # JIRA's negative operators do not match issues whose field is empty.
    return _Matcher(lambda issue: bool(_values_of(field_name, issue))
                    and not _values_of(field_name, issue) & wanted)


_WORD = re.compile(r"\w+")
_TERM = re.compile(r"[\w*?]+")  # a word of a query, wildcards kept


def _compile_text(clause: Clause) -> _Matcher:
    """`~`: every word of the value in one of the field's texts (a trailing `*` or `?`
    a wildcard), or an inner quoted phrase as it stands; `!~`: not so."""
    (value,) = clause.values
    text = value.text.strip()
    phrase = len(text) > 1 and text[0] == text[-1] == '"'
    words = [w.lower() for w in _TERM.findall(text)]
    if not words:
        raise JqlError(f"The field '{clause.field}' does not support searching for an "
                       f"empty string.")
    for word in words:
        if word[0] in "*?":
            raise JqlError(f"The text query '{word}' for field '{clause.field}' is not "
                           f"allowed to start with a wildcard.")
    if phrase:
        wanted = f" {' '.join(_WORD.findall(text[1:-1].lower()))} "

        def holds(texts: set[str]) -> bool:
            return any(wanted in f" {' '.join(_WORD.findall(t.lower()))} " for t in texts)
    else:
        patterns = [re.compile(re.escape(w).replace(r"\*", r"\w*").replace(r"\?", r"\w")
                               + r"\Z") for w in words]

        def holds(texts: set[str]) -> bool:
            found = {word for t in texts for word in _WORD.findall(t.lower())}
            return all(any(p.match(word) for word in found) for p in patterns)
    field_name = clause.field
    if clause.operator == "~":
        return _Matcher(lambda issue: holds(_values_of(field_name, issue)))
    return _Matcher(lambda issue: bool(_values_of(field_name, issue))
                    and not holds(_values_of(field_name, issue)))


def _compile_date(clause: Clause, vocab: Vocabulary) -> _Matcher:
    if clause.operator in ("in", "not in"):
        moments = {parse_date(v.text, clause.field, vocab.now) for v in clause.values}
    else:
        moments = {parse_date(clause.values[0].text, clause.field, vocab.now)}
    moment = next(iter(moments))
    field_name = clause.field

    def when(issue: IssueFacts) -> datetime:
        return issue.updated if field_name == "updated" else issue.created

    tests: dict[str, Callable[[IssueFacts], bool]] = {
        "=": lambda issue: when(issue) == moment,
        "!=": lambda issue: when(issue) != moment,
        "<": lambda issue: when(issue) < moment,
        ">": lambda issue: when(issue) > moment,
        "<=": lambda issue: when(issue) <= moment,
        ">=": lambda issue: when(issue) >= moment,
        "in": lambda issue: when(issue) in moments,
        "not in": lambda issue: when(issue) not in moments,
    }
    return _Matcher(tests[clause.operator])


def _compile_ranked(clause: Clause, vocab: Vocabulary,
                    priority_ranks: dict[str, int]) -> _Matcher:
    """`priority > Low` compares by importance; `key > PAY-3` within the project."""
    (value,) = clause.values
    if clause.field == "priority":
        if value.text.lower() not in priority_ranks:
            raise _missing(value.text, "priority")
        # A higher priority has a lower rank number.
        pivot = -priority_ranks[value.text.lower()]

        def score(issue: IssueFacts) -> tuple[str, int]:
            return "", -issue.priority_rank

        target: tuple[str, int] = ("", pivot)
    else:
        if value.text.upper() not in vocab.issue_keys:
            raise _missing(value.text, "key")
        target = _key_order(value.text.upper())

        def score(issue: IssueFacts) -> tuple[str, int]:
            return _key_order(issue.key)

    same_scope = clause.field == "priority"
    op = clause.operator

    def test(issue: IssueFacts) -> bool:
        mine = score(issue)
        if not same_scope and mine[0] != target[0]:
            return False
        return {"<": mine < target, ">": mine > target,
                "<=": mine <= target, ">=": mine >= target}[op]

    return _Matcher(test)


def _sort_key(field_name: str, issue: IssueFacts) -> tuple[object, ...]:
    if field_name == "key":
        return _key_order(issue.key)
    if field_name == "updated":
        return (issue.updated,)
    if field_name == "created":
        return (issue.created,)
    if field_name == "priority":
        # JIRA sorts priority by importance: DESC puts Highest first.
        return (-issue.priority_rank,)
    if field_name == "status":
        return (issue.status_rank,)
    if field_name == "project":
        return (issue.project_key,)
    if field_name == "issuetype":
        return (issue.issue_type,)
    return (min((name for _, name in issue.fix_versions), default=""),)


def search(query: Query, issues: IssueSource, vocab: Vocabulary,
           priority_ranks: dict[str, int]) -> list[IssueFacts]:
    """The issues matching `query`, in its ORDER BY order (else by id).

    A query bounded by keys, versions or projects (`key in (...)`, `fixVersion in
    (...)`, alone or ANDed with anything) tests only the issues holding one of them.
    """
    if query.where is None:
        matched = list(issues.all())
    else:
        matcher = _compile(query.where, vocab, priority_ranks)
        if matcher.within is None:
            candidates: Iterable[IssueFacts] = issues.all()
        else:
            found = {issue.id: issue for field_name, values in matcher.within
                     for value in values for issue in issues.having(field_name, value)}
            candidates = found.values()
        matched = [issue for issue in candidates if matcher.test(issue)]
    matched.sort(key=lambda issue: issue.id)
    for field_name, descending in reversed(query.order_by):
        matched.sort(key=lambda issue, f=field_name: _sort_key(f, issue),  # type: ignore[misc]
                     reverse=descending)
    return matched
