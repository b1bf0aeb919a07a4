"""Rules for text that enters Heatshield: what any stored string and any key may hold.

Every string a client sends may end up in the database or in an upstream call.
NUL is refused because PostgreSQL cannot store it, and a lone surrogate because
it cannot be encoded at all; both would otherwise surface as server errors.
Keys (release keys, user names, link keys) are identities that people read and
compare, so they are NFKC-normalised (fullwidth letters become ASCII ones) and may hold
printable characters only: no right-to-left overrides, zero-width characters or
control characters, which make two different keys look alike.
"""

from __future__ import annotations

import re
import unicodedata

from api.errors import ErrorCode, ServiceError


class TextRefused(ServiceError, ValueError):
    """BAD_USER_INPUT for text; a ValueError too, for callers outside the graph (CLI)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(ErrorCode.BAD_USER_INPUT, message, field)


def bad_input(message: str, field: str) -> TextRefused:
    return TextRefused(message, field)


# One scan in C for both: every string of every request body passes here.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored (None when it can)."""
    if _UNSTORABLE.search(value) is None:
        return None
    if "\x00" in value:
        return "contains a NUL character"
    return "contains a lone surrogate (not valid Unicode)"


def check_text(value: str, field: str) -> str:
    """`value` unchanged, or BAD_USER_INPUT naming `field`."""
    problem = text_problem(value)
    if problem:
        raise bad_input(f"{field} {problem}", field)
    return value


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def normalise_key(value: str, field: str, *, max_length: int = 100) -> str:
    """The NFKC form of a key, stripped; refuses empty, over-long and unprintable keys.

    `str.isprintable` is false for Unicode's Other and Separator categories but the
    ASCII space: controls, format characters (bidirectional overrides, zero-width
    joiners and spaces), unassigned and private-use code points, and line breaks.
    """
    check_text(value, field)
    key = unicodedata.normalize("NFKC", value).strip()
    if not key:
        raise bad_input(f"{field} must not be empty", field)
    if len(key) > max_length:
        raise bad_input(f"{field} is longer than {max_length} characters", field)
    hidden = next((c for c in key if not c.isprintable()), None)
    if hidden is not None:
        raise bad_input(f"{field} may hold printable characters only; it contains "
                        f"{_describe(hidden)}", field)
    return key

