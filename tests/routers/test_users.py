"""The users routes, row by row of the API contract."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """Check that `response` is a problem+json answer with `status` and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = dict(response.json())
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    return body


def count_users(client: TestClient) -> int:
    return int(client.get("/users").json()["total"])


# --- POST /users


def test_create_user_returns_201_with_location_and_the_user(client: TestClient) -> None:
    response = client.post(
        "/users", json={"email": "ada@example.com", "full_name": "Ada", "user_type": "staff"}
    )

    assert response.status_code == 201
    user = response.json()
    assert set(user) == {
        "id",
        "email",
        "full_name",
        "user_type",
        "created_at",
        "updated_at",
        "identity",
    }
    # No COGNITO_USER_POOL_ID: the person is linked on first sign-in, by verified email.
    assert user.pop("identity") == "unmanaged"
    assert response.headers["location"] == f"/users/{user['id']}"
    assert uuid.UUID(user["id"])
    assert (user["email"], user["full_name"], user["user_type"]) == (
        "ada@example.com",
        "Ada",
        "staff",
    )
    assert datetime.fromisoformat(user["created_at"]) == datetime.fromisoformat(user["updated_at"])
    assert client.get(response.headers["location"]).json() == user


def test_create_user_defaults_to_customer_without_name(client: TestClient) -> None:
    user = client.post("/users", json={"email": "c@example.com"}).json()

    assert user["user_type"] == "customer"
    assert user["full_name"] is None


def test_create_user_stores_email_trimmed_and_lower_cased(client: TestClient) -> None:
    user = client.post("/users", json={"email": "  Alice@Example.COM "}).json()

    assert user["email"] == "alice@example.com"


def test_create_user_with_same_email_in_other_case_is_409(client: TestClient) -> None:
    client.post("/users", json={"email": "Alice@Example.com"})
    before = count_users(client)

    body = assert_problem(client.post("/users", json={"email": "alice@example.com"}), 409)

    assert "alice@example.com" not in body["detail"].lower()  # never tells who is registered
    assert count_users(client) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "body.email"),
        ({}, "body.email"),
        ({"email": "a@example.com", "full_name": "x" * 201}, "body.full_name"),
        ({"email": "a@example.com", "user_type": "root"}, "body.user_type"),
        ({"email": "a@example.com", "is_admin": True}, "body.is_admin"),
        ({"email": 42}, "body.email"),
    ],
)
def test_create_user_with_invalid_body_is_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    before = count_users(client)

    problem = assert_problem(client.post("/users", json=body), 422)

    assert field in [error["field"] for error in problem["errors"]]
    assert all(error["message"] for error in problem["errors"])
    assert count_users(client) == before


def test_create_user_accepts_a_200_character_name(client: TestClient) -> None:
    response = client.post("/users", json={"email": "long@example.com", "full_name": "x" * 200})

    assert response.status_code == 201


def test_create_user_with_malformed_json_is_422(client: TestClient) -> None:
    before = count_users(client)

    response = client.post(
        "/users", content=b'{"email": ', headers={"content-type": "application/json"}
    )

    assert_problem(response, 422)
    assert count_users(client) == before


# --- GET /users


def test_list_users_pages_in_creation_order_with_total(
    client: TestClient, make_user: Any, admin: dict[str, Any]
) -> None:
    created = [make_user(f"u{index}@example.com") for index in range(5)]

    first = client.get("/users", params={"limit": 2}).json()
    rest = client.get("/users", params={"limit": 2, "offset": 2}).json()

    assert first["total"] == rest["total"] == 6  # the five and the signed-in admin
    assert (first["limit"], first["offset"], rest["offset"]) == (2, 0, 2)
    listed = [user["id"] for user in first["items"] + rest["items"]]
    assert listed == [admin["id"]] + [user["id"] for user in created[:3]]


def test_list_users_defaults_to_20_per_page(client: TestClient, make_user: Any) -> None:
    for index in range(21):
        make_user(f"p{index}@example.com")

    page = client.get("/users").json()

    assert (len(page["items"]), page["total"], page["limit"], page["offset"]) == (20, 22, 20, 0)


def test_list_users_filters_by_user_type_and_email(client: TestClient, make_user: Any) -> None:
    staff = make_user("staff@example.com", user_type="staff")
    make_user("customer@example.com")

    by_type = client.get("/users", params={"user_type": "staff"}).json()
    by_email = client.get("/users", params={"email": " STAFF@example.com"}).json()

    assert [user["id"] for user in by_type["items"]] == [staff["id"]]
    assert by_type["total"] == 1
    assert [user["id"] for user in by_email["items"]] == [staff["id"]]


