"""IAM matches what the code calls: every AWS call in lambda_app/ against each function's policy.

moto's IAM enforcement cannot answer this. In moto 5.x, moto/iam/access_control.py says
"TODO add support for the Resource and Condition parts of IAM policies" and "TODO add
support for resource-based policies"; its conditions go through
moto/iam/policy_conditions.py, which knows only StringEquals and treats every other
operator as satisfied ("If the evaluation operation is not supported, ignore condition
evaluation"), with a request context that holds only sts:ExternalId. A StringLike on
s3:prefix would always pass and the bucket policy would never be read. So these tests
judge each call with tests/infra/iam_evaluator.py, against the policies of the
synthesized template, and emulate the one S3 rule that turns on them: HeadObject and
GetObject on a missing key answer 403, not 404, unless the caller may s3:ListBucket
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html).

Expectations come from each function's environment, so they follow the infrastructure:
S3_BUCKET -> every S3 call the code makes is allowed on users/ keys and nothing else;
*_SECRET_ARN -> secretsmanager:GetSecretValue on that secret, and no other secret;
DB_IAM_AUTH=true -> rds-db:connect as DB_USER, and as no one else.
"""

from __future__ import annotations

import ast
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lambda_app.external_services import aws
from tests.conftest import TEST_BUCKET
from tests.infra.conftest import Synthesized
from tests.infra.iam_evaluator import Decision, Request, UnsupportedPolicyError, evaluate
from tests.infra.template_policies import (
    ACCOUNT,
    PARTITION,
    REGION,
    FunctionRole,
    TemplateResolver,
    function_roles,
    resource_statements,
    secret_arns,
)
from tests.routers.test_users import assert_problem

LAMBDA_APP = Path(__file__).resolve().parents[2] / "lambda_app"
APP_HANDLERS = "lambda_app."
# Lambda reaches S3 over HTTPS; the bucket policy denies anything else.
TLS = {"aws:SecureTransport": "true"}
SAMPLE_USER = uuid.UUID(int=1)

Params = Mapping[str, Any]


# --- what each AWS call asks IAM
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html


def _bucket_arn(bucket: str) -> str:
    return f"arn:{PARTITION}:s3:::{bucket}"


def _object_arn(bucket: str, key: str) -> str:
    return f"{_bucket_arn(bucket)}/{key}"


def _listing(action: str) -> Callable[[Params], list[Request]]:
    """A listing is a bucket action; Prefix, MaxKeys and Delimiter become condition keys."""
    keys = {"Prefix": "s3:prefix", "MaxKeys": "s3:max-keys", "Delimiter": "s3:delimiter"}

    def requests(params: Params) -> list[Request]:
        context = {**TLS, **{keys[p]: str(v) for p, v in params.items() if p in keys}}
        return [Request(action, _bucket_arn(params["Bucket"]), context)]

    return requests


def _object(action: str) -> Callable[[Params], list[Request]]:
    def requests(params: Params) -> list[Request]:
        return [Request(action, _object_arn(params["Bucket"], params["Key"]), TLS)]

    return requests


def _deletion(bucket: str, item: Params, *, etag_key: str) -> list[Request]:
    """s3:DeleteObject always; s3:DeleteObjectVersion for a version id (API_DeleteObjects);
    s3:GetObject too for a conditional delete on an ETag (userguide/conditional-deletes)."""
    resource = _object_arn(bucket, item["Key"])
    actions = ["s3:DeleteObject"]
    if "VersionId" in item:
        actions.append("s3:DeleteObjectVersion")
    if etag_key in item:
        actions.append("s3:GetObject")
    return [Request(action, resource, TLS) for action in actions]


def _delete_object(params: Params) -> list[Request]:
    return _deletion(params["Bucket"], params, etag_key="IfMatch")


def _delete_objects(params: Params) -> list[Request]:
    return [
        request
        for item in params["Delete"]["Objects"]
        for request in _deletion(params["Bucket"], item, etag_key="ETag")
    ]


