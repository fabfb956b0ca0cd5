"""The Makefile's targets: the documented ones (as `make help` lists them) and all of them."""

from __future__ import annotations

import re
from pathlib import Path

SOURCE = "Makefile"
# `make help`'s grep and awk: a documented target is `name: ... ## what it does`.
DOCUMENTED = re.compile(r"^([a-z-]+):.*## (.*)$")
# Any rule: a name, then a colon that is not an assignment (`:=`).
RULE = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_.-]*)\s*:(?!=)")


def documented(makefile: Path) -> list[tuple[str, str]]:
    """(target, help) of every `## ` line, in the Makefile's order."""
    found = (DOCUMENTED.match(line) for line in makefile.read_text().splitlines())
    return [(match[1], match[2]) for match in found if match]


def defined(makefile: Path) -> set[str]:
    """Every target the Makefile has a rule for."""
    found = (RULE.match(line) for line in makefile.read_text().splitlines())
    return {match[1] for match in found if match}


def table(makefile: Path) -> str:
    """The markdown table `| target | what it does |` of the documented targets."""
    lines = ["| target | what it does |", "| --- | --- |"]
    for target, what in documented(makefile):
        escaped = what.replace("|", "\\|")
        lines.append(f"| `make {target}` | {escaped} |")
    return "\n".join(lines)
