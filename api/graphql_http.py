"""GraphQL over HTTP: which media type an answer is served in, and with which status.

The GraphQL-over-HTTP specification (the GraphQL Foundation's draft) gives
two response media types. `application/json` is the legacy one: every answer to a
well-formed request is 200, because a client cannot tell a 4xx it sent from one a
proxy made up. `application/graphql-response+json` is the one that lets status
codes speak: a request error (the document does not parse or validate, the
operation cannot be picked, the variables do not coerce) is 400 and has no `data`
entry; an executed operation is 200 even with field errors.

The media type follows the client's `Accept` header (quality values, then the
most specific match, then the spec's preferred type); no Accept, or only
wildcards, keeps `application/json` for clients written before the spec. A client
that accepts neither type gets 406. Pure functions: the view (`api/graphql_view.py`)
applies them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from graphql import GraphQLError

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
# What each media type's Content-Type header says: both are UTF-8 JSON.
CONTENT_TYPES = {GRAPHQL_RESPONSE_JSON: f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8",
                 JSON: f"{JSON}; charset=utf-8"}
# An unknown persisted query's hash (or a hub that takes none) is answered 200 in either
# media type, as Apollo Server answers it: Apollo clients read the error and retry with
# the whole document (or stop sending hashes), and older ones give persisted queries up
# for good on a 400.
RETRY_WITH_DOCUMENT = ("PERSISTED_QUERY_NOT_FOUND", "PERSISTED_QUERY_NOT_SUPPORTED")
_STATUS_BY_CODE = {**dict.fromkeys(RETRY_WITH_DOCUMENT, 200), "PERSISTED_QUERY_NOT_IN_LIST": 403,
                   "INTERNAL_SERVER_ERROR": 500}


@functools.lru_cache(maxsize=256)  # a client sends the same Accept header every time
def negotiate(accept: str | None) -> str | None:
    """The response media type for an `Accept` header, or None when nothing fits (406).

    Among the ranges that accept a type, the best is the one with the highest
    quality, then the most specific (`application/json` over `application/*` over
    `*/*`); a tie between the two types goes to the one the client named, else to
    `application/json`, which legacy clients that send only `*/*` expect.
    """
    if accept is None or not accept.strip():
        return JSON
    best: tuple[float, int, int] | None = None
    chosen: str | None = None
    for rank, media in enumerate((JSON, GRAPHQL_RESPONSE_JSON)):
        score = _score(accept, media)
        if score is None:
            continue
        quality, specificity = score
        # Named explicitly, the spec's preferred type wins a tie; by wildcard, JSON does.
        preference = rank if specificity == 2 else -rank
        key = (quality, specificity, preference)
        if best is None or key > best:
            best, chosen = key, media
    return chosen


def _score(accept: str, media: str) -> tuple[float, int] | None:
    """The best (quality, specificity) any range of `accept` gives `media`; None if none."""
    kind = media.partition("/")[0]
    found: tuple[float, int] | None = None
    for item in accept.split(","):
        parts = [part.strip() for part in item.split(";")]
        mime = parts[0].lower()
        if "/" not in mime:
            continue  # not a media range: ignored, as a malformed entry
        range_kind, _, range_subtype = mime.partition("/")
        if mime == "*/*":
            specificity = 0
        elif range_kind == kind and range_subtype == "*":
            specificity = 1
        elif mime == media:
            specificity = 2
        else:
            continue
        quality = 1.0
        acceptable = True
        for parameter in parts[1:]:
            name, _, value = parameter.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"').lower()
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0  # an unreadable weight accepts nothing
            elif name == "charset" and value not in ("utf-8", "utf8"):
                acceptable = False  # we answer in UTF-8 only
        if not acceptable or quality <= 0:
            continue
        if found is None or (quality, specificity) > found:
            found = (quality, specificity)
    return found


def is_request_error(data: object, errors: Sequence[GraphQLError] | None) -> bool:
    """True when the operation never ran: no data and no error raised while executing.

    Errors graphql-core raises during execution carry the path of their field;
    those raised before it (parse, validation, operation choice, variable coercion)
    have none. An execution whose root field nulled the data is still an execution.
    """
    return data is None and bool(errors) and all(error.path is None for error in errors or ())


def status_for(media: str, data: object, errors: Sequence[GraphQLError] | None) -> int:
    """The status of one operation's answer in `media`."""
    if media != GRAPHQL_RESPONSE_JSON or not is_request_error(data, errors):
        return 200
    codes = {str((error.extensions or {}).get("code", "")) for error in errors or ()}
    for code, status in _STATUS_BY_CODE.items():
        if code in codes:
            return status
    return 400
