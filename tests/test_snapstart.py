"""SnapStart hooks: nothing from the snapshot that must be unique survives a restore."""

from __future__ import annotations

import json
import os
import random
import ssl
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from bench.events import http_api_event
from lambda_app import snapstart
from tests.conftest import ADMIN_EMAIL, ADMIN_SUBJECT, APP_DB_ROLE, TEST_BUCKET
from tests.credentials_endpoint import CREDENTIAL_VARIABLES, credentials_endpoint
from tests.test_handler import in_a_fresh_process
from tests.tls_database import TlsDatabase

# These tests watch the app's own server processes, which a pooler hides by design.
pytestmark = pytest.mark.direct_database

APP_CONNECTIONS = text(
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'users-service' "
    "AND datname = current_database()"
)


def app_connection_pids(engine: Engine, *, settle_seconds: float = 5.0) -> set[int]:
    """The app's server processes, once closed connections have had time to end theirs."""
    deadline = time.monotonic() + settle_seconds
    while True:
        with engine.connect() as connection:
            pids = set(connection.scalars(APP_CONNECTIONS))
        # A closed connection's server process exits a moment after the client hangs up.
        if len(pids) <= 1 or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)


def wait_until_gone(engine: Engine, pids: set[int]) -> None:
    deadline = time.monotonic() + 5.0
    while app_connection_pids(engine) & pids and time.monotonic() < deadline:
        time.sleep(0.05)


def test_warm_up_builds_the_engine_without_connecting(app_env: Any, db_engine: Engine) -> None:
    snapstart.warm_up()

    assert app_connection_pids(db_engine) == set()


# Init in a process of its own: the statements are built once per process.
INIT_STATEMENTS = """
import json
import lambda_app.handler
from lambda_app.crud import statements_built
print(json.dumps({"built": statements_built()}))
"""


@pytest.mark.parametrize(("initialization", "built"), [("on-demand", False), ("snap-start", True)])
def test_only_a_snapshot_init_builds_the_crud_statements(
    app_env: Any, initialization: str, built: bool
) -> None:
    environment = {**os.environ, "LOG_LEVEL": "ERROR"}
    environment[snapstart.INITIALIZATION_TYPE_VARIABLE] = initialization

    init = in_a_fresh_process(INIT_STATEMENTS, environment=environment)

    assert init["built"] is built


def test_warm_up_without_a_database_setting_does_not_fail(app_env: Any) -> None:
    from tests.conftest import settings_env

    with settings_env(DATABASE_URL=None):
        snapstart.warm_up()


def test_after_a_restore_requests_use_a_new_connection(
    client: TestClient, db_engine: Engine
) -> None:
    client.get("/users")
    before = app_connection_pids(db_engine)

    snapstart.before_snapshot()
    snapstart.after_restore()
    wait_until_gone(db_engine, before)
    client.get("/users")
    after = app_connection_pids(db_engine)

    assert len(before) == 1
    assert len(after) == 1
    assert before.isdisjoint(after)


def test_before_snapshot_leaves_no_connection_open(client: TestClient, db_engine: Engine) -> None:
    client.get("/users")

    pids = app_connection_pids(db_engine)

    snapstart.before_snapshot()
    wait_until_gone(db_engine, pids)

    assert pids
    assert app_connection_pids(db_engine) == set()


def test_after_restore_reseeds_random() -> None:
    random.seed(42)
    from_snapshot = [random.random() for _ in range(3)]
    random.seed(42)  # the state every restored environment would share

    snapstart.after_restore()

    assert [random.random() for _ in range(3)] != from_snapshot


def test_hooks_are_registered_with_the_runtime_library() -> None:
    from snapshot_restore_py import get_after_restore, get_before_snapshot

    snapstart.register_hooks()

    assert snapstart.before_snapshot in [entry[0] for entry in get_before_snapshot()]
    assert snapstart.after_restore in [entry[0] for entry in get_after_restore()]


def test_after_restore_mixes_fresh_entropy_into_openssls_generator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    added: list[tuple[bytes, float]] = []
    monkeypatch.setattr(ssl, "RAND_add", lambda data, entropy: added.append((data, entropy)))

    snapstart.after_restore()
    snapstart.after_restore()

    assert len(added) == 2
    assert added[0][0] != added[1][0]
    assert all(len(data) >= 32 and entropy >= 32 for data, entropy in added)


# Run in a process of its own, as Lambda runs init, snapshot hooks and the first request.
RESTORED_FIRST_REQUEST = """
import json, sys
from types import SimpleNamespace
event = json.loads(sys.argv[1])
context = SimpleNamespace(aws_request_id="00000000-0000-4000-8000-000000000001",
    function_name="users-api", get_remaining_time_in_millis=lambda: 29_000,
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:users-api")
import lambda_app.handler as entry
from lambda_app import snapstart
from lambda_app.external_services.aws import get_s3_client
from lambda_app.external_services.iam_auth import role_credentials
key_at_init = role_credentials.current().access_key
if sys.argv[2] == "snap-start":
    snapstart.before_snapshot()
    snapstart.after_restore()
loaded = set(sys.modules)
response = entry.handler(event, context)
after_request = set(sys.modules)
get_s3_client().generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})
print(json.dumps({
    "status": response["statusCode"],
    "body": response["body"],
    "imported_by_request": sorted(after_request - loaded),
    "imported_by_s3": sorted(set(sys.modules) - after_request),
    "sdk_after_init": sorted(n for n in loaded if n.split(".")[0] in ("boto3", "botocore")),
    "key_at_init": key_at_init,
    "key_after_restore": role_credentials.current().access_key,
}))
"""


