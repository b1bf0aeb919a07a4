"""Path segments built from data: a key or a name never walks out of the API root."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote, unquote


def has_control(text: str) -> bool:
    """Control, format (bidi overrides, zero-width) and line/paragraph separator characters."""
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def segment(value: str) -> str:
    """One URL path segment from data (a key, a name), percent-encoded whole.

    `/` is encoded too, so a value stays one segment; `.` and `..`, which
    would walk the path, and control characters are refused with ValueError.
    """
    if value in ("", ".", "..") or has_control(value):
        raise ValueError(f"{value!r} cannot be a URL path segment")
    return quote(value, safe="")


def api_path(*segments: str) -> str:
    """A relative path of literal words and already-`segment`ed parts, checked once more."""
    path = "/".join(segments)
    for part in path.split("/"):
        if unquote(part) in (".", ".."):
            raise ValueError("a URL path must not have dot segments")
    return path

