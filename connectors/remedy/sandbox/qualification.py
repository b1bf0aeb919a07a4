"""AR System qualifications: parse the `q=` language and evaluate it on entries.

The sandbox needs the same search semantics as a real AR server so that a
connector's batched qualifications (`'F' = "a" OR 'F' = "b"`) are exercised
for real. Parsing binds literals to the form's field types up front, so an
unknown field or a bad enum label fails before any entry is looked at, as
on the server. No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

FieldKind = Literal["char", "enum", "date", "int"]
Value = str | int | float | datetime | None
Entry = Mapping[str, object]
Predicate = Callable[[Entry], bool]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A form field's type; enum fields list (number, label) in stored order."""

    kind: FieldKind = "char"
    enum: tuple[tuple[int, str], ...] = field(default_factory=tuple)

    def number_of(self, label: str) -> int | None:
        return next((n for n, lab in self.enum if lab == label), None)

    def label_of(self, number: int) -> str | None:
        return next((lab for n, lab in self.enum if n == number), None)


class QualificationError(ValueError):
    """The text is not a valid qualification for this form."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(f"{message}: {detail}")
        self.message = message
        self.detail = detail


class UnknownFieldError(QualificationError):
    """A quoted field name that the form does not have."""

    def __init__(self, name: str) -> None:
        super().__init__("Field does not exist on current form", name)
        self.name = name


def _invalid(detail: str) -> QualificationError:
    return QualificationError("Invalid qualification", detail)


# --- tokens -----------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<field>'(?:[^']|'')*')
      | (?P<string>"(?:[^"]|"")*")
      | (?P<null>\$NULL\$)
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<lparen>\()
      | (?P<rparen>\))
      | (?P<word>[A-Za-z]+|&&|\|\||!)
    )""",
    re.VERBOSE,
)

_WORDS = {"AND": "and", "&&": "and", "OR": "or", "||": "or", "NOT": "not", "!": "not",
          "LIKE": "like"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # field string null number op lparen rparen and or not like end
    text: str
    at: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            raise _invalid(f"unexpected text at {pos}: {text[pos:pos + 20]}")
        kind, raw = match.lastgroup, match.group(match.lastgroup)
        start = match.start(kind)
        if kind == "word":
            word = _WORDS.get(raw.upper())
            if word is None:
                raise _invalid(f"unknown keyword {raw!r} at {start}")
            kind = word
        elif kind == "field":
            raw = raw[1:-1].replace("''", "'")
        elif kind == "string":
            raw = raw[1:-1].replace('""', '"')
        elif kind == "op" and raw == "<>":
            raw = "!="
        tokens.append(_Token(kind, raw, start))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# --- parser -----------------------------------------------------------------

_MIRROR = {"=": "=", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}


class _Parser:
    """Recursive descent: OR binds loosest, then AND, then NOT."""

    def __init__(self, text: str, schema: Mapping[str, FieldSpec]) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.schema = schema

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self, kind: str | None = None) -> _Token:
        token = self.tokens[self.index]
        if kind is not None and token.kind != kind:
            found = token.text or "end of qualification"
            raise _invalid(f"expected {kind} at {token.at}, found {found!r}")
        self.index += 1
        return token

    def parse(self) -> Predicate:
        predicate = self.or_expr()
        self.take("end")
        return predicate

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.peek().kind == "or":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda e: any(p(e) for p in parts))

    def and_expr(self) -> Predicate:
        parts = [self.not_expr()]
        while self.peek().kind == "and":
            self.take()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else (lambda e: all(p(e) for p in parts))

    def not_expr(self) -> Predicate:
        if self.peek().kind == "not":
            self.take()
            inner = self.not_expr()
            return lambda e: not inner(e)
        if self.peek().kind == "lparen":
            self.take()
            inner = self.or_expr()
            self.take("rparen")
            return inner
        return self.comparison()

    def operand(self) -> _Token:
        token = self.take()
        if token.kind not in ("field", "string", "null", "number"):
            found = token.text or "end of qualification"
            raise _invalid(f"expected a value at {token.at}, found {found!r}")
        if token.kind == "field" and token.text not in self.schema:
            raise UnknownFieldError(token.text)
        return token

    def comparison(self) -> Predicate:
        left = self.operand()
        op_token = self.take()
        if op_token.kind not in ("op", "like"):
            raise _invalid(f"expected an operator at {op_token.at}")
        op = "like" if op_token.kind == "like" else op_token.text
        right = self.operand()
        if left.kind != "field" and right.kind == "field":
            if op == "like":
                raise _invalid("LIKE needs the field on its left")
            left, right, op = right, left, _MIRROR[op]
        if left.kind != "field":
            raise _invalid(f"a comparison needs a field at {left.at}")
        spec = self.schema[left.text]
        name = left.text
        if right.kind == "field":
            other = right.text
            other_spec = self.schema[other]
            return lambda e: _compare(
                _typed(spec, e.get(name)), op, _typed(other_spec, e.get(other)))
        literal = _bind(spec, right, op)
        return lambda e: _compare(_typed(spec, e.get(name)), op, literal)


