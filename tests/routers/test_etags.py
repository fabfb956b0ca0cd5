"""ETags and conditional requests: 304 for a current copy, 412 for a stale If-Match."""

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


def test_reads_and_writes_return_a_strong_etag(client: TestClient, make_user: Any) -> None:
    created = client.post("/users", json={"email": "etag@example.com"})
    user_id = created.json()["id"]

    read = client.get(f"/users/{user_id}")
    updated = client.patch(f"/users/{user_id}", json={"full_name": "New"})

    assert created.headers["ETag"] == read.headers["ETag"]
    assert not read.headers["ETag"].startswith("W/")
    assert updated.headers["ETag"] != read.headers["ETag"]
    assert client.get(f"/users/{user_id}").headers["ETag"] == updated.headers["ETag"]


def test_the_etag_changes_even_when_a_patch_sends_the_same_values(
    client: TestClient, make_user: Any
) -> None:
    user = make_user(full_name="Same")
    before = client.get(f"/users/{user['id']}").headers["ETag"]

    after = client.patch(f"/users/{user['id']}", json={"full_name": "Same"}).headers["ETag"]

    assert after != before  # updated_at changed: the representation did too


def test_an_update_outside_the_api_changes_the_etag(
    client: TestClient, make_user: Any, db_engine: Engine
) -> None:
    user = make_user()
    before = client.get(f"/users/{user['id']}").headers["ETag"]
    with db_engine.begin() as connection:
        connection.execute(text("UPDATE users SET full_name = 'Ops' WHERE id = :id"), user)

    assert client.get(f"/users/{user['id']}").headers["ETag"] != before


def test_me_has_the_same_etag_as_my_record_by_id(client: TestClient, admin: dict[str, Any]) -> None:
    me = client.get("/users/me")

    assert me.headers["ETag"] == client.get(f"/users/{admin['id']}").headers["ETag"]


@pytest.mark.parametrize("path", ["/users/{id}", "/users/me"])
def test_if_none_match_with_the_current_etag_is_304_without_a_body(
    client: TestClient, admin: dict[str, Any], path: str
) -> None:
    url = path.format(id=admin["id"])
    etag = client.get(url).headers["ETag"]

    response = client.get(url, headers={"If-None-Match": f'"other", {etag}'})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["ETag"] == etag


