"""Identity provisioning: an admin's POST /users creates and links the Cognito identity, and
the identity follows the user's email and deletion; failures between the two writes are
finished by the outbox drain.

Everything runs against moto's cognito-idp; faults are injected where Cognito meets
botocore (tests/user_pool.py), never inside the service's own code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from lambda_app.db import get_engine
from lambda_app.external_services import cognito
from lambda_app.main import create_app
from tests.conftest import ROOT, bearer, insert_user, settings_env
from tests.routers.test_users import assert_problem
from tests.test_failures import HangingS3
from tests.test_user_deletion import drain, make_due, open_transactions, tasks
from tests.user_pool import UserPool, on_cognito_attempt


def subject_of(db_engine: Engine, user_id: str) -> str | None:
    with db_engine.connect() as connection:
        return connection.scalar(text("SELECT subject FROM users WHERE id = :id"), {"id": user_id})


def user_count(db_engine: Engine) -> int:
    with db_engine.connect() as connection:
        return int(connection.scalar(text("SELECT count(*) FROM users")) or 0)


def refuse(**_: Any) -> None:
    raise EndpointConnectionError(endpoint_url="https://cognito-idp.test")


def cognito_is_back() -> None:
    cognito.reset_cognito_client()


# --- create


def test_an_admins_new_user_is_linked_to_a_new_verified_identity_before_the_answer(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    response = client.post("/users", json={"email": "ada@example.com", "full_name": "Ada"})

    assert response.status_code == 201, response.text
    user = response.json()
    assert user["identity"] == "linked"
    identity = pool.identity("ada@example.com")
    assert identity is not None
    assert identity["Attributes"]["email_verified"] == "true"
    assert identity["UserStatus"] == "FORCE_CHANGE_PASSWORD"  # the invitation's temporary one
    assert subject_of(db_engine, user["id"]) == identity["Attributes"]["sub"]
    assert tasks(db_engine) == []
    # The answer is the user as they are now: its ETag holds for the next write.
    read = client.get(f"/users/{user['id']}")
    assert read.headers["etag"] == response.headers["etag"]
    assert read.json()["updated_at"] == user["updated_at"]


@pytest.mark.parametrize(
    ("invite", "sent"),
    [
        (True, {"DesiredDeliveryMediums": ["EMAIL"]}),
        (False, {"MessageAction": "SUPPRESS"}),
    ],
)
def test_the_invitation_is_emailed_unless_the_request_suppresses_it(
    client: TestClient, pool: UserPool, invite: bool, sent: dict[str, Any]
) -> None:
    pool.record_calls()

    response = client.post("/users", json={"email": "imported@example.com", "invite": invite})

    assert response.json()["identity"] == "linked"
    (params,) = [params for name, params in pool.calls if name == "AdminCreateUser"]
    assert params.items() >= sent.items()
    assert {"MessageAction", "DesiredDeliveryMediums"} & params.keys() == sent.keys()


def test_an_email_that_already_has_an_identity_is_linked_to_it(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    existing = pool.add_identity("known@example.com")

    response = client.post("/users", json={"email": "known@example.com"})

    assert response.status_code == 201
    assert response.json()["identity"] == "linked"
    assert subject_of(db_engine, response.json()["id"]) == existing
    assert len(pool.identities()) == 1


def test_an_email_whose_identity_is_another_users_is_409_and_nothing_is_kept(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    # The other user's row has another email: their identity's email changed in the pool.
    taken = pool.add_identity("moved@example.com")
    insert_user(db_engine, email="old@example.com", user_type="customer", subject=taken)
    before = user_count(db_engine)

    response = client.post(
        "/users", json={"email": "moved@example.com"}, headers={"Idempotency-Key": "k-409"}
    )

    problem = assert_problem(response, 409)
    assert problem["title"] == "Identity linked to another user"
    assert "moved@example.com" not in response.text
    assert user_count(db_engine) == before
    assert tasks(db_engine) == []
    assert [user["Attributes"]["sub"] for user in pool.identities()] == [taken]
    # Nothing was saved for the key: its retry is judged again, not replayed as a 201.
    retry = client.post(
        "/users", json={"email": "moved@example.com"}, headers={"Idempotency-Key": "k-409"}
    )
    assert_problem(retry, 409)


def test_cognito_failing_after_the_commit_answers_identity_pending_and_the_drain_links_it(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    on_cognito_attempt(refuse)

    response = client.post("/users", json={"email": "later@example.com"})

    assert response.status_code == 201
    user = response.json()
    assert user["identity"] == "pending"
    assert subject_of(db_engine, user["id"]) is None
    (task,) = tasks(db_engine)
    assert (task["kind"], task["subject"], task["attempts"]) == (
        "provision_identity",
        user["id"],
        1,
    )
    assert "IdentityProviderUnavailableError" in task["last_error"]
    assert pool.identities() == []

    cognito_is_back()
    make_due(db_engine)
    assert drain()["done"] == 1

    identity = pool.identity("later@example.com")
    assert identity is not None
    assert subject_of(db_engine, user["id"]) == identity["Attributes"]["sub"]
    assert tasks(db_engine) == []


def test_a_cognito_error_that_is_not_a_timeout_is_pending_too_never_a_500(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    from botocore.exceptions import ClientError

    def throttled(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}},
            "AdminCreateUser",
        )

    on_cognito_attempt(throttled)

    response = client.post("/users", json={"email": "throttled@example.com"})

    assert (response.status_code, response.json()["identity"]) == (201, "pending")
    assert "TooManyRequestsException" in tasks(db_engine)[0]["last_error"]


# A Lambda container whose process ends at its first Cognito attempt (os._exit: no cleanup).
KILLED_AT_FIRST_COGNITO_ATTEMPT = """
import os, sys
from fastapi.testclient import TestClient
from lambda_app.external_services import cognito
from lambda_app.main import create_app

