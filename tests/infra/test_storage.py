"""Storage: a private, TLS-only, encrypted bucket with CORS for presigned POST uploads."""

from __future__ import annotations

from aws_cdk.assertions import Match

from tests.infra.conftest import TEST_ORIGINS, Synthesized


def test_bucket_blocks_public_access_and_is_encrypted(dev: Synthesized) -> None:
    dev.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
        },
    )


def test_bucket_policy_denies_requests_without_tls(dev: Synthesized) -> None:
    dev.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_cors_allows_post_from_the_configured_origins_only(dev: Synthesized) -> None:
    dev.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "CorsConfiguration": {
                "CorsRules": [
                    Match.object_like(
                        {"AllowedMethods": ["POST"], "AllowedOrigins": TEST_ORIGINS.split(",")}
                    )
                ]
            }
        },
    )


def test_lifecycle_aborts_incomplete_multipart_uploads(dev: Synthesized) -> None:
    dev.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Status": "Enabled",
                                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_prod_bucket_is_retained_and_versioned(prod: Synthesized) -> None:
    prod.template.has_resource(
        "AWS::S3::Bucket",
        {
            "DeletionPolicy": "Retain",
            "Properties": Match.object_like({"VersioningConfiguration": {"Status": "Enabled"}}),
        },
    )
    prod.template.resource_count_is("Custom::S3AutoDeleteObjects", 0)


def test_prod_removes_delete_markers_whose_versions_expired(prod: Synthesized) -> None:
    (bucket,) = prod.resources("AWS::S3::Bucket").values()
    rules = {rule["Id"]: rule for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["remove-expired-delete-markers"] == {
        "Id": "remove-expired-delete-markers",
        "ExpiredObjectDeleteMarker": True,
        "Status": "Enabled",
    }
    assert rules["expire-replaced-versions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 30
    }


def test_the_s3_gateway_endpoint_reaches_only_the_user_files_bucket(dev: Synthesized) -> None:
    (endpoint,) = [
        resource["Properties"]
        for resource in dev.resources("AWS::EC2::VPCEndpoint").values()
        if resource["Properties"].get("VpcEndpointType") == "Gateway"
    ]
    bucket = dev.logical_id(dev.stack.storage.bucket)
    statements = endpoint["PolicyDocument"]["Statement"]
    resources = [str(statement["Resource"]) for statement in statements]
    assert len(statements) == 2
    assert all(bucket in resource for resource in resources)
    assert all(statement["Effect"] == "Allow" for statement in statements)
    actions = {action for statement in statements for action in statement["Action"]}
    assert actions == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:ListBucket",
        "s3:ListBucketVersions",
    }
