"""The house rules a reader relies on, checked on the tree itself.

The import layering is `make lint`'s job (import-linter, configured in pyproject.toml); these are
the rules it cannot see: module size, one room per concern, and no reference to a missing file.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("servicekit", "nodes", "balancer", "cluster", "loadtest")
MAX_LINES = 350


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_every_package_is_there() -> None:
    assert all((ROOT / pkg / "__init__.py").is_file() for pkg in PACKAGES)
    assert len(_modules()) > 50


@pytest.mark.parametrize("module", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_over_the_limit(module: Path) -> None:
    lines = module.read_text().count("\n")
    assert lines <= MAX_LINES, f"{module.relative_to(ROOT)}: {lines} lines; split it by concern"


def prefix_groups(names: list[str]) -> dict[str, list[str]]:
    """Module names grouped by the part before the first underscore (``paradox_lane`` →
    ``paradox``); dunder modules are not counted."""
    groups: dict[str, list[str]] = defaultdict(list)
    for name in names:
        if not name.startswith("__") and "_" in name:
            groups[name.split("_", 1)[0]].append(name)
    for name in names:  # ``paradox`` itself belongs with ``paradox_lane``
        if name in groups:
            groups[name].append(name)
    return groups


@pytest.mark.parametrize(
    ("names", "crowded"),
    [
        (["paradox", "paradox_lane", "paradox_stats"], {"paradox"}),
        (["docker_model", "docker_config", "docker_compose"], {"docker"}),
        (["token_cache", "tokens", "store"], set()),
        (["bench_node", "bench_balancer", "wrk"], set()),
        (["__init__", "__main__", "_private"], set()),
    ],
)
def test_prefix_groups(names: list[str], crowded: set[str]) -> None:
    assert {k for k, v in prefix_groups(names).items() if len(v) >= 3} == crowded


def test_no_folder_of_modules_sharing_a_prefix() -> None:
    folders: dict[Path, list[str]] = defaultdict(list)
    for module in _modules():
        folders[module.parent].append(module.stem)
    crowded = {
        f"{folder.relative_to(ROOT)}: {sorted(group)}"
        for folder, names in folders.items()
        for group in prefix_groups(names).values()
        if len(group) >= 3
    }
    assert not crowded, f"make these a package of their own: {crowded}"


_DOC_REF = re.compile(r"\bdocs/[\w./-]+\.md\b")


def _texts() -> list[Path]:
    texts = [*_modules(), ROOT / "README.md", ROOT / "Makefile", *(ROOT / "docs").glob("*.md")]
    return [p for p in texts if p.is_file()]


def test_every_file_named_exists() -> None:
    missing = {
        f"{path.relative_to(ROOT)} names {ref}"
        for path in _texts()
        for ref in _DOC_REF.findall(path.read_text())
        if not (ROOT / ref).is_file()
    }
    links = {
        f"docs/{page.name} links {target}"
        for page in (ROOT / "docs").glob("*.md")
        for target in re.findall(r"\]\(([\w./-]+\.md)\)", page.read_text())
        if not (page.parent / target).is_file()
    }
    assert not missing | links


def test_no_reference_to_the_design_draft() -> None:
    # The contract lives in docs/; the draft it started from is not part of the repository.
    named = [str(p.relative_to(ROOT)) for p in _modules() if "DESIGN.md" in p.read_text()]
    assert not named, f"refer to docs/ instead: {named}"


def test_the_settings_page_is_the_declarations() -> None:
    from cluster.settings_doc import render

    page = (ROOT / "docs" / "settings.md").read_text()
    assert page == render(), "docs/settings.md is stale: run `make docs`"


def test_every_package_the_services_import_goes_into_the_image() -> None:
    # The image's build context is what .dockerignore lets through; a package missing there
    # is a ModuleNotFoundError in every container (it happened when servicekit/ was added).
    allowed = {
        line[1:].strip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert {"servicekit", "nodes", "balancer", "cluster"} <= allowed


def test_the_settings_page_names_no_path_of_this_machine() -> None:
    assert str(ROOT) not in (ROOT / "docs" / "settings.md").read_text()