def _secret(params: Params) -> list[Request]:
    return [Request("secretsmanager:GetSecretValue", params["SecretId"])]


def _db_connect(params: Params) -> list[Request]:
    # arn:aws:rds-db:region:account:dbuser:{DbiResourceId or prx-id}/{user} (list_rds-db).
    user = f"{params['ResourceId']}/{params['DBUsername']}"
    return [Request("rds-db:connect", f"arn:{PARTITION}:rds-db:{REGION}:{ACCOUNT}:dbuser:{user}")]


def user_pool_arn(pool_id: str) -> str:
    return f"arn:{PARTITION}:cognito-idp:{REGION}:{ACCOUNT}:userpool/{pool_id}"


def _pool_action(operation: str) -> Callable[[Params], list[Request]]:
    """Cognito's admin actions act on the user pool (list_amazoncognitouserpools)."""

    def requests(params: Params) -> list[Request]:
        return [Request(f"cognito-idp:{operation}", user_pool_arn(params["UserPoolId"]))]

    return requests


@dataclass(frozen=True)
class CallMapping:
    """The IAM requests of one call, and how lambda_app calls it (for the static check)."""

    requests: Callable[[Params], list[Request]]
    sample: Callable[[str], Params] | None = None


_KEY = aws.avatar_key(SAMPLE_USER)
_PREFIX = aws.user_prefix(SAMPLE_USER)

# (service, operation) -> IAM. Presigned URLs are requests by the signing role
# (userguide/using-presigned-url), so they map to the operation they sign.
CALLS: dict[tuple[str, str], CallMapping] = {
    ("s3", "HeadObject"): CallMapping(
        _object("s3:GetObject"), lambda b: {"Bucket": b, "Key": _KEY}
    ),
    ("s3", "GetObject"): CallMapping(_object("s3:GetObject"), lambda b: {"Bucket": b, "Key": _KEY}),
    ("s3", "PutObject"): CallMapping(_object("s3:PutObject"), lambda b: {"Bucket": b, "Key": _KEY}),
    ("s3", "DeleteObject"): CallMapping(
        _delete_object, lambda b: {"Bucket": b, "Key": _KEY, "IfMatch": '"0123abcd"'}
    ),
    ("s3", "DeleteObjects"): CallMapping(
        _delete_objects,
        lambda b: {
            "Bucket": b,
            "Delete": {
                "Objects": [
                    {"Key": _KEY, "VersionId": "3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"},
                    {"Key": f"{_PREFIX}documents/cv.pdf", "VersionId": "null"},
                ]
            },
        },
    ),
    ("s3", "ListObjectsV2"): CallMapping(
        _listing("s3:ListBucket"), lambda b: {"Bucket": b, "Prefix": _KEY, "MaxKeys": 1}
    ),
    ("s3", "ListObjectVersions"): CallMapping(
        _listing("s3:ListBucketVersions"), lambda b: {"Bucket": b, "Prefix": _PREFIX}
    ),
    ("secretsmanager", "GetSecretValue"): CallMapping(_secret),
    ("rds", "generate_db_auth_token"): CallMapping(_db_connect),
    **{
        ("cognito-idp", operation): CallMapping(_pool_action(operation))
        for operation in (
            "AdminCreateUser",
            "AdminGetUser",
            "AdminUpdateUserAttributes",
            "AdminUserGlobalSignOut",
            "AdminDeleteUser",
            "AdminDisableUser",
            "ListUsers",
        )
    },
}
# Cognito calls only the sweeper's reconcile-identities makes; the API's role lacks them.
RECONCILE_ONLY = {("cognito-idp", "ListUsers"), ("cognito-idp", "AdminDisableUser")}


# --- the guard: every boto3 call in lambda_app/ has an entry above


@dataclass(frozen=True)
class CodeCall:
    service: str
    operation: str
    where: str


