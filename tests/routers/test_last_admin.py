"""The service always keeps an admin: the last one can be neither deleted nor demoted."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from lambda_app.main import create_app
from tests.conftest import ADMIN_SUBJECT, bearer, insert_user, settings_env
from tests.routers.test_users import assert_problem

ROUNDS = 20


def admins(db_engine: Engine) -> list[str]:
    with db_engine.connect() as connection:
        return list(connection.scalars(text("SELECT subject FROM users WHERE user_type = 'admin'")))


def test_the_only_admin_cannot_delete_themselves(
    client: TestClient, admin: dict[str, Any], db_engine: Engine
) -> None:
    body = assert_problem(client.delete(f"/users/{admin['id']}"), 409)

    assert "only admin" in body["detail"]
    assert admins(db_engine) == [ADMIN_SUBJECT]


def test_the_only_admin_cannot_demote_themselves(
    client: TestClient, admin: dict[str, Any], db_engine: Engine
) -> None:
    assert_problem(client.patch(f"/users/{admin['id']}", json={"user_type": "staff"}), 409)

    assert admins(db_engine) == [ADMIN_SUBJECT]


def test_an_admin_may_leave_when_another_admin_remains(
    client: TestClient, admin: dict[str, Any], db_engine: Engine
) -> None:
    insert_user(db_engine, email="second@example.com", user_type="admin", subject="second")

    assert client.patch(f"/users/{admin['id']}", json={"user_type": "staff"}).status_code == 200
    assert client.delete(f"/users/{admin['id']}", headers=bearer("second")).status_code == 204
    assert admins(db_engine) == ["second"]


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_two_admins_removing_each_other_at_once_leave_exactly_one_admin(
    app_env: dict[str, str], s3: Any, db_engine: Engine, method: str
) -> None:
    outcomes: set[tuple[int, ...]] = set()
    with settings_env(DB_POOL_SIZE="4"):
        app = create_app()
        for round_number in range(ROUNDS):
            with db_engine.begin() as connection:
                connection.execute(text("DELETE FROM users"))
            first, second = (f"first-{round_number}", f"second-{round_number}")
            ids = {
                subject: insert_user(
                    db_engine, email=f"{subject}@example.com", user_type="admin", subject=subject
                )
                for subject in (first, second)
            }
            start = threading.Barrier(2, timeout=10)
            answers: list[int] = []

            def remove(
                me: str,
                target: str,
                barrier: threading.Barrier = start,
                ids: dict[str, str] = ids,
                answers: list[int] = answers,
            ) -> None:
                body = {"user_type": "customer"} if method == "PATCH" else None
                with TestClient(app, raise_server_exceptions=False) as http:
                    barrier.wait()
                    response = http.request(
                        method, f"/users/{ids[target]}", json=body, headers=bearer(me)
                    )
                answers.append(response.status_code)

            threads = [
                threading.Thread(target=remove, args=(first, second)),
                threading.Thread(target=remove, args=(second, first)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)

            assert len(admins(db_engine)) == 1, f"round {round_number}: {answers}"
            outcomes.add(tuple(sorted(answers)))

    success = 200 if method == "PATCH" else 204
    # One removal wins. The other finds its caller demoted (a customer is told 404 about
    # others) or gone (403), or its target the last admin (409). Never both, never a 5xx.
    assert outcomes <= {tuple(sorted((success, refusal))) for refusal in (403, 404, 409)}


def test_a_change_between_staff_and_customer_does_not_wait_for_the_admin_lock(
    client: TestClient, make_user: Any, db_engine: Engine
) -> None:
    from lambda_app.crud.last_admin import ADMIN_CHANGES_LOCK_ID

    customer = make_user(user_type="customer")
    with db_engine.connect() as other_admin_change:
        # Another transaction holds the lock, as an admin's delete or demotion does.
        other_admin_change.execute(
            text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": ADMIN_CHANGES_LOCK_ID}
        )

        # Were it to wait for the lock, the statement timeout would answer 503.
        promoted = client.patch(f"/users/{customer['id']}", json={"user_type": "staff"})
        demoted = client.patch(f"/users/{customer['id']}", json={"user_type": "customer"})
        other_admin_change.rollback()

    assert (promoted.status_code, promoted.json()["user_type"]) == (200, "staff")
    assert (demoted.status_code, demoted.json()["user_type"]) == (200, "customer")


def test_demoting_an_admin_still_waits_for_the_admin_lock(
    client: TestClient, admin: dict[str, Any], db_engine: Engine
) -> None:
    from lambda_app.crud.last_admin import ADMIN_CHANGES_LOCK_ID

    second = insert_user(db_engine, email="second@example.com", user_type="admin", subject="two")
    with db_engine.connect() as other_admin_change:
        other_admin_change.execute(
            text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": ADMIN_CHANGES_LOCK_ID}
        )
        waited = client.patch(f"/users/{second}", json={"user_type": "staff"})
        other_admin_change.rollback()

    # The app role's statement timeout (4 s) cancelled the wait: nothing changed.
    assert_problem(waited, 503)
    assert sorted(admins(db_engine)) == sorted([ADMIN_SUBJECT, "two"])
