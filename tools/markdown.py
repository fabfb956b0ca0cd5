"""Reading markdown the way GitHub renders it: files, code, links and heading anchors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

# Generated or installed trees whose markdown is not ours.
SKIPPED = ("node_modules/", ".venv/", "cdk.out/", "build/", ".local/", "clients/python/")
FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n.*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
# A code span may wrap onto the next line, never across a blank line.
CODE_SPAN = re.compile(r"(`+)((?:[^`\n]|\n(?!\n))+?)\1")
INLINE_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)=\"([^\"]+)\"", re.IGNORECASE)
HTML_ANCHOR = re.compile(r"<a\b[^>]*?\b(?:id|name)=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def markdown_files(root: Path) -> list[Path]:
    """The project's markdown files: git's (tracked or new, not ignored), else a walk."""
    git = shutil.which("git")
    names: list[str]
    if git is not None and (root / ".git").exists():
        listed = subprocess.run(
            [git, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "*.md"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
        names = sorted(set(filter(None, listed.stdout.split("\0"))))
    else:
        names = sorted(path.relative_to(root).as_posix() for path in root.rglob("*.md"))
    return [
        root / name for name in names if not name.startswith(SKIPPED) and (root / name).is_file()
    ]


def without_fences(text: str) -> str:
    """`text` with its fenced code blocks blanked out."""
    return FENCE.sub("", text)


def without_code(text: str) -> str:
    """`text` with fenced blocks and code spans blanked out: what is left is prose."""
    return CODE_SPAN.sub("", without_fences(text))


def code(text: str) -> list[str]:
    """Every fenced block (shell comments dropped) and every code span of `text`."""
    blocks = [re.sub(r"(^|\s)#.*$", r"\1", m[0], flags=re.MULTILINE) for m in FENCE.finditer(text)]
    return blocks + [match[2] for match in CODE_SPAN.finditer(without_fences(text))]


def links(text: str) -> list[str]:
    """Every link target outside code: inline, reference definitions and HTML attributes."""
    prose = without_code(text)
    found = [
        m[1] for pattern in (INLINE_LINK, REFERENCE, HTML_LINK) for m in pattern.finditer(prose)
    ]
    return [target for target in found if target]


def is_external(target: str) -> bool:
    """A URL with a scheme (https:, mailto:, ...): not a file of the project."""
    return bool(SCHEME.match(target))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts by its text
    text = re.sub(r"<[^>]+>", "", text).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every `#fragment` a link to this text may use; a repeated heading gets -1, -2, ..."""
    seen: dict[str, int] = {}
    found = set(HTML_ANCHOR.findall(text))
    for match in HEADING.finditer(without_fences(text)):
        base = slug(match[2])
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found
