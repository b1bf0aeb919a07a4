"""Persisted queries: Apollo's automatic persisted queries, and an allow-list.

The protocol (`extensions.persistedQuery = {"version": 1, "sha256Hash": <hex>}`):

- a hash alone, known: the stored document runs;
- a hash alone, unknown: the answer is the error `PersistedQueryNotFound` (code
  `PERSISTED_QUERY_NOT_FOUND`, status 200), and the Apollo client sends the hash
  again with the whole document;
- a hash with its document: the hash must be the document's SHA-256 (else 400),
  the document runs, and once it has run (parsed, validated) it is remembered.

In allow-list mode only registered documents run, by hash or as whole documents.
The dashboard's client (urql) sends whole documents, reformatted and with
`__typename` added by its cache, so a document is matched by its canonical form:
parsed, plain `__typename` selections dropped, selections and definitions sorted,
printed. Both changes leave what the operation reads unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    SelectionSetNode,
    Visitor,
    parse,
    print_ast,
    validate,
    visit,
)

from api.errors import ErrorCode, ServiceError
from api.persisted_store import PersistedQueryStore

Mode = Literal["off", "automatic", "allowlist"]
VERSION = 1
_HEX = re.compile(r"[0-9a-f]{64}")


class PersistedQueryError(Exception):
    """An answer instead of execution, in the words Apollo clients read."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def as_graphql_error(self) -> GraphQLError:
        return GraphQLError(self.message, extensions={"code": str(self.code)})


def not_found() -> PersistedQueryError:
    return PersistedQueryError(ErrorCode.PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound")


def not_supported() -> PersistedQueryError:
    return PersistedQueryError(ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED,
                               "PersistedQueryNotSupported")


def not_in_list() -> PersistedQueryError:
    return PersistedQueryError(
        ErrorCode.PERSISTED_QUERY_NOT_IN_LIST,
        "this hub runs registered operations only, and this one is not registered "
        "(heatshield persisted register <manifest>)")


def sha256_of(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


class _Canonical(Visitor):
    def leave_selection_set(self, node: SelectionSetNode, *_: Any) -> SelectionSetNode:
        kept = [s for s in node.selections if not (
            isinstance(s, FieldNode) and s.name.value == "__typename" and s.alias is None
            and not s.arguments and not s.directives)]
        return SelectionSetNode(selections=tuple(sorted(kept, key=print_ast)))


def canonical_form(document: DocumentNode) -> str:
    """The document as the allow-list compares it (see the module's docstring)."""
    canonical = visit(document, _Canonical())
    definitions = sorted(canonical.definitions, key=print_ast)
    return print_ast(DocumentNode(definitions=tuple(definitions)))


def canonical_sha256(document: str, *, max_tokens: int | None = None) -> str | None:
    """The hash of a document's canonical form; None when it does not parse."""
    try:
        parsed = parse(document, no_location=True, max_tokens=max_tokens)
    except GraphQLError:
        return None
    return sha256_of(canonical_form(parsed))


def requested_hash(extensions: Mapping[str, Any] | None) -> str | None:
    """The hash `extensions.persistedQuery` names, or None; a malformed one is refused."""
    if not extensions or extensions.get("persistedQuery") is None:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, Mapping):
        raise ServiceError(ErrorCode.BAD_REQUEST, "extensions.persistedQuery must be an object",
                           "extensions.persistedQuery")
    if persisted.get("version") != VERSION:
        raise ServiceError(ErrorCode.BAD_REQUEST, "unsupported persisted query version: "
                           f"only version {VERSION} is known",
                           "extensions.persistedQuery.version")
    sha = persisted.get("sha256Hash")
    if not isinstance(sha, str) or not _HEX.fullmatch(sha):
        raise ServiceError(ErrorCode.BAD_REQUEST, "extensions.persistedQuery.sha256Hash must be "
                           "64 lowercase hex digits", "extensions.persistedQuery.sha256Hash")
    return sha


def manifest_entries(manifest: object, schema: GraphQLSchema) -> list[tuple[str, str, str]]:
    """(sha256, document, canonical sha256) for each entry of a persisted-documents manifest.

    The manifest is a JSON object of hash -> document, as graphql-codegen's client
    preset writes it: the hash is the document's SHA-256 in hex, bare or in the
    GraphQL-over-HTTP appendix's form `sha256:<hex>`. Every entry must hash to its
    key, parse and validate against the schema; the first that does not is named.
    """
    if not isinstance(manifest, dict) or not manifest:
        raise ValueError("a manifest is a non-empty JSON object of hash -> document")
    entries = []
    for key, document in manifest.items():
        sha = key.removeprefix("sha256:")
        if not _HEX.fullmatch(sha):
            raise ValueError(f"entry {key!r}: the key is not a SHA-256 in hex")
        if not isinstance(document, str):
            raise ValueError(f"entry {key!r}: the document is not a string")
        if sha256_of(document) != sha:
            raise ValueError(f"entry {key!r}: the document's SHA-256 is {sha256_of(document)}")
        try:
            parsed = parse(document, no_location=True)
        except GraphQLError as exc:
            raise ValueError(f"entry {key!r}: does not parse: {exc.message}") from None
        errors = validate(schema, parsed)
        if errors:
            raise ValueError(f"entry {key!r}: does not validate: {errors[0].message}")
        entries.append((sha, document, sha256_of(canonical_form(parsed))))
    return entries


def read_manifest(path: Path, schema: GraphQLSchema) -> list[tuple[str, str, str]]:
    """A manifest file's entries (`manifest_entries`); errors name the file."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None
    try:
        return manifest_entries(manifest, schema)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Resolved:
    query: str | None  # what runs (None: the request named no document at all)
    remember: str | None = None  # the hash to remember the document under once it ran


class PersistedQueries:
    """The protocol per operation: which document runs, or which error answers instead."""

    def __init__(self, store: PersistedQueryStore, mode: Mode, *, max_tokens: int) -> None:
        self.store = store
        self.mode = mode
        self.max_tokens = max_tokens

    async def resolve(self, query: str | None, extensions: Mapping[str, Any] | None
                      ) -> Resolved:
        """The document to run; raises PersistedQueryError (answer) or ServiceError (400)."""
        sha = requested_hash(extensions)
        if self.mode == "off":
            if sha is not None:
                raise not_supported()
            return Resolved(query)
        if sha is None:
            if self.mode == "allowlist" and query is not None \
                    and not await self._registered(query):
                raise not_in_list()
            return Resolved(query)
        if query is not None:
            if sha256_of(query) != sha:
                raise ServiceError(ErrorCode.BAD_REQUEST, "the document's SHA-256 is not "
                                   "extensions.persistedQuery.sha256Hash",
                                   "extensions.persistedQuery.sha256Hash")
            if self.mode == "allowlist":
                if await self.store.find(sha, registered_only=True) is None \
                        and not await self._registered(query):
                    raise not_in_list()
                return Resolved(query)
            return Resolved(query, remember=sha)
        stored = await self.store.find(sha, registered_only=self.mode == "allowlist")
        if stored is None:
            raise not_found()
        return Resolved(stored.document)

    async def remember(self, sha: str, document: str) -> None:
        canonical = canonical_sha256(document, max_tokens=self.max_tokens)
        if canonical is not None:  # it ran, so it parses
            await self.store.remember(sha, document, canonical)

    async def _registered(self, document: str) -> bool:
        canonical = canonical_sha256(document, max_tokens=self.max_tokens)
        return canonical is not None and await self.store.is_registered_form(canonical)
