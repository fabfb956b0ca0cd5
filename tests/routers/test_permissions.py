"""Every route x every role x {own record, someone else's}: the status, and no change on refusal.

Each case runs twice: with a bearer token verified by the app (uvicorn, tests) and as a Lambda
event carrying API Gateway's authorizer claims.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, text

from lambda_app.handler import handler
from tests.conftest import ADMIN_SUBJECT, TEST_BUCKET, bearer, insert_user
from tests.test_handler import lambda_context, load_event

SUBJECTS = {"admin": ADMIN_SUBJECT, "staff": "staff-subject", "customer": "customer-subject"}
UNREGISTERED = "unregistered-subject"


@dataclass(frozen=True)
class Call:
    """One API call, with {target} standing for the id it is aimed at."""

    method: str
    path: str
    body: dict[str, Any] | None = None


ON_A_USER = {
    "read": Call("GET", "/users/{target}"),
    "update": Call("PATCH", "/users/{target}", {"full_name": "Changed"}),
    "set user_type": Call("PATCH", "/users/{target}", {"user_type": "admin"}),
    "delete": Call("DELETE", "/users/{target}"),
    "start avatar upload": Call("POST", "/users/{target}/avatar", {"content_type": "image/png"}),
    "read avatar": Call("GET", "/users/{target}/avatar"),
    "delete avatar": Call("DELETE", "/users/{target}/avatar"),
}
OWN = {"read": 200, "update": 200, "set user_type": 403, "delete": 204}
OWN |= {"start avatar upload": 201, "read avatar": 200, "delete avatar": 204}
ADMIN_ANY = OWN | {"set user_type": 200}
STAFF_OTHER = dict.fromkeys(ON_A_USER, 403) | {"read": 200, "read avatar": 200}
HIDDEN = dict.fromkeys(ON_A_USER, 404)
REFUSED = dict.fromkeys(ON_A_USER, 403)

EXPECTED_ON_A_USER = {
    ("admin", "own"): ADMIN_ANY,
    ("admin", "other"): ADMIN_ANY,
    ("staff", "own"): OWN,
    ("staff", "other"): STAFF_OTHER,
    ("customer", "own"): OWN,
    ("customer", "other"): HIDDEN,
    ("unregistered", "other"): REFUSED,
}

WITHOUT_TARGET = {
    "list": Call("GET", "/users"),
    "create": Call("POST", "/users", {"email": "new@example.com"}),
    "create with user_type": Call(
        "POST", "/users", {"email": "new@example.com", "user_type": "staff"}
    ),
    "read me": Call("GET", "/users/me"),
    "register me": Call("POST", "/users/me"),
}
EXPECTED_WITHOUT_TARGET = {
    "admin": {
        "list": 200,
        "create": 201,
        "create with user_type": 201,
        "read me": 200,
        "register me": 409,
    },
    "staff": {
        "list": 200,
        "create": 403,
        "create with user_type": 403,
        "read me": 200,
        "register me": 409,
    },
    "customer": {
        "list": 403,
        "create": 403,
        "create with user_type": 403,
        "read me": 200,
        "register me": 409,
    },
    "unregistered": {
        "list": 403,
        "create": 403,
        "create with user_type": 403,
        "read me": 404,
        "register me": 201,
    },
}

CASES = [
    pytest.param(role, target, name, status, id=f"{role}-{name}-{target}")
    for (role, target), statuses in EXPECTED_ON_A_USER.items()
    for name, status in statuses.items()
] + [
    pytest.param(role, None, name, status, id=f"{role}-{name}")
    for role, statuses in EXPECTED_WITHOUT_TARGET.items()
    for name, status in statuses.items()
]


@pytest.fixture
def people(admin: dict[str, Any], db_engine: Engine, s3: Any) -> dict[str, str]:
    """An admin, a staff member, a customer and another customer, each with an avatar."""
    ids = {"admin": admin["id"]}
    for role in ("staff", "customer"):
        ids[role] = insert_user(
            db_engine, email=f"{role}@example.com", user_type=role, subject=SUBJECTS[role]
        )
    ids["other"] = insert_user(
        db_engine, email="other@example.com", user_type="customer", subject="other-subject"
    )
    # A second admin, so that an admin removing themselves is not the last admin (that is
    # its own rule: tests/routers/test_last_admin.py).
    insert_user(db_engine, email="backup@example.com", user_type="admin", subject="backup-admin")
    for user_id in ids.values():
        s3.put_object(Bucket=TEST_BUCKET, Key=f"users/{user_id}/avatar", Body=b"png")
    return ids


def snapshot(engine: Engine, s3: Any) -> tuple[list[Any], list[str]]:
    """Everything a refused request must leave alone: the users and the stored files."""
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(text("SELECT * FROM users ORDER BY id"))]
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=TEST_BUCKET).get("Contents", [])]
    return rows, sorted(keys)


def claims_for(subject: str) -> dict[str, str]:
    email = f"{subject}@example.com" if subject == UNREGISTERED else None
    claims = {"sub": subject, "iss": "https://cognito-idp.test", "token_use": "id"}
    return claims | ({"email": email} if email else {})


def call_with_bearer(client: Any, call: Call, path: str, subject: str) -> int:
    email = "unregistered@example.com" if subject == UNREGISTERED else None
    response = client.request(call.method, path, json=call.body, headers=bearer(subject, email))
    return int(response.status_code)


def call_through_lambda(call: Call, path: str, subject: str) -> int:
    event = load_event("http_api_create_user.json")
    body = json.dumps(call.body) if call.body is not None else None
    event.update(rawPath=path, body=base64.b64encode(body.encode()).decode() if body else None)
    event["isBase64Encoded"] = body is not None
    event["requestContext"]["http"].update(method=call.method, path=path)
    claims = claims_for(subject)
    if subject == UNREGISTERED:
        # As a Cognito ID token carries it: the address and that it was verified.
        claims.update(email="unregistered@example.com", email_verified="true")
    event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return int(handler(event, lambda_context())["statusCode"])


@pytest.mark.parametrize("transport", ["bearer", "lambda"])
@pytest.mark.parametrize(("role", "target", "name", "expected"), CASES)
def test_role_decides_the_answer_and_refusals_change_nothing(
    client: Any,
    people: dict[str, str],
    db_engine: Engine,
    s3: Any,
    transport: str,
    role: str,
    target: str | None,
    name: str,
    expected: int,
) -> None:
    call = ON_A_USER[name] if target else WITHOUT_TARGET[name]
    target_id = people[role] if target == "own" else people["other"]
    path = call.path.format(target=target_id)
    subject = SUBJECTS.get(role, UNREGISTERED)
    before = snapshot(db_engine, s3)

    if transport == "bearer":
        status = call_with_bearer(client, call, path, subject)
    else:
        status = call_through_lambda(call, path, subject)

    assert status == expected
    if status >= 400:
        assert snapshot(db_engine, s3) == before


def test_a_customer_cannot_tell_a_missing_id_from_someone_elses(
    client: Any, people: dict[str, str]
) -> None:
    headers = bearer(SUBJECTS["customer"])

    someone_else = client.get(f"/users/{people['other']}", headers=headers)
    missing = client.get(f"/users/{uuid.uuid4()}", headers=headers)

    assert someone_else.status_code == missing.status_code == 404
    assert someone_else.json()["title"] == missing.json()["title"]


def test_registering_uses_the_token_email_as_a_customer(client: Any, admin: dict[str, Any]) -> None:
    headers = bearer("new-subject", " New.Person@Example.com ")

    created = client.post("/users/me", headers=headers)
    me = client.get("/users/me", headers=headers)

    assert created.status_code == 201
    assert created.headers["location"] == f"/users/{created.json()['id']}"
    assert (me.json()["email"], me.json()["user_type"]) == ("new.person@example.com", "customer")


def test_registering_an_email_that_exists_is_409(client: Any, people: dict[str, str]) -> None:
    response = client.post("/users/me", headers=bearer("fresh-subject", "staff@example.com"))

    assert response.status_code == 409


@pytest.mark.parametrize("verified", [False, "false"])
def test_registering_with_an_unverified_email_is_422(
    client: Any, admin: dict[str, Any], verified: Any
) -> None:
    headers = bearer("unverified", "someone@example.com", email_verified=verified)

    response = client.post("/users/me", headers=headers)

    assert response.status_code == 422
    assert client.get("/users/me", headers=headers).status_code == 404


def test_registering_without_an_email_claim_is_422(client: Any, admin: dict[str, Any]) -> None:
    response = client.post("/users/me", headers=bearer("no-email-subject"))

    assert response.status_code == 422
    assert "email" in response.json()["detail"]
