"""The README stays short and every page of docs/ is reachable from it (issue 29)."""

from __future__ import annotations

from pathlib import Path

from tools import markdown

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAX_README_LINES = 250
HOPS = 2  # README -> a page -> a page it links


def linked_pages(path: Path) -> set[Path]:
    """The project's markdown files `path` links to."""
    pages = set()
    for target in markdown.links(path.read_text()):
        location = target.partition("#")[0]
        if location and not markdown.is_external(location):
            resolved = (path.parent / location).resolve()
            if resolved.suffix == ".md" and resolved.is_file():
                pages.add(resolved)
    return pages


def reachable_from_readme() -> set[Path]:
    """Pages reached from README.md within HOPS links."""
    seen, frontier = {README.resolve()}, {README.resolve()}
    for _ in range(HOPS):
        frontier = {page for path in frontier for page in linked_pages(path)} - seen
        seen |= frontier
    return seen


def test_the_readme_has_at_most_250_lines() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines"


def test_every_page_of_docs_and_the_deploy_guide_is_reachable_from_the_readme() -> None:
    pages = {*(ROOT / "docs").glob("*.md"), ROOT / "infra" / "DEPLOY.md"}
    unreached = sorted(
        str(page.relative_to(ROOT))
        for page in pages
        if page.resolve() not in reachable_from_readme()
    )
    assert not unreached, f"not linked from README.md within {HOPS} hops: {unreached}"
