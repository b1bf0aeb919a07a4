"""Where the shared reference material lives: `../shared` beside the clone.

Specs and recorded fixtures are read from there at test time, never copied in.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SPECS = SHARED / "specs"
FIXTURES = SHARED / "fixtures"