def test_list_users_orders_ties_in_created_at_by_id(client: TestClient, database_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.begin() as connection:  # one transaction: now() is the same for all three
        for index in range(3):
            connection.execute(
                text("INSERT INTO users (email) VALUES (:email)"),
                {"email": f"t{index}@example.com"},
            )
    engine.dispose()

    ids = [user["id"] for user in client.get("/users?user_type=customer").json()["items"]]

    assert len(ids) == 3
    assert ids == sorted(ids, key=uuid.UUID)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 101}, "query.limit"),
        ({"offset": -1}, "query.offset"),
        ({"limit": "ten"}, "query.limit"),
        ({"user_type": "root"}, "query.user_type"),
    ],
)
def test_list_users_with_bad_paging_is_422(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    problem = assert_problem(client.get("/users", params=params), 422)

    assert [error["field"] for error in problem["errors"]] == [field]


def test_list_users_accepts_limit_bounds(client: TestClient) -> None:
    assert client.get("/users", params={"limit": 1}).status_code == 200
    assert client.get("/users", params={"limit": 100}).status_code == 200


# --- GET /users/{id}


def test_read_user_returns_the_user(client: TestClient, make_user: Any) -> None:
    user = make_user()

    assert client.get(f"/users/{user['id']}").json() == user


def test_read_unknown_user_is_404(client: TestClient) -> None:
    assert_problem(client.get(f"/users/{uuid.uuid4()}"), 404)


def test_read_user_with_malformed_id_is_422(client: TestClient) -> None:
    problem = assert_problem(client.get("/users/not-a-uuid"), 422)

    assert [error["field"] for error in problem["errors"]] == ["path.user_id"]


# --- PATCH /users/{id}


def test_update_user_changes_fields_and_advances_updated_at(
    client: TestClient, make_user: Any
) -> None:
    user = make_user("before@example.com", full_name="Before")

    response = client.patch(
        f"/users/{user['id']}",
        json={"email": "After@Example.com", "full_name": "After", "user_type": "admin"},
    )

    assert response.status_code == 200
    updated = response.json()
    assert (updated["email"], updated["full_name"], updated["user_type"]) == (
        "after@example.com",
        "After",
        "admin",
    )
    assert updated["created_at"] == user["created_at"]
    assert datetime.fromisoformat(updated["updated_at"]) > datetime.fromisoformat(
        user["updated_at"]
    )
    assert client.get(f"/users/{user['id']}").json() == updated


def test_update_user_leaves_unsent_fields_alone_and_can_clear_the_name(
    client: TestClient, make_user: Any
) -> None:
    user = make_user("keep@example.com", full_name="Name", user_type="staff")

    updated = client.patch(f"/users/{user['id']}", json={"full_name": None}).json()

    assert (updated["email"], updated["full_name"], updated["user_type"]) == (
        "keep@example.com",
        None,
        "staff",
    )


def test_update_user_to_a_taken_email_is_409_and_changes_nothing(
    client: TestClient, make_user: Any
) -> None:
    make_user("taken@example.com")
    user = make_user("mine@example.com", full_name="Mine")

    assert_problem(
        client.patch(f"/users/{user['id']}", json={"email": "TAKEN@example.com", "full_name": "X"}),
        409,
    )

    assert client.get(f"/users/{user['id']}").json() == user


@pytest.mark.parametrize(
    "body",
    [
        {"email": None},
        {"user_type": None},
        {"email": "nope"},
        {"full_name": "x" * 201},
        {"id": str(uuid.uuid4())},
        {"created_at": "2020-01-01T00:00:00Z"},
    ],
)
def test_update_user_with_invalid_body_is_422_and_changes_nothing(
    client: TestClient, make_user: Any, body: dict[str, Any]
) -> None:
    user = make_user()

    assert_problem(client.patch(f"/users/{user['id']}", json=body), 422)

    assert client.get(f"/users/{user['id']}").json() == user


def test_update_unknown_user_is_404(client: TestClient) -> None:
    assert_problem(client.patch(f"/users/{uuid.uuid4()}", json={"full_name": "X"}), 404)


# --- DELETE /users/{id}


def test_delete_user_is_204_and_the_user_is_gone(client: TestClient, make_user: Any) -> None:
    user = make_user()

    response = client.delete(f"/users/{user['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert_problem(client.get(f"/users/{user['id']}"), 404)


def test_delete_user_removes_their_files_and_no_one_elses(
    client: TestClient, make_user: Any, s3: Any
) -> None:
    from tests.conftest import TEST_BUCKET

    user, other = make_user(), make_user()
    for owner in (user, other):
        for name in ("avatar", "documents/cv.pdf"):
            s3.put_object(Bucket=TEST_BUCKET, Key=f"users/{owner['id']}/{name}", Body=b"x")

    assert client.delete(f"/users/{user['id']}").status_code == 204

    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=TEST_BUCKET).get("Contents", [])]
    assert sorted(keys) == sorted(
        [f"users/{other['id']}/avatar", f"users/{other['id']}/documents/cv.pdf"]
    )


def test_delete_unknown_user_is_404(client: TestClient) -> None:
    assert_problem(client.delete(f"/users/{uuid.uuid4()}"), 404)


# --- totals


def test_list_totals_follow_creates_updates_deletes_and_bulk_loads(
    client: TestClient, make_user: Any, db_engine: Any
) -> None:
    from sqlalchemy import text

    staff = make_user("t-staff@example.com", user_type="staff")
    customers = [make_user(f"t-c{index}@example.com") for index in range(3)]
    client.patch(f"/users/{customers[0]['id']}", json={"user_type": "staff"})
    client.delete(f"/users/{customers[1]['id']}")
    with db_engine.begin() as connection:  # rows written without the API count too
        connection.execute(
            text(
                "INSERT INTO users (email) "
                "SELECT 'bulk' || n || '@example.com' FROM generate_series(1, 50) AS n"
            )
        )

    def total(**params: Any) -> int:
        return int(client.get("/users", params=params).json()["total"])

    assert total(user_type="staff") == 2
    assert total(user_type="customer") == 1 + 50
    assert total(user_type="admin") == 1
    assert total() == 2 + 51 + 1
    assert total(email=staff["email"]) == 1
    assert total(email=staff["email"], user_type="customer") == 0
