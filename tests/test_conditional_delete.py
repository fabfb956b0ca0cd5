"""Avatar deletes stay conditional (If-Match) whatever botocore the Lambda runtime ships.

The runtime's SDK is not pinned (requirements.txt leaves boto3 to the runtime). A
botocore whose S3 model lacks IfMatch on DeleteObject refuses it before sending; the
fallback sends the header itself. Here a current client's model is cut back to that older
shape, and moto's S3 answers the conditional delete as S3 does (412 on another ETag).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from moto import mock_aws

from lambda_app.external_services.conditional_delete import IF_MATCH, accept_if_match_on_delete

BUCKET = "conditional-delete"
KEY = "users/1/avatar"


@pytest.fixture
def old_client() -> Iterator[Any]:
    """An S3 client whose DeleteObject model predates IfMatch, on a bucket with one object."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key=KEY, Body=b"png")
        shape = client.meta.service_model.operation_model("DeleteObject").input_shape
        del shape.members[IF_MATCH]
        yield client


def _etag(client: Any) -> str:
    return str(client.head_object(Bucket=BUCKET, Key=KEY)["ETag"])


def test_an_old_model_refuses_if_match_before_sending(old_client: Any) -> None:
    with pytest.raises(ParamValidationError, match="IfMatch"):
        old_client.delete_object(Bucket=BUCKET, Key=KEY, IfMatch=_etag(old_client))


def test_the_fallback_sends_if_match_so_s3_checks_it(old_client: Any) -> None:
    assert accept_if_match_on_delete(old_client) is True
    with pytest.raises(ClientError) as refused:
        old_client.delete_object(Bucket=BUCKET, Key=KEY, IfMatch='"another-etag"')
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert old_client.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1
    old_client.delete_object(Bucket=BUCKET, Key=KEY, IfMatch=_etag(old_client))
    assert old_client.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_a_current_model_needs_no_fallback() -> None:
    client = boto3.client("s3", region_name="us-east-1")
    assert accept_if_match_on_delete(client) is False