def first_request(
    tls_database: TlsDatabase, initialization: str, credentials: dict[str, str]
) -> dict[str, Any]:
    """Init (for `initialization`), the snapshot hooks if any, and GET /users/{id}, as deployed.

    Deployed means: an IAM token login with the role's `credentials` (variables) over TLS
    verified against the test CA, and S3 configured.
    """
    environment = deployed_environment(tls_database, initialization)
    environment.update(credentials)
    event = http_api_event(
        "GET", f"/users/{tls_database.user_id}", subject=ADMIN_SUBJECT, email=ADMIN_EMAIL
    )
    return in_a_fresh_process(
        RESTORED_FIRST_REQUEST, json.dumps(event), initialization, environment=environment
    )


def deployed_environment(tls_database: TlsDatabase, initialization: str) -> dict[str, str]:
    """The API function's environment as deployed, without its role's credentials."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in (*CREDENTIAL_VARIABLES, "AWS_SECURITY_TOKEN", "DATABASE_URL")
    }
    environment.update(
        {
            "AWS_LAMBDA_INITIALIZATION_TYPE": initialization,
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
            "AWS_CONFIG_FILE": "/nonexistent/config",
            "DB_IAM_AUTH": "true",
            "DB_SSL": "true",
            "DB_HOST": tls_database.host,
            "DB_PORT": str(tls_database.port),
            "DB_NAME": tls_database.database,
            "DB_USER": APP_DB_ROLE,
            "SSL_CERT_FILE": str(tls_database.trust_store),
            "S3_BUCKET": TEST_BUCKET,
            "LOG_LEVEL": "ERROR",
        }
    )
    return environment


@pytest.fixture(scope="module")
def restored(tls_database: TlsDatabase) -> dict[str, Any]:
    """What a SnapStart environment did on its first request after a restore."""
    # SnapStart functions get their role's credentials from the container endpoint.
    with credentials_endpoint() as endpoint:
        return first_request(tls_database, snapstart.SNAP_START, endpoint.environment())


def test_a_restored_environment_answers_its_first_request_as_deployed(
    restored: dict[str, Any], tls_database: TlsDatabase
) -> None:
    assert restored["status"] == 200, restored["body"]
    assert json.loads(restored["body"])["id"] == tls_database.user_id


def test_a_restored_environment_imports_no_module_on_its_first_request(
    restored: dict[str, Any],
) -> None:
    assert restored["imported_by_request"] == []
    assert restored["imported_by_s3"] == []


def test_a_restored_environment_signs_with_credentials_fetched_after_the_restore(
    restored: dict[str, Any],
) -> None:
    assert restored["key_at_init"] == "ROLE-KEY-1", restored
    assert restored["key_after_restore"] not in ("", restored["key_at_init"])


def test_without_snapstart_neither_init_nor_the_first_query_loads_the_aws_sdk(
    tls_database: TlsDatabase,
) -> None:
    # Lambda's on-demand init: the role's keys in variables; S3 waits for a route using it.
    keys = {
        "AWS_ACCESS_KEY_ID": "ON-DEMAND-KEY",
        "AWS_SECRET_ACCESS_KEY": "on-demand-secret",
        "AWS_SESSION_TOKEN": "on-demand-token",
    }

    on_demand = first_request(tls_database, "on-demand", keys)

    assert on_demand["status"] == 200, on_demand["body"]
    assert on_demand["sdk_after_init"] == []
    assert on_demand["key_after_restore"] == "ON-DEMAND-KEY"


# The provisioning path: an admin's POST /users creates the identity in Cognito (moto's server).
RESTORED_FIRST_CREATE = """
import json, sys
from types import SimpleNamespace
event = json.loads(sys.argv[1])
context = SimpleNamespace(aws_request_id="00000000-0000-4000-8000-000000000002",
    function_name="users-api", get_remaining_time_in_millis=lambda: 29_000,
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:users-api")
import lambda_app.handler as entry
from lambda_app import snapstart
snapstart.before_snapshot()
snapstart.after_restore()
loaded = set(sys.modules)
response = entry.handler(event, context)
print(json.dumps({
    "status": response["statusCode"],
    "body": response["body"],
    "imported_by_request": sorted(set(sys.modules) - loaded),
}))
"""


def test_a_restored_environment_provisions_an_identity_without_importing_a_module(
    tls_database: TlsDatabase,
) -> None:
    import boto3

    from local.embedded_s3 import EmbeddedS3
    from local.user_pool import create_user_pool

    moto = EmbeddedS3(bucket=TEST_BUCKET).start()
    try:
        idp = boto3.client("cognito-idp", endpoint_url=moto.endpoint_url, region_name="us-east-1")
        pool = create_user_pool(idp)
        event = http_api_event(
            "POST",
            "/users",
            subject=ADMIN_SUBJECT,
            email=ADMIN_EMAIL,
            body={"email": f"restored-{os.getpid()}@example.com"},
        )
        with credentials_endpoint() as endpoint:
            environment = deployed_environment(tls_database, snapstart.SNAP_START)
            environment.update(
                endpoint.environment(),
                COGNITO_USER_POOL_ID=pool.pool_id,
                COGNITO_ENDPOINT_URL=moto.endpoint_url,
            )
            restored = in_a_fresh_process(
                RESTORED_FIRST_CREATE, json.dumps(event), environment=environment
            )
        (identity,) = idp.list_users(UserPoolId=pool.pool_id)["Users"]
    finally:
        moto.stop()

    assert restored["status"] == 201, restored["body"]
    assert json.loads(restored["body"])["identity"] == "linked"
    assert identity["Username"]
    assert restored["imported_by_request"] == []