def compile_qualification(text: str, schema: Mapping[str, FieldSpec]) -> Predicate:
    """Turn qualification text into a predicate over entries keyed by field name."""
    if text.strip() == "":
        return lambda e: True
    return _Parser(text, schema).parse()


# --- values -----------------------------------------------------------------

_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S",
                 "%m/%d/%Y %H:%M:%S", "%Y-%m-%d", "%m/%d/%Y")


def parse_date(text: str) -> datetime | None:
    """Read the date forms AR accepts in qualifications; naive times are UTC."""
    cleaned = text.strip().replace("Z", "+0000")
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _bind(spec: FieldSpec, token: _Token, op: str) -> Value:
    """Convert a literal to the field's type once, at parse time."""
    if token.kind == "null":
        if op not in ("=", "!="):
            raise _invalid("$NULL$ can only be compared with = or !=")
        return None
    if op == "like":
        if spec.kind != "char":
            raise _invalid("LIKE applies to character fields only")
        return token.text
    if spec.kind == "enum":
        if token.kind == "number":
            if spec.label_of(int(float(token.text))) is None:
                raise _invalid(f"no selection value {token.text}")
            return int(float(token.text))
        number = spec.number_of(token.text)
        if number is None:
            raise _invalid(f"no selection value {token.text!r}")
        return number
    if spec.kind == "date":
        if token.kind == "number":
            return datetime.fromtimestamp(float(token.text), tz=UTC)
        parsed = parse_date(token.text)
        if parsed is None:
            raise _invalid(f"not a date: {token.text!r}")
        return parsed
    if spec.kind == "int":
        try:
            return float(token.text)
        except ValueError:
            raise _invalid(f"not a number: {token.text!r}") from None
    return token.text


def _typed(spec: FieldSpec, raw: object) -> Value:
    """Bring a stored value (labels, date strings) into comparable form."""
    if raw is None:
        return None
    if spec.kind == "enum":
        return spec.number_of(str(raw))
    if spec.kind == "date":
        return parse_date(str(raw))
    if spec.kind == "int" and isinstance(raw, int | float):
        return float(raw)
    return str(raw)


def _like(value: str, pattern: str) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _compare(value: Value, op: str, literal: Value) -> bool:
    """AR semantics: `!=` matches empty fields; ordering never matches them."""
    if literal is None or value is None:
        equal = value is None and literal is None
        return equal if op == "=" else (not equal) if op == "!=" else False
    if op == "like":
        return _like(str(value), str(literal))
    if type(value) is not type(literal) and not (
        isinstance(value, int | float) and isinstance(literal, int | float)
    ):
        value, literal = str(value), str(literal)
    if op == "=":
        return value == literal
    if op == "!=":
        return value != literal
    ordered: dict[str, Callable[[Value, Value], bool]] = {
        "<": lambda a, b: a < b,  # type: ignore[operator]
        ">": lambda a, b: a > b,  # type: ignore[operator]
        "<=": lambda a, b: a <= b,  # type: ignore[operator]
        ">=": lambda a, b: a >= b,  # type: ignore[operator]
    }
    return ordered[op](value, literal)
