"""Every relative link in the project's markdown resolves: the file, and its heading."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from tools import markdown

ROOT = Path(__file__).resolve().parents[2]


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """`file: target (why)` for each relative link of `path` that does not resolve."""
    broken = []
    for target in markdown.links(path.read_text()):
        if markdown.is_external(target):
            continue
        location, _, fragment = target.partition("#")
        location = unquote(location.split("?")[0])
        if not location:
            resolved = path
        elif location.startswith("/"):
            resolved = root / location.lstrip("/")
        else:
            resolved = (path.parent / location).resolve()
        name = path.relative_to(root)
        if not resolved.exists():
            broken.append(f"{name}: {target} (no such file)")
        elif (
            fragment
            and resolved.suffix == ".md"
            and unquote(fragment) not in markdown.anchors(resolved.read_text())
        ):
            broken.append(f"{name}: {target} (no such heading)")
    return broken


def test_every_relative_link_resolves() -> None:
    broken = [problem for path in markdown.markdown_files(ROOT) for problem in broken_links(path)]
    assert not broken, "\n".join(broken)


def test_a_heading_anchor_follows_githubs_rule() -> None:
    text = (
        "# Users service\n## Stages and context knobs\n### `make run`'s variables\n"
        "## API: errors & retries\n## Load\n## Load\n```sh\n# not a heading\n```\n"
        '<a id="custom"></a>\n'
    )
    assert markdown.anchors(text) == {
        "users-service",
        "stages-and-context-knobs",
        "make-runs-variables",
        "api-errors--retries",
        "load",
        "load-1",
        "custom",
    }


def test_links_in_code_are_not_links() -> None:
    text = '[a](a.md) `[b](b.md)`\n```md\n[c](c.md)\n```\n[d]: d.md\n<a href="e.md">e</a>\n'
    assert markdown.links(text) == ["a.md", "d.md", "e.md"]


def test_a_missing_file_and_a_missing_heading_are_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other page\n")
    page = tmp_path / "README.md"
    page.write_text(
        "# Here\n[a](docs/other.md#other-page) [b](#here) [c](docs) [d](https://example.com/x)\n"
        "[e](missing.md) [f](docs/other.md#nope) [g](#nowhere) [h](mailto:a@example.com)\n"
    )

    assert broken_links(page, tmp_path) == [
        "README.md: missing.md (no such file)",
        "README.md: docs/other.md#nope (no such heading)",
        "README.md: #nowhere (no such heading)",
    ]
