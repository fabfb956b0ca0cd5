"""Storage: the private S3 bucket for user files (avatars), uploaded by presigned POST."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.settings import Settings

# Every object the service writes lives under this prefix (users/{id}/...).
USER_FILES_PREFIX = "users/"


class Storage(Construct):
    """Bucket with public access blocked, TLS only, encrypted, CORS for browser uploads."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)

        self.bucket = s3.Bucket(
            self,
            "UserFiles",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=settings.is_prod,
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST],
                    allowed_origins=list(settings.allowed_origins),
                    allowed_headers=["*"],
                    exposed_headers=["ETag", "Location"],
                    max_age=3000,
                )
            ],
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-multipart-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                s3.LifecycleRule(
                    id="expire-replaced-versions",
                    noncurrent_version_expiration=Duration.days(30),
                ),
            ],
            removal_policy=settings.removal_policy,
            # dev buckets are emptied on destroy; prod keeps every object.
            auto_delete_objects=not settings.is_prod,
        )
