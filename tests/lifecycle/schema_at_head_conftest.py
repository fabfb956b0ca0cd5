# Appended to the previous release's tests/routers/conftest.py by test_previous_release.py:
# no __future__ import and no docstring (it may land below other code), and only module names
# that mean the same in any conftest.
#
# Its `database_url` replaces the release's own for its API tests: a fresh database that the
# current release's migration function brought to head, including the app role the release's
# tests log in as, as on AWS, where the newest migration that ran maintains that role.

import collections.abc
import functools
import json
import os
import pathlib
import subprocess
import sys
import uuid

import botocore.loaders
import botocore.session
import pytest
import sqlalchemy
import sqlalchemy.engine

# As this release's tests/conftest.py does: one loader of botocore's read-only service models
# for all the sessions moto makes, instead of reading them from disk again for every test
# (about 30 s of the previous release's API tests).
botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> collections.abc.Iterator[str]:
    """A new database migrated to head by the current release; dropped, with the role, after."""
    current_root = pathlib.Path(os.environ["CURRENT_RELEASE_ROOT"])
    report = pathlib.Path(os.environ["SCHEMA_AT_HEAD_REPORT"])
    name = f"users_previous_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    url = sqlalchemy.engine.make_url(postgres_server_url).set(database=name)
    url_text = url.render_as_string(hide_password=False)
    try:
        migrated = subprocess.run(
            [
                sys.executable,
                str(current_root / "tests" / "lifecycle" / "run_migration.py"),
                json.dumps({"action": "upgrade", "revision": "head"}),
            ],
            cwd=report.parent,  # not the checkout: no developer's .env is read
            env={**os.environ, "DATABASE_URL": url_text, "PYTHONPATH": str(current_root)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        report.write_text(migrated.stdout.strip().splitlines()[-1])
        yield url_text
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            role = os.environ["APP_DB_ROLE"]
            connection.execute(sqlalchemy.text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()
