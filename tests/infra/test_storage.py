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