def scan_aws_calls(sources: Mapping[str, str]) -> tuple[list[CodeCall], list[str]]:
    """Find boto3 client calls in `sources` (name -> code); return them and what it cannot read."""
    from botocore import xform_name
    from botocore.session import get_session

    trees = {name: ast.parse(code) for name, code in sources.items()}
    known_services = set(get_session().get_available_services())
    services: set[str] = set()
    problems: list[str] = []
    for name, tree in trees.items():
        for node in _calls(tree):
            function = node.func
            if not isinstance(function, ast.Attribute):
                continue
            service = _literal_argument(node, 0, "service_name")
            from_boto3 = _is_name(function.value, "boto3")
            # boto3.client("s3") or session.client("s3"); resources hide their calls.
            if function.attr == "client" and (from_boto3 or service in known_services):
                if service in known_services:
                    services.add(str(service))
                else:
                    problems.append(f"{name}:{node.lineno}: a client of an unnamed service")
            elif function.attr == "resource" and (from_boto3 or service in known_services):
                problems.append(f"{name}:{node.lineno}: boto3 resources are not mapped")
    session = get_session()
    operations = {
        xform_name(operation): (service, operation)
        for service in sorted(services)
        for operation in session.get_service_model(service).operation_names
    }
    found: list[CodeCall] = []
    for name, tree in trees.items():
        for node in _calls(tree):
            if not isinstance(node.func, ast.Attribute):
                continue
            method, where = node.func.attr, f"{name}:{node.lineno}"
            if method in {"generate_presigned_url", "get_paginator"}:
                signed = _literal_argument(node, 0, "ClientMethod") or _literal_argument(
                    node, 0, "operation_name"
                )
                if signed not in operations:
                    problems.append(f"{where}: {method}({signed!r}) names no known operation")
                    continue
                found.append(CodeCall(*operations[signed], where))
            elif method == "generate_presigned_post":
                found.append(CodeCall("s3", "PutObject", where))  # a POST upload is PutObject
            elif method == "generate_db_auth_token":
                found.append(CodeCall("rds", "generate_db_auth_token", where))
            elif method in {"get_waiter", "meta"}:
                problems.append(f"{where}: {method} is not mapped")
            elif method in operations:
                found.append(CodeCall(*operations[method], where))
    return found, problems


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def _is_name(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _literal_argument(call: ast.Call, position: int, keyword: str) -> str | None:
    candidates = [k.value for k in call.keywords if k.arg == keyword]
    if len(call.args) > position:
        candidates.append(call.args[position])
    for candidate in candidates:
        if isinstance(candidate, ast.Constant) and isinstance(candidate.value, str):
            return candidate.value
    return None


def lambda_app_calls() -> list[CodeCall]:
    sources = {
        str(p.relative_to(LAMBDA_APP.parent)): p.read_text() for p in LAMBDA_APP.rglob("*.py")
    }
    found, problems = scan_aws_calls(sources)
    assert not problems, problems
    return found


def test_every_aws_call_in_lambda_app_has_an_iam_mapping() -> None:
    unmapped = [c for c in lambda_app_calls() if (c.service, c.operation) not in CALLS]

    assert not unmapped, f"add these calls to CALLS in {__name__}: {unmapped}"


def test_the_scan_finds_the_s3_calls_of_the_avatar_and_user_routes() -> None:
    found = {(c.service, c.operation) for c in lambda_app_calls()}

    assert {
        ("s3", "ListObjectsV2"),
        ("s3", "DeleteObject"),
        ("s3", "ListObjectVersions"),
        ("s3", "DeleteObjects"),
        ("s3", "GetObject"),
        ("s3", "PutObject"),
    } <= found


def test_the_scan_reports_a_call_without_a_mapping() -> None:
    code = (
        "import boto3\n"
        "client = boto3.client('s3')\n"
        "client.copy_object(Bucket='b', Key='k', CopySource='x')\n"
        "client.get_paginator('list_objects_v2')\n"
        "boto3.resource('s3')\n"
        "boto3.Session().client('secretsmanager').get_secret_value(SecretId='x')\n"
    )

    found, problems = scan_aws_calls({"new.py": code})

    assert CodeCall("s3", "CopyObject", "new.py:3") in found
    assert ("s3", "CopyObject") not in CALLS
    assert CodeCall("s3", "ListObjectsV2", "new.py:4") in found
    assert CodeCall("secretsmanager", "GetSecretValue", "new.py:6") in found
    assert problems == ["new.py:5: boto3 resources are not mapped"]


# --- the evaluator honours what the policies rely on

LIST_USERS = {
    "Effect": "Allow",
    "Action": "s3:ListBucket",
    "Resource": "arn:aws:s3:::b",
    "Condition": {"StringLike": {"s3:prefix": ["users/*"]}},
}
TLS_ONLY = {
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


@pytest.mark.parametrize(
    ("context", "decision"),
    [
        ({"s3:prefix": "users/1/avatar"}, Decision.ALLOW),
        ({"s3:prefix": "other/"}, Decision.IMPLICIT_DENY),
        ({"s3:prefix": ""}, Decision.IMPLICIT_DENY),
        ({}, Decision.IMPLICIT_DENY),  # HeadObject's check carries no s3:prefix
    ],
)
def test_evaluator_applies_a_prefix_condition(context: dict[str, str], decision: Decision) -> None:
    request = Request("s3:ListBucket", "arn:aws:s3:::b", context)

    assert evaluate(request, [LIST_USERS]) is decision


def test_evaluator_lets_an_explicit_deny_win_over_an_allow() -> None:
    allow_all = {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/users/*"}
    request = Request("s3:getobject", "arn:aws:s3:::b/users/1/avatar", {}, "arn:aws:iam::1:role/r")

    secure = replace(request, context={"aws:SecureTransport": "true"})
    insecure = replace(request, context={"aws:SecureTransport": "false"})
    assert evaluate(secure, [allow_all], [TLS_ONLY]) is Decision.ALLOW
    assert evaluate(insecure, [allow_all], [TLS_ONLY]) is Decision.EXPLICIT_DENY
    assert evaluate(replace(secure, resource="arn:aws:s3:::b/x"), [allow_all]) is (
        Decision.IMPLICIT_DENY
    )


def test_evaluator_refuses_operators_it_does_not_implement() -> None:
    statement = {**LIST_USERS, "Condition": {"ForAnyValue:StringLike": {"s3:prefix": "u*"}}}

    with pytest.raises(UnsupportedPolicyError):
        evaluate(Request("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "u"}), [statement])


# --- each function's policy, from the synthesized template


@dataclass(frozen=True)
class Deployment:
    resolver: TemplateResolver
    functions: list[FunctionRole]

    def decide(self, function: FunctionRole, request: Request) -> Decision:
        request = replace(request, principal=function.role_arn)
        return evaluate(
            request, function.statements, resource_statements(self.resolver, request.resource)
        )

    def with_env(self, *names: str) -> list[FunctionRole]:
        return [f for f in self.functions if all(n in f.environment for n in names)]


def deployment(synth: Synthesized, names: Mapping[str, str] | None = None) -> Deployment:
    resolver = TemplateResolver(synth.template.to_json(), names)
    functions = [f for f in function_roles(resolver) if f.handler.startswith(APP_HANDLERS)]
    return Deployment(resolver, functions)


@pytest.fixture(params=["dev", "prod"])
def deployed(request: pytest.FixtureRequest) -> Deployment:
    return deployment(request.getfixturevalue(request.param))


def test_every_app_function_is_in_the_template(deployed: Deployment) -> None:
    handlers = {f.handler for f in deployed.functions}

    assert handlers == {
        "lambda_app.handler.handler",
        "lambda_app.migrate.handler",
        "lambda_app.sweep.handler",
    }


def test_functions_may_make_every_s3_call_the_code_makes(deployed: Deployment) -> None:
    s3_calls = {(c.service, c.operation) for c in lambda_app_calls() if c.service == "s3"}
    functions = deployed.with_env("S3_BUCKET")
    assert functions, "no function has S3_BUCKET"

    denied = [
        (function.logical_id, request, decision)
        for function in functions
        for call in sorted(s3_calls)
        for request in _sample_requests(call, function.environment["S3_BUCKET"])
        if (decision := deployed.decide(function, request)) is not Decision.ALLOW
    ]

    assert not denied


def _sample_requests(call: tuple[str, str], bucket: str) -> list[Request]:
    mapping = CALLS[call]
    assert mapping.sample, f"{call} needs a sample of how lambda_app calls it"
    return mapping.requests(mapping.sample(bucket))


@pytest.mark.parametrize(
    "request_",
    [
        Request("s3:GetObject", "elsewhere/file", TLS),
        Request("s3:PutObject", "users", TLS),
        Request("s3:DeleteObjectVersion", "elsewhere/file", TLS),
        Request("s3:ListBucket", "", {**TLS, "s3:prefix": ""}),
        Request("s3:ListBucket", "", TLS),
        Request("s3:ListBucketVersions", "", TLS),
        Request("s3:ListBucketVersions", "", {**TLS, "s3:prefix": "elsewhere/"}),
        Request("s3:PutBucketPolicy", "", TLS),
        Request("s3:GetObject", f"{_KEY}", {"aws:SecureTransport": "false"}),
    ],
    ids=lambda r: f"{r.action}:{r.resource}:{sorted(r.context.items())}",
)
def test_s3_access_stops_at_the_users_prefix_and_at_plain_http(
    deployed: Deployment, request_: Request
) -> None:
    for function in deployed.functions:
        bucket = _bucket_arn(function.environment.get("S3_BUCKET", _bucket_of(deployed)))
        resource = f"{bucket}/{request_.resource}" if request_.resource else bucket

        decision = deployed.decide(function, replace(request_, resource=resource))

        assert decision is not Decision.ALLOW, (function.logical_id, request_)


def test_functions_without_a_bucket_setting_have_no_s3_access(deployed: Deployment) -> None:
    bucket = _bucket_of(deployed)
    functions = [f for f in deployed.functions if "S3_BUCKET" not in f.environment]
    assert functions, "every function has S3_BUCKET"

    for function in functions:
        for call in sorted(k for k in CALLS if k[0] == "s3"):
            for request in _sample_requests(call, bucket):
                assert deployed.decide(function, request) is not Decision.ALLOW, (
                    function.logical_id,
                    request,
                )


def _bucket_of(deployed: Deployment) -> str:
    (bucket,) = [
        deployed.resolver.ref(logical_id)
        for logical_id, resource in deployed.resolver.resources.items()
        if resource["Type"] == "AWS::S3::Bucket"
    ]
    return bucket


def test_functions_may_read_the_secrets_their_environment_names(deployed: Deployment) -> None:
    named = [
        (function, value)
        for function in deployed.functions
        for name, value in function.environment.items()
        if name.endswith("_SECRET_ARN")
    ]
    assert named, "no function names a secret"

    for function, secret_arn in named:
        (request,) = CALLS[("secretsmanager", "GetSecretValue")].requests({"SecretId": secret_arn})
        assert deployed.decide(function, request) is Decision.ALLOW, function.logical_id


def test_functions_read_no_secret_their_environment_does_not_name(deployed: Deployment) -> None:
    for function in deployed.functions:
        named = {v for k, v in function.environment.items() if k.endswith("_SECRET_ARN")}
        for secret_arn in set(secret_arns(deployed.resolver)) - named:
            (request,) = CALLS[("secretsmanager", "GetSecretValue")].requests(
                {"SecretId": secret_arn}
            )
            assert deployed.decide(function, request) is not Decision.ALLOW, (
                function.logical_id,
                secret_arn,
            )


def test_iam_auth_functions_may_connect_as_their_database_user_only(deployed: Deployment) -> None:
    functions = [f for f in deployed.functions if f.environment.get("DB_IAM_AUTH") == "true"]
    if not functions:
        pytest.skip("no function of this template authenticates to the database with IAM")

    for function in functions:
        resource_id = _database_resource_id(deployed.resolver, function.raw_environment["DB_HOST"])
        connect = CALLS[("rds", "generate_db_auth_token")].requests
        assert "DB_USER" in function.environment, function.logical_id
        as_user = {"ResourceId": resource_id, "DBUsername": function.environment["DB_USER"]}
        as_master = {**as_user, "DBUsername": "postgres"}

        assert all(deployed.decide(function, r) is Decision.ALLOW for r in connect(as_user))
        assert all(deployed.decide(function, r) is not Decision.ALLOW for r in connect(as_master))


def _database_resource_id(resolver: TemplateResolver, db_host: Any) -> str:
    """The id in an rds-db ARN: the proxy's prx-... id, or the instance's DbiResourceId."""
    logical_id, attribute = db_host["Fn::GetAtt"]
    kind = resolver.resource_type(logical_id)
    if kind == "AWS::RDS::DBProxy" and attribute == "Endpoint":
        return resolver.get_att(logical_id, "DBProxyArn").split(":")[6]
    if kind == "AWS::RDS::DBInstance" and attribute == "Endpoint.Address":
        return resolver.get_att(logical_id, "DbiResourceId")
    raise AssertionError(f"DB_HOST names neither a proxy nor an instance: {db_host}")


# --- the routes under the deployed policy (moto S3 behind an IAM emulation)


@dataclass
class EmulatedIam:
    """Answers each S3 call of one client as AWS would under `decide`, before moto does."""

    decide: Callable[[Request], Decision]
    truth: Any  # an S3 client outside the emulation, to see what exists
    log: list[tuple[str, Request, Decision]] = field(default_factory=list)

    def install(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.s3", self._remember_params)
        client.meta.events.register("before-call.s3", self._authorize)

    @property
    def denied(self) -> list[tuple[str, Request, Decision]]:
        return [entry for entry in self.log if entry[2] is not Decision.ALLOW]

    def _remember_params(self, params: Params, context: dict[str, Any], **_: Any) -> None:
        context["emulated_iam_params"] = dict(params)

    def _authorize(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        params = context["emulated_iam_params"]
        for request in CALLS[("s3", model.name)].requests(params):
            decision = self.decide(request)
            self.log.append((model.name, request, decision))
            if decision is not Decision.ALLOW:
                return _forbidden(model.name)
        hides_missing_keys = model.name in {"HeadObject", "GetObject"} and not self._may_list(
            params
        )
        if hides_missing_keys and not self._exists(params["Bucket"], params["Key"]):
            return _forbidden(model.name)
        return None

    def _may_list(self, params: Params) -> bool:
        # S3 answers 404 for a missing key only to a caller that may s3:ListBucket; that
        # check is made in the HeadObject/GetObject request's context, with no s3:prefix.
        request = Request("s3:ListBucket", _bucket_arn(params["Bucket"]), TLS)
        return self.decide(request) is Decision.ALLOW

    def _exists(self, bucket: str, key: str) -> bool:
        listed = self.truth.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
        return any(item["Key"] == key for item in listed.get("Contents", []))


def _forbidden(operation: str) -> tuple[Any, dict[str, Any]]:
    from botocore.awsrequest import AWSResponse

    response = AWSResponse("https://s3.emulated/", 403, {}, None)
    parsed = {
        "Error": {"Code": "403" if operation == "HeadObject" else "AccessDenied"},
        "ResponseMetadata": {"HTTPStatusCode": 403, "HTTPHeaders": {}},
    }
    return response, parsed


@pytest.fixture
def deployed_api(prod: Synthesized) -> tuple[Deployment, FunctionRole]:
    """The prod stack with its bucket named as moto's test bucket, and the API function."""
    bucket_id = prod.logical_id(prod.stack.storage.bucket)
    deployed = deployment(prod, names={bucket_id: TEST_BUCKET})
    (api,) = [
        f
        for f in deployed.functions
        if f.raw_environment.get("S3_BUCKET") == {"Ref": bucket_id}
        and f.handler == "lambda_app.handler.handler"
    ]
    return deployed, api


@pytest.fixture
def iam(client: TestClient, s3: Any, deployed_api: tuple[Deployment, FunctionRole]) -> EmulatedIam:
    """The app's S3 client answers as the deployed API role would get; the bucket is versioned."""
    deployed, api = deployed_api
    s3.put_bucket_versioning(Bucket=TEST_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    emulated = EmulatedIam(decide=lambda r: deployed.decide(api, r), truth=s3)
    emulated.install(aws.get_s3_client())
    return emulated


def test_head_object_on_a_missing_key_is_403_under_the_deployed_policy(
    s3: Any, deployed_api: tuple[Deployment, FunctionRole]
) -> None:
    import boto3
    from botocore.exceptions import ClientError

    deployed, api = deployed_api
    role_client = boto3.client("s3", region_name=REGION)
    EmulatedIam(decide=lambda r: deployed.decide(api, r), truth=s3).install(role_client)
    s3.put_object(Bucket=TEST_BUCKET, Key="users/present/avatar", Body=b"x")

    role_client.head_object(Bucket=TEST_BUCKET, Key="users/present/avatar")
    with pytest.raises(ClientError) as missing:
        role_client.head_object(Bucket=TEST_BUCKET, Key="users/absent/avatar")

    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_missing_avatar_is_404_under_the_deployed_policy(
    client: TestClient, make_user: Any, iam: EmulatedIam
) -> None:
    user = make_user()

    read = assert_problem(client.get(f"/users/{user['id']}/avatar"), 404)
    delete = assert_problem(client.delete(f"/users/{user['id']}/avatar"), 404)

    assert read["title"] == delete["title"] == "Avatar not found"
    assert iam.log
    assert not iam.denied


def test_avatar_upload_read_and_delete_are_allowed_under_the_deployed_policy(
    client: TestClient,
    make_user: Any,
    s3: Any,
    iam: EmulatedIam,
    deployed_api: tuple[Deployment, FunctionRole],
) -> None:
    deployed, api = deployed_api
    user = make_user()

    upload = client.post(f"/users/{user['id']}/avatar", json={"content_type": "image/png"})
    s3.put_object(Bucket=TEST_BUCKET, Key=upload.json()["key"], Body=b"png")  # the browser's POST
    read = client.get(f"/users/{user['id']}/avatar")
    delete = client.delete(f"/users/{user['id']}/avatar")

    assert (upload.status_code, read.status_code, delete.status_code) == (201, 200, 204)
    key = upload.json()["key"]
    # A presigned POST or GET is a PutObject or GetObject by the role that signed it.
    for call, params in [
        (("s3", "PutObject"), {"Bucket": TEST_BUCKET, "Key": key}),
        (("s3", "GetObject"), {"Bucket": TEST_BUCKET, "Key": key}),
    ]:
        for request in CALLS[call].requests(params):
            assert deployed.decide(api, request) is Decision.ALLOW
    assert f"/{key}" in read.json()["url"]
    assert not iam.denied
    assert_problem(client.get(f"/users/{user['id']}/avatar"), 404)


def test_deleting_a_user_deletes_every_version_under_the_deployed_policy(
    client: TestClient, make_user: Any, s3: Any, iam: EmulatedIam
) -> None:
    user, other = make_user(), make_user()
    prefix, other_prefix = f"users/{user['id']}/", f"users/{other['id']}/"
    for body in (b"first", b"second"):
        s3.put_object(Bucket=TEST_BUCKET, Key=f"{prefix}avatar", Body=body)
    s3.put_object(Bucket=TEST_BUCKET, Key=f"{prefix}documents/cv.pdf", Body=b"cv")
    s3.delete_object(Bucket=TEST_BUCKET, Key=f"{prefix}documents/cv.pdf")  # a delete marker
    s3.put_object(Bucket=TEST_BUCKET, Key=f"{other_prefix}avatar", Body=b"other")

    assert client.delete(f"/users/{user['id']}").status_code == 204

    left = s3.list_object_versions(Bucket=TEST_BUCKET, Prefix=prefix)
    assert left.get("Versions", []) == left.get("DeleteMarkers", []) == []
    others = s3.list_object_versions(Bucket=TEST_BUCKET, Prefix=other_prefix)
    assert [v["Key"] for v in others["Versions"]] == [f"{other_prefix}avatar"]
    assert not iam.denied
    versions_deleted = [r for _, r, _ in iam.log if r.action == "s3:DeleteObjectVersion"]
    assert len(versions_deleted) == 4  # two avatars, the document and its delete marker


# --- Cognito: the admin actions provisioning calls, on the stack's pool only


def _cognito_calls() -> set[tuple[str, str]]:
    return {(c.service, c.operation) for c in lambda_app_calls() if c.service == "cognito-idp"}


def _pool_requests(call: tuple[str, str], pool_id: str) -> list[Request]:
    return CALLS[call].requests({"UserPoolId": pool_id})


def test_the_scan_finds_the_cognito_calls_of_provisioning_and_reconcile() -> None:
    assert {
        ("cognito-idp", "AdminCreateUser"),
        ("cognito-idp", "AdminGetUser"),
        ("cognito-idp", "AdminUpdateUserAttributes"),
        ("cognito-idp", "AdminUserGlobalSignOut"),
        ("cognito-idp", "AdminDeleteUser"),
    } | RECONCILE_ONLY <= _cognito_calls()


def test_functions_may_make_the_cognito_calls_they_need_on_their_pool(
    deployed: Deployment,
) -> None:
    functions = deployed.with_env("COGNITO_USER_POOL_ID")
    assert {f.handler for f in functions} == {
        "lambda_app.handler.handler",
        "lambda_app.sweep.handler",
    }

    for function in functions:
        needed = _cognito_calls()
        if function.handler == "lambda_app.handler.handler":
            needed -= RECONCILE_ONLY
        pool_id = function.environment["COGNITO_USER_POOL_ID"]
        denied = [
            request
            for call in sorted(needed)
            for request in _pool_requests(call, pool_id)
            if deployed.decide(function, request) is not Decision.ALLOW
        ]
        assert not denied, (function.logical_id, denied)


def test_the_api_may_not_list_or_disable_identities(deployed: Deployment) -> None:
    (api,) = [f for f in deployed.functions if f.handler == "lambda_app.handler.handler"]
    pool_id = api.environment["COGNITO_USER_POOL_ID"]

    for call in sorted(RECONCILE_ONLY):
        for request in _pool_requests(call, pool_id):
            assert deployed.decide(api, request) is not Decision.ALLOW, request


@pytest.mark.parametrize(
    "action",
    [
        "cognito-idp:AdminSetUserPassword",
        "cognito-idp:AdminAddUserToGroup",
        "cognito-idp:AdminInitiateAuth",
        "cognito-idp:AdminEnableUser",
        "cognito-idp:UpdateUserPool",
        "cognito-idp:DeleteUserPool",
        "cognito-idp:CreateUserPoolClient",
    ],
)
def test_no_function_may_make_other_cognito_calls_or_reach_another_pool(
    deployed: Deployment, action: str
) -> None:
    for function in deployed.functions:
        pool_id = function.environment.get("COGNITO_USER_POOL_ID", "UserPool")
        other_pool = user_pool_arn("us-east-1_another")
        assert deployed.decide(function, Request(action, user_pool_arn(pool_id))) is not (
            Decision.ALLOW
        ), (function.logical_id, action)
        for call in sorted(_cognito_calls()):
            (request,) = _pool_requests(call, "us-east-1_another")
            assert request.resource == other_pool
            assert deployed.decide(function, request) is not Decision.ALLOW, function.logical_id


def test_the_migration_function_has_no_cognito_access(deployed: Deployment) -> None:
    (migration,) = [f for f in deployed.functions if f.handler == "lambda_app.migrate.handler"]
    (api,) = [f for f in deployed.functions if f.handler == "lambda_app.handler.handler"]
    pool_id = api.environment["COGNITO_USER_POOL_ID"]

    for call in sorted(_cognito_calls()):
        for request in _pool_requests(call, pool_id):
            assert deployed.decide(migration, request) is not Decision.ALLOW