cognito.get_cognito_client().meta.events.register_first(
    "before-send.cognito-identity-provider", lambda **_: os._exit(137)
)
headers = {"Authorization": sys.argv[1], "Idempotency-Key": "killed"}
TestClient(create_app(), headers=headers).post("/users", json={"email": "killed@example.com"})
"""


def test_a_container_killed_between_the_commit_and_cognito_leaves_a_task_the_drain_finishes(
    client: TestClient, pool: UserPool, db_engine: Engine, admin: dict[str, Any]
) -> None:
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AT_FIRST_COGNITO_ATTEMPT, admin["headers"]["Authorization"]],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        timeout=120,
    )

    assert killed.returncode == 137, killed.stderr.decode()[-2000:]
    (task,) = tasks(db_engine)
    assert (task["kind"], task["attempts"], task["last_error"], task["due"]) == (
        "provision_identity",
        1,
        None,
        False,  # under the dead request's lease
    )
    # The retry of the keyed request replays the saved answer; it creates nothing.
    retry = client.post(
        "/users", json={"email": "killed@example.com"}, headers={"Idempotency-Key": "killed"}
    )
    assert retry.headers["idempotent-replayed"] == "true"
    assert (retry.status_code, retry.json()["identity"]) == (201, "pending")
    assert pool.identities() == []

    make_due(db_engine)
    assert drain() == {"done": 1, "failed": 0, "pending": 0, "dead_lettered": 0}

    (identity,) = pool.identities()
    assert subject_of(db_engine, task["subject"]) == identity["Attributes"]["sub"]


def test_a_retried_keyed_request_never_creates_a_second_identity(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"email": "twice@example.com"}
    on_cognito_attempt(refuse)
    first = client.post("/users", json=body, headers=headers)
    cognito_is_back()

    replayed = client.post("/users", json=body, headers=headers)
    make_due(db_engine)
    drain()
    after_drain = client.post("/users", json=body, headers=headers)

    assert first.json()["identity"] == "pending"
    assert replayed.json() == after_drain.json() == first.json()
    assert replayed.headers["idempotent-replayed"] == "true"
    assert user_count(db_engine) == 2  # the admin and this one
    assert len(pool.identities()) == 1


def test_a_retry_of_a_linked_creation_replays_the_linked_answer(
    client: TestClient, pool: UserPool
) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"email": "once@example.com"}

    first = client.post("/users", json=body, headers=headers)
    retry = client.post("/users", json=body, headers=headers)

    assert first.json()["identity"] == "linked"
    assert retry.json() == first.json()
    assert retry.headers["etag"] == first.headers["etag"]
    assert retry.headers["location"] == first.headers["location"]
    assert len(pool.identities()) == 1


def test_an_identity_created_before_a_crash_is_found_and_linked_by_the_retry(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    # Cognito creates the identity, then its answer is lost (a timeout after the work).
    def lose_the_answer(**kwargs: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://cognito-idp.test")

    cognito.get_cognito_client().meta.events.register(
        "after-call.cognito-idp.AdminCreateUser", lose_the_answer
    )
    response = client.post("/users", json={"email": "lost@example.com"})
    assert response.json()["identity"] == "pending"
    assert len(pool.identities()) == 1

    cognito_is_back()
    make_due(db_engine)
    assert drain()["done"] == 1

    (identity,) = pool.identities()
    assert subject_of(db_engine, response.json()["id"]) == identity["Attributes"]["sub"]


def test_a_create_holds_no_pooled_connection_and_no_transaction_while_cognito_works(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    seen: list[tuple[int, int]] = []

    def probe(**_: Any) -> None:
        seen.append((get_engine().pool.checkedout(), open_transactions(db_engine)))

    on_cognito_attempt(probe)
    client.post("/users", json={"email": "probed@example.com"}, headers={"Idempotency-Key": "p"})

    assert seen, "the create never called Cognito"
    assert set(seen) == {(0, 0)}


def test_requests_on_the_only_pooled_connection_go_through_while_a_create_waits_for_cognito(
    admin: dict[str, Any], s3: Any, pool: UserPool, db_engine: Engine
) -> None:
    hanging = HangingS3()  # any endpoint that accepts and never answers
    try:
        with settings_env(
            COGNITO_ENDPOINT_URL=f"http://127.0.0.1:{hanging.port}",
            COGNITO_READ_TIMEOUT="20",
            COGNITO_MAX_ATTEMPTS="1",
            DB_POOL_SIZE="1",
            DB_CONNECT_TIMEOUT="3",
        ):
            app = create_app()
            admins = TestClient(app, headers=admin["headers"], raise_server_exceptions=False)
            created: list[Any] = []
            creating = threading.Thread(
                target=lambda: created.append(
                    admins.post("/users", json={"email": "waits@example.com"})
                )
            )
            creating.start()
            assert hanging.called.wait(timeout=30), "the create never reached Cognito"

            # Routes that do not call Cognito (a sign-up does: it checks the identity).
            renamed = admins.patch(f"/users/{admin['id']}", json={"full_name": "Still here"})
            read = admins.get(f"/users/{admin['id']}")
            hanging.release()
            creating.join(timeout=30)
    finally:
        hanging.close()

    assert renamed.status_code == 200, renamed.text
    assert read.status_code == 200, read.text
    (response,) = created
    assert (response.status_code, response.json()["identity"]) == (201, "pending")


# --- email, user_type, delete


def test_an_admins_email_change_gives_the_identity_the_new_verified_email(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    user = client.post("/users", json={"email": "before@example.com"}).json()

    response = client.patch(f"/users/{user['id']}", json={"email": "after@example.com"})

    assert response.status_code == 200
    identity = pool.identity(subject_of(db_engine, user["id"]) or "")
    assert identity is not None
    assert identity["Attributes"]["email"] == "after@example.com"
    assert identity["Attributes"]["email_verified"] == "true"
    assert tasks(db_engine) == []


def test_an_email_change_that_cognito_refuses_is_200_and_the_drain_catches_up(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    user = client.post("/users", json={"email": "first@example.com"}).json()
    on_cognito_attempt(refuse)

    response = client.patch(f"/users/{user['id']}", json={"email": "second@example.com"})

    assert response.status_code == 200
    assert response.json()["email"] == "second@example.com"
    (task,) = tasks(db_engine)
    assert (task["kind"], task["attempts"]) == ("sync_identity_email", 1)

    cognito_is_back()
    make_due(db_engine)
    assert drain()["done"] == 1
    identity = pool.identity(subject_of(db_engine, user["id"]) or "")
    assert identity is not None
    assert identity["Attributes"]["email"] == "second@example.com"


def test_a_change_of_user_type_touches_only_the_database(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    user = client.post("/users", json={"email": "promoted@example.com"}).json()
    pool.record_calls()

    response = client.patch(f"/users/{user['id']}", json={"user_type": "staff"})

    assert response.json()["user_type"] == "staff"
    assert pool.calls == []
    assert tasks(db_engine) == []


def test_a_delete_signs_the_identity_out_and_deletes_it(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    from pycognito.aws_srp import AWSSRP

    from tests.user_pool import PASSWORD

    user = client.post("/users", json={"email": "leaving@example.com"}).json()
    subject = subject_of(db_engine, user["id"])
    signed_in = AWSSRP(
        username="leaving@example.com",
        password="the temporary one",
        pool_id=pool.id,
        client_id=pool.local.client_id,
        client=pool.idp,
    ).set_new_password_challenge(PASSWORD)["AuthenticationResult"]
    pool.record_calls()

    response = client.delete(f"/users/{user['id']}")

    assert response.status_code == 204
    assert pool.identity(subject or "") is None
    assert pool.operations() == ["AdminUserGlobalSignOut", "AdminDeleteUser"]
    with pytest.raises(pool.idp.exceptions.NotAuthorizedException):
        pool.idp.initiate_auth(
            ClientId=pool.local.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": signed_in["RefreshToken"]},
        )
    assert tasks(db_engine) == []


def test_a_delete_that_cognito_refuses_is_202_and_the_drain_removes_the_identity(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    user = client.post("/users", json={"email": "going@example.com"}).json()
    on_cognito_attempt(refuse)

    response = client.delete(f"/users/{user['id']}")

    assert response.status_code == 202
    assert response.json() == {"id": user["id"], "files": "deleted", "identity": "pending"}
    assert_problem(client.get(f"/users/{user['id']}"), 404)
    assert [task["kind"] for task in tasks(db_engine)] == ["remove_identity"]
    assert pool.identity("going@example.com") is not None

    cognito_is_back()
    make_due(db_engine)
    assert drain()["done"] == 1
    assert pool.identity("going@example.com") is None


def test_deleting_a_user_whose_identity_is_still_pending_removes_it_by_email(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    on_cognito_attempt(refuse)
    user = client.post("/users", json={"email": "brief@example.com"}).json()
    cognito_is_back()
    pool.add_identity("brief@example.com")  # made by an attempt whose answer was lost

    assert client.delete(f"/users/{user['id']}").status_code == 204

    assert pool.identities() == []
    make_due(db_engine)
    drain()  # the provisioning task finds no user and creates nothing
    assert pool.identities() == []
    assert tasks(db_engine) == []


def test_a_delete_never_removes_an_identity_that_another_user_holds(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    # An unlinked user whose email's identity is linked to someone else (the 409 case).
    held = pool.add_identity("shared@example.com")
    insert_user(db_engine, email="holder@example.com", user_type="customer", subject=held)
    unlinked = insert_user(
        db_engine, email="shared@example.com", user_type="customer", subject=None
    )

    assert client.delete(f"/users/{unlinked}").status_code == 204

    assert pool.identity(held) is not None


def test_without_a_user_pool_nothing_is_provisioned_or_owed(
    client: TestClient, db_engine: Engine
) -> None:
    user = client.post("/users", json={"email": "plain@example.com"}).json()
    client.patch(f"/users/{user['id']}", json={"email": "plain2@example.com"})

    assert user["identity"] == "unmanaged"
    assert client.delete(f"/users/{user['id']}").status_code == 204
    assert tasks(db_engine) == []


# --- signing in


def test_an_admin_created_user_signs_in_with_no_cli_step_and_finds_their_account(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    """Invited, the person signs in with the temporary password (SRP, as the app client
    allows), must choose a new one (NEW_PASSWORD_REQUIRED), and their token finds them.

    moto does not check SRP proofs, so this proves the flow and the link, not the password.
    """
    from pycognito.aws_srp import AWSSRP
    from pycognito.exceptions import ForceChangePasswordException

    from local.user_pool import moto_token_key_pem
    from tests.user_pool import PASSWORD

    created = client.post("/users", json={"email": "grace@example.com", "user_type": "staff"})
    assert created.json()["identity"] == "linked"
    srp = AWSSRP(
        username="grace@example.com",
        password="the temporary password from the invitation",
        pool_id=pool.id,
        client_id=pool.local.client_id,
        client=pool.idp,
    )
    with pytest.raises(ForceChangePasswordException):
        srp.authenticate_user()  # NEW_PASSWORD_REQUIRED: no tokens yet
    tokens = srp.set_new_password_challenge(PASSWORD)["AuthenticationResult"]

    with settings_env(
        AUTH_ISSUER=pool.local.issuer,
        AUTH_AUDIENCE=pool.local.client_id,
        AUTH_PUBLIC_KEY_PEM=moto_token_key_pem(),
    ):
        me = client.get("/users/me", headers={"Authorization": f"Bearer {tokens['IdToken']}"})

    assert me.status_code == 200, me.text
    assert me.json()["id"] == created.json()["id"]
    assert (me.json()["email"], me.json()["user_type"]) == ("grace@example.com", "staff")
    identity = pool.identity("grace@example.com")
    assert identity is not None
    assert identity["UserStatus"] == "CONFIRMED"


# --- sign-up where the service provisions identities


def test_a_token_of_a_deleted_user_cannot_register_them_again(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    # The token was issued before the delete and API Gateway accepts it until it expires.
    user = client.post("/users", json={"email": "gone@example.com"}).json()
    subject = subject_of(db_engine, user["id"]) or ""
    assert client.delete(f"/users/{user['id']}").status_code == 204
    before = user_count(db_engine)

    response = client.post("/users/me", headers=bearer(subject, "gone@example.com"))

    problem = assert_problem(response, 401)
    assert "removed or disabled" in problem["detail"]
    assert user_count(db_engine) == before


def test_a_disabled_identity_cannot_register(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    subject = pool.add_identity("paused@example.com")
    pool.idp.admin_disable_user(UserPoolId=pool.id, Username="paused@example.com")
    before = user_count(db_engine)

    response = client.post("/users/me", headers=bearer(subject, "paused@example.com"))

    assert_problem(response, 401)
    assert user_count(db_engine) == before


def test_an_identity_in_the_pool_registers_and_links_as_before(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    invited = client.post("/users", json={"email": "invited@example.com"}).json()
    with db_engine.begin() as connection:  # an account made before provisioning was on
        connection.execute(
            text("UPDATE users SET subject = NULL WHERE id = :id"), {"id": invited["id"]}
        )
    subject = pool.identity("invited@example.com")["Attributes"]["sub"]  # type: ignore[index]
    newcomer = pool.add_identity("newcomer@example.com")

    linked = client.post("/users/me", headers=bearer(subject, "invited@example.com"))
    created = client.post("/users/me", headers=bearer(newcomer, "newcomer@example.com"))

    assert (linked.status_code, linked.json()["id"]) == (200, invited["id"])
    assert created.status_code == 201, created.text


def test_a_sign_up_while_cognito_fails_is_502_and_registers_nobody(
    client: TestClient, pool: UserPool, db_engine: Engine
) -> None:
    subject = pool.add_identity("early@example.com")
    on_cognito_attempt(refuse)
    before = user_count(db_engine)

    response = client.post("/users/me", headers=bearer(subject, "early@example.com"))

    assert_problem(response, 502)
    assert user_count(db_engine) == before
    cognito_is_back()
    assert client.post("/users/me", headers=bearer(subject, "early@example.com")).status_code == 201
