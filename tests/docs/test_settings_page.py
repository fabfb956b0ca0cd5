"""docs/settings.md names every setting of lambda_app/config.py and `make run`'s own."""

from __future__ import annotations

import re
from pathlib import Path

from tools import settings_doc

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "settings.md"
# `make run`'s variables as local/run.py reads them: os.environ.get("NAME", default).
LOCAL_VARIABLE = re.compile(r'os\.environ\.get\("([A-Z_]+)",\s*(?:"([^"]*)"|ROOT / "([^"]*)")\)')
ROW = re.compile(r"^\| `([A-Z_]+)` \| `([^`]*)` \|", re.MULTILINE)


def test_every_setting_of_config_appears_in_the_settings_page() -> None:
    page = PAGE.read_text()
    missing = [s.name for s in settings_doc.settings() if f"`{s.name}`" not in page]
    assert not missing, f"docs/settings.md does not name {missing}: run `make docs`"


def test_the_page_lists_make_runs_own_variables_with_their_defaults() -> None:
    settings = {setting.name for setting in settings_doc.settings()}
    read = {
        name: plain or under_root
        for name, plain, under_root in LOCAL_VARIABLE.findall(
            (ROOT / "local" / "run.py").read_text()
        )
        if name not in settings
    }
    assert read, "local/run.py reads no variable of its own any more: update this test"
    listed = dict(ROW.findall(PAGE.read_text()))
    assert {name: listed.get(name) for name in read} == read
