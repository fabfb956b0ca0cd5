"""A fresh database for one load pass: migrated to head, with the root admin (a child process).

Run by the driver as `python -m local.load.schema EMAIL SUBJECT` with `DATABASE_URL` (the
superuser's), `APP_DB_ROLE` and `APP_DB_PASSWORD` set: the migration makes the app's role.
A process of its own, so that the driver never holds the app's settings or engine.
"""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    """Upgrade to head, then make EMAIL an admin linked to SUBJECT."""
    parser = argparse.ArgumentParser(prog="python -m local.load.schema", description=__doc__)
    parser.add_argument("email")
    parser.add_argument("subject")
    arguments = parser.parse_args(argv)
    from lambda_app.migrate import handler as migrate

    migrate({"action": "upgrade"})
    migrate({"action": "bootstrap-admin", "email": arguments.email, "subject": arguments.subject})


if __name__ == "__main__":
    main()
