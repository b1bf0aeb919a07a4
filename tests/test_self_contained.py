"""The repository stands on its own: its docs link inside it, its tests need nothing beside it.

Only `tests/support/paths.py` knows about `../shared` (the published API
descriptions and recordings beside a team checkout), and only the tests
marked `reference` read it; without it they skip, or fail when CI requires it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import paths

LINK = re.compile(r"\]\(([^)\s]+)\)")
DOCS = [paths.REPO / "README.md", *sorted((paths.REPO / "docs").glob("**/*.md"))]
CODE_DIRS = ["api", "connectors", "tests", "bench", "frontend/src"]
# A path to the folder beside the clone, built in code (prose may mention it).
BESIDE_THE_CLONE = re.compile(r"""["']\.\./shared|parent\s*/\s*["']shared["']""")


@pytest.mark.parametrize("document", DOCS, ids=[str(d.relative_to(paths.REPO)) for d in DOCS])
def test_documents_link_only_to_files_inside_the_repository(document: Path) -> None:
    for target in LINK.findall(document.read_text()):
        if re.match(r"^(https?:|mailto:|#)", target):
            continue
        resolved = (document.parent / target.split("#", 1)[0]).resolve()
        assert resolved.is_relative_to(paths.REPO), f"{document.name} links outside: {target}"
        assert resolved.exists(), f"{document.name} links to a missing file: {target}"
    # Nor sends readers to a document outside it by path.
    assert re.findall(r"`\.\./[^`]*\.md`", document.read_text()) == []


def test_the_readme_links_to_the_architecture() -> None:
    assert "](docs/architecture.md)" in (paths.REPO / "README.md").read_text()


def test_only_the_paths_module_names_the_folder_beside_the_clone() -> None:
    allowed = paths.REPO / "tests" / "support" / "paths.py"
    assert BESIDE_THE_CLONE.search(allowed.read_text())  # the pattern finds what it looks for
    naming = [str(file.relative_to(paths.REPO))
              for folder in CODE_DIRS for file in (paths.REPO / folder).rglob("*")
              if file.suffix in {".py", ".ts", ".tsx", ".json"} and file != allowed
              and "node_modules" not in file.parts
              and BESIDE_THE_CLONE.search(file.read_text(errors="replace"))]
    assert naming == []


def test_reference_material_missing_skips_with_its_reason(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(paths, "SPECS", tmp_path / "shared" / "specs")
    monkeypatch.setattr(paths, "FIXTURES", tmp_path / "shared" / "fixtures")
    monkeypatch.delenv(paths.REQUIRE_SHARED_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"reference test: .*shared/specs"):
        paths.require_reference()


def test_reference_material_missing_fails_when_ci_requires_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(paths, "SPECS", tmp_path / "shared" / "specs")
    monkeypatch.setattr(paths, "FIXTURES", tmp_path / "shared" / "fixtures")
    monkeypatch.setenv(paths.REQUIRE_SHARED_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=paths.REQUIRE_SHARED_ENV):
        paths.require_reference()


def test_reference_material_present_lets_the_test_run(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SPECS", "FIXTURES"):
        folder = tmp_path / "shared" / name.lower()
        folder.mkdir(parents=True)
        monkeypatch.setattr(paths, name, folder)
    monkeypatch.setenv(paths.REQUIRE_SHARED_ENV, "1")
    paths.require_reference()  # neither skips nor fails


def test_ci_requires_the_reference_tests_and_the_browser() -> None:
    ci = (paths.REPO / ".ci" / "run").read_text()
    assert "export HEATSHIELD_REQUIRE_SHARED=1" in ci
    assert "export HEATSHIELD_REQUIRE_CHROMIUM=1" in ci