def test_if_none_match_compares_weakly_and_takes_a_star(
    client: TestClient, admin: dict[str, Any]
) -> None:
    url = f"/users/{admin['id']}"
    etag = client.get(url).headers["ETag"]

    assert client.get(url, headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert client.get(url, headers={"If-None-Match": "*"}).status_code == 304


def test_if_none_match_with_a_stale_etag_is_200_with_the_new_one(
    client: TestClient, make_user: Any
) -> None:
    user = make_user()
    url = f"/users/{user['id']}"
    stale = client.get(url).headers["ETag"]
    client.patch(url, json={"full_name": "Changed"})

    response = client.get(url, headers={"If-None-Match": stale})

    assert response.status_code == 200
    assert response.json()["full_name"] == "Changed"
    assert response.headers["ETag"] != stale


def test_patch_with_the_current_etag_applies(client: TestClient, make_user: Any) -> None:
    user = make_user()
    url = f"/users/{user['id']}"
    etag = client.get(url).headers["ETag"]

    response = client.patch(url, json={"full_name": "Fresh"}, headers={"If-Match": etag})

    assert response.status_code == 200
    assert response.json()["full_name"] == "Fresh"


@pytest.mark.parametrize(
    "if_match",
    ["stale", 'W/"{id}-1"', '"{other}-1"', "garbage without quotes", '"{id}-99999999999999999999"'],
)
def test_patch_with_an_etag_that_is_not_current_is_412_and_changes_nothing(
    client: TestClient, make_user: Any, if_match: str
) -> None:
    user = make_user(full_name="Kept")
    other = make_user()
    url = f"/users/{user['id']}"
    current = client.get(url).headers["ETag"]
    client.patch(url, json={"full_name": "Kept"})  # the version moves on
    header = (
        current
        if if_match == "stale"
        else if_match.format(id=user["id"].replace("-", ""), other=other["id"].replace("-", ""))
    )

    body = assert_problem(
        client.patch(url, json={"full_name": "Lost"}, headers={"If-Match": header}), 412
    )

    assert "If-Match" in body["detail"]
    assert client.get(url).json()["full_name"] == "Kept"


def test_if_match_star_or_absent_updates_as_before(client: TestClient, make_user: Any) -> None:
    user = make_user()
    url = f"/users/{user['id']}"

    assert client.patch(url, json={"full_name": "A"}, headers={"If-Match": "*"}).status_code == 200
    assert client.patch(url, json={"full_name": "B"}).status_code == 200


def test_if_match_on_a_missing_user_is_404(client: TestClient) -> None:
    url = "/users/00000000-0000-4000-8000-000000000000"
    headers = {"If-Match": '"00000000000040008000000000000000-1"'}

    assert_problem(client.patch(url, json={"full_name": "X"}, headers=headers), 404)
    assert_problem(client.delete(url, headers=headers), 404)


def test_demoting_an_admin_with_a_stale_etag_is_412(client: TestClient, db_engine: Engine) -> None:
    other = insert_user(db_engine, email="second@example.com", user_type="admin", subject="second")
    url = f"/users/{other}"
    stale = client.get(url).headers["ETag"]
    client.patch(url, json={"full_name": "Moved on"})

    assert_problem(client.patch(url, json={"user_type": "staff"}, headers={"If-Match": stale}), 412)
    assert client.get(url).json()["user_type"] == "admin"


def test_delete_with_a_stale_etag_is_412_and_keeps_the_user(
    client: TestClient, make_user: Any
) -> None:
    user = make_user()
    url = f"/users/{user['id']}"
    stale = client.get(url).headers["ETag"]
    client.patch(url, json={"full_name": "Moved on"})

    assert_problem(client.delete(url, headers={"If-Match": stale}), 412)
    assert client.get(url).status_code == 200


def test_delete_with_the_current_etag_deletes(client: TestClient, make_user: Any) -> None:
    user = make_user()
    url = f"/users/{user['id']}"

    response = client.delete(url, headers={"If-Match": client.get(url).headers["ETag"]})

    assert response.status_code == 204
    assert client.get(url).status_code == 404


def test_deleting_an_admin_with_a_stale_etag_is_412(client: TestClient, db_engine: Engine) -> None:
    other = insert_user(db_engine, email="second@example.com", user_type="admin", subject="second")
    url = f"/users/{other}"
    stale = client.get(url).headers["ETag"]
    client.patch(url, json={"full_name": "Moved on"})

    assert_problem(client.delete(url, headers={"If-Match": stale}), 412)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_two_writers_with_one_etag_never_both_win(
    app_env: dict[str, str], s3: Any, db_engine: Engine, method: str
) -> None:
    outcomes: set[tuple[int, ...]] = set()
    insert_user(db_engine, email="admin@example.com", user_type="admin", subject=ADMIN_SUBJECT)
    with settings_env(DB_POOL_SIZE="4"):
        app = create_app()
        for round_number in range(ROUNDS):
            user_id = insert_user(
                db_engine,
                email=f"race-{round_number}@example.com",
                user_type="customer",
                subject=None,
            )
            url = f"/users/{user_id}"
            with TestClient(app, headers=bearer(ADMIN_SUBJECT)) as http:
                etag = http.get(url).headers["ETag"]
            start = threading.Barrier(2, timeout=10)
            answers: list[int] = []

            def write(
                name: str,
                url: str = url,
                etag: str = etag,
                barrier: threading.Barrier = start,
                answers: list[int] = answers,
            ) -> None:
                body = {"full_name": name} if method == "PATCH" else None
                with TestClient(app, raise_server_exceptions=False) as http:
                    barrier.wait()
                    response = http.request(
                        method, url, json=body, headers={**bearer(ADMIN_SUBJECT), "If-Match": etag}
                    )
                answers.append(response.status_code)

            threads = [threading.Thread(target=write, args=(name,)) for name in ("one", "two")]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)

            with db_engine.connect() as connection:
                version = connection.scalar(
                    text("SELECT version FROM users WHERE id = :id"), {"id": user_id}
                )
            assert len(answers) == 2, f"round {round_number}: {answers}"
            outcomes.add(tuple(sorted(answers)))
            # One write happened: the version moved once, or the row is gone.
            assert version == (2 if method == "PATCH" else None), f"round {round_number}"

    # The loser of a PATCH sees the raised version (412); of a DELETE, no row at all (404),
    # or a version that no longer matches (412). Never two wins, never a 5xx.
    expected = {(200, 412)} if method == "PATCH" else {(204, 404), (204, 412)}
    assert outcomes <= expected, outcomes


def test_an_if_match_that_repeats_one_etag_is_compared_once(
    client: TestClient, make_user: Any
) -> None:
    user = make_user()
    url = f"/users/{user['id']}"
    etag = client.get(url).headers["ETag"]

    response = client.patch(
        url, json={"full_name": "Once"}, headers={"If-Match": ", ".join([etag] * 500)}
    )

    assert response.status_code == 200, response.text


def test_an_if_match_with_too_many_etags_is_400_and_changes_nothing(
    client: TestClient, make_user: Any
) -> None:
    # Each version in If-Match is one parameter of the statement that checks it: a long list
    # is refused before it could reach the protocol's limit of 65,535 parameters (API
    # Gateway's header limits stop such a header first, but the handler itself does not).
    user = make_user(full_name="Kept")
    url = f"/users/{user['id']}"
    current = client.get(url).headers["ETag"]
    stale = [f'"{user["id"].replace("-", "")}-{version}"' for version in range(2, 40)]
    header = ", ".join([current, *stale])

    for method, body in (("PATCH", {"full_name": "Lost"}), ("DELETE", None)):
        response = client.request(method, url, json=body, headers={"If-Match": header})
        assert_problem(response, 400)
        assert "If-Match" in response.json()["detail"]
    assert client.get(url).json() == user
