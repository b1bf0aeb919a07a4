"""The project's own contract descriptions of the upstream calls, and their checker.

`tests/contracts/<vendor>.json` says, for each upstream call a connector makes
or a sandbox serves: the method and path, the status of a good answer, and the
shape of its body (the envelope and the fields a reader relies on, with their
JSON types). The facts come from the vendors' public API descriptions; the
files are the project's, so the suite needs nothing outside the repository.
`tests/contracts/samples/<vendor>.json` holds small answers written for the
tests (invented values), each naming the call it answers.

Shape notation (compiled to JSON Schema, which `jsonschema` checks):

* a type name: `string`, `integer`, `number`, `boolean`, `null`, `object`,
  `array` or `any`; `string:<format>` adds the pattern named in the file's
  `formats`; `a|b` allows either (`string|null`).
* `@name`: the shape named `name` in the file's `shapes`.
* `{"key": shape, "key?": shape}`: an object that has `key` (and may have
  `key?`); other keys are allowed, as upstreams send many more.
* `[shape]`: an array whose items all have that shape.
* `{"$enum": [values]}`: one of these JSON values.
* `{"$map": shape}`: an object whose every value has that shape.
* `{"$all": [shapes]}`: all of these at once (a shape and what a call adds).

A call whose `answer` is `null` answers with no body; `"media": "text"` marks
a call that answers plain text rather than JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from tests.support.paths import CONTRACTS

VENDORS = ("jira", "github", "servicenow", "remedy")
TYPES = {"string", "integer", "number", "boolean", "null", "object", "array"}


@dataclass(frozen=True, slots=True)
class Call:
    vendor: str
    name: str
    method: str
    path: str
    status: int
    answer: Any  # a shape in the notation above; None: no body
    media: str = "json"


@cache
def contract(vendor: str) -> dict[str, Any]:
    """The vendor's contract file, parsed."""
    loaded: dict[str, Any] = json.loads((CONTRACTS / f"{vendor}.json").read_text())
    return loaded


@cache
def samples(vendor: str) -> dict[str, Any]:
    """The vendor's sample answers by name: each `{"call": name, "body": …}`."""
    loaded: dict[str, Any] = json.loads((CONTRACTS / "samples" / f"{vendor}.json").read_text())
    return {name: value for name, value in loaded.items() if not name.startswith("$")}


def sample(vendor: str, name: str) -> Any:
    """A sample answer's body, as a fresh copy a test may change."""
    return json.loads(json.dumps(samples(vendor)[name]["body"]))


def calls(vendor: str) -> list[Call]:
    return [Call(vendor=vendor, name=c["name"], method=c["method"], path=c["path"],
                 status=c["status"], answer=c["answer"], media=c.get("media", "json"))
            for c in contract(vendor)["calls"]]


def call(vendor: str, name: str) -> Call:
    for found in calls(vendor):
        if found.name == name:
            return found
    raise LookupError(f"{vendor} contract has no call named {name!r}")


def values(vendor: str, name: str) -> list[Any]:
    """A value set the contract lists (states, categories): what a mapping must cover."""
    listed: list[Any] = contract(vendor)["values"][name]
    return listed


def to_schema(shape: Any, vendor: str) -> dict[str, Any]:
    """The JSON Schema of a shape; `@name` becomes a `$ref` into `$defs`."""
    if isinstance(shape, list):
        if len(shape) != 1:
            raise ValueError(f"an array shape holds exactly one item shape: {shape!r}")
        return {"type": "array", "items": to_schema(shape[0], vendor)}
    if isinstance(shape, dict):
        if "$enum" in shape:
            return {"enum": list(shape["$enum"])}
        if "$all" in shape:
            return {"allOf": [to_schema(part, vendor) for part in shape["$all"]]}
        if "$map" in shape:
            return {"type": "object", "additionalProperties": to_schema(shape["$map"], vendor)}
        properties = {key.removesuffix("?"): to_schema(value, vendor)
                      for key, value in shape.items()}
        required = [key for key in shape if not key.endswith("?")]
        return {"type": "object", "properties": properties, "required": required}
    if not isinstance(shape, str):
        raise ValueError(f"not a shape: {shape!r}")
    choices = [_word(part, vendor) for part in shape.split("|")]
    return choices[0] if len(choices) == 1 else {"anyOf": choices}


def _word(word: str, vendor: str) -> dict[str, Any]:
    if word.startswith("@"):
        name = word[1:]
        if name not in contract(vendor)["shapes"]:
            raise ValueError(f"{vendor} contract names no shape {name!r}")
        return {"$ref": f"#/$defs/{name}"}
    if word == "any":
        return {}
    kind, _, form = word.partition(":")
    if kind not in TYPES:
        raise ValueError(f"unknown type {word!r} in the {vendor} contract")
    schema: dict[str, Any] = {"type": kind}
    if form:
        schema["pattern"] = contract(vendor)["formats"][form]
    return schema


def schema_of(vendor: str, shape: Any) -> dict[str, Any]:
    """A whole schema for `shape`, with every named shape of the vendor beside it."""
    named = contract(vendor).get("shapes", {})
    return {**to_schema(shape, vendor),
            "$defs": {name: to_schema(value, vendor) for name, value in named.items()}}


def mismatches(vendor: str, shape: Any, body: Any) -> list[str]:
    """Where `body` departs from `shape`, readably (empty when it conforms)."""
    validator = Draft202012Validator(schema_of(vendor, shape))
    errors = sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message[:200]}"
            for e in errors[:10]]


def answer_mismatches(vendor: str, call_name: str, body: Any) -> list[str]:
    """Where an answer to the named call departs from the contract."""
    return mismatches(vendor, call(vendor, call_name).answer, body)
