"""`make token USER_TYPE=admin|staff|customer [EMAIL=...]`: print a bearer token for the local API.

While `make run` serves its user pool (moto's Cognito), the token is the ID token of a real
sign-in to it (SRP): a user an admin created signs in with their provisioned identity, and
anyone else gets an identity first. Otherwise it is signed with the local dev key. The user is
registered in the local database first if needed. Only the token goes to stdout, so
`TOKEN=$(make -s token USER_TYPE=admin)` works.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from local.dev_auth import load_or_create_key, local_subject, sign_token
from local.embedded_postgres import wait_until_accepting
from local.run import dev_key_path, local_pg_port, start_database, user_pool_path
from local.user_pool import LocalUserPool, ensure_identity, sign_in


def ensure_user(
    database_url: str, *, email: str, user_type: str, subject: str | None = None
) -> tuple[str, str]:
    """Return (subject, user_type) of the user with `email`, registering them if needed.

    With `subject` (their identity in the local pool), the user is linked to it.
    """
    from lambda_app.config import get_settings
    from lambda_app.db import create_engine_from_settings
    from lambda_app.models.tables import users

    # A pool's identity replaces any other link (an identity of an earlier, restarted pool);
    # a dev-key identity links only a user who has none yet.
    relink = (
        users.c.subject.is_(None) if subject is None else users.c.subject.is_distinct_from(subject)
    )
    subject = subject or local_subject(email)
    os.environ["DATABASE_URL"] = database_url
    get_settings.cache_clear()
    engine = create_engine_from_settings(get_settings(), pooled=False)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(users)
                .values(email=email, user_type=user_type, subject=subject)
                .on_conflict_do_nothing(index_elements=[users.c.email])
            )
            # A user the API created before may have no identity yet: link them, as signing
            # in would.
            connection.execute(
                update(users).where(users.c.email == email, relink).values(subject=subject)
            )
            user = connection.execute(
                select(users.c.subject, users.c.user_type).where(users.c.email == email)
            ).one()
            return str(user.subject), user.user_type.value
    finally:
        engine.dispose()


def migrate_to_head(database_url: str) -> None:
    """Bring the local database to the newest revision, as `make run` would."""
    from lambda_app.config import get_settings
    from lambda_app.migrate import handler as migrate

    os.environ["DATABASE_URL"] = database_url
    get_settings.cache_clear()
    migrate({"action": "upgrade"})


def main(argv: list[str] | None = None) -> int:
    """Register the user if needed and print their token."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--user-type", choices=["admin", "staff", "customer"], default="admin")
    parser.add_argument("--email", help="default: <user-type>@example.com")
    args = parser.parse_args(argv)
    email = (args.email or f"{args.user_type}@example.com").strip().lower()

    with ExitStack() as stack:
        database_url = os.environ.get("DATABASE_URL")
        if not database_url:
            try:
                wait_until_accepting(local_pg_port(), timeout=0.5)
                from local.run import local_database_url

                database_url = local_database_url()
            except TimeoutError:  # `make run` is not running: start its database briefly
                database_url = start_database(stack)
                migrate_to_head(database_url)
        pool = running_user_pool()
        identity = ensure_identity(pool, email) if pool is not None else None
        subject, user_type = ensure_user(
            database_url, email=email, user_type=args.user_type, subject=identity
        )
    if user_type != args.user_type:
        print(f"note: {email} is already a {user_type}; the token acts as one.", file=sys.stderr)
    if pool is not None:
        print(sign_in(pool, email))
    else:
        print(sign_token(load_or_create_key(dev_key_path()), subject=subject, email=email))
    return 0


def running_user_pool() -> LocalUserPool | None:
    """The user pool of a running `make run`, if there is one."""
    from urllib.parse import urlsplit

    pool = LocalUserPool.load(user_pool_path())
    if pool is None or pool.endpoint_url is None:
        return None
    try:
        wait_until_accepting(urlsplit(pool.endpoint_url).port or 80, timeout=0.5)
    except TimeoutError:  # left behind by a `make run` that did not stop cleanly
        return None
    return pool


if __name__ == "__main__":
    sys.exit(main())
