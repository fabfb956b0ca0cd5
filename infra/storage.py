"""Storage: the private S3 bucket for user files (avatars), uploaded by presigned POST."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.settings import Settings
from lambda_app.external_services.aws import USER_FILES_PREFIX

OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion")
LIST_ACTIONS = ("s3:ListBucket", "s3:ListBucketVersions")


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
                # Once the versions behind a delete marker have expired, the marker stands
                # alone and would be kept (and listed) forever.
                s3.LifecycleRule(
                    id="remove-expired-delete-markers",
                    expired_object_delete_marker=True,
                ),
            ],
            removal_policy=settings.removal_policy,
            # dev buckets are emptied on destroy; prod keeps every object.
            auto_delete_objects=not settings.is_prod,
        )

    def user_files_statements(self) -> list[iam.PolicyStatement]:
        """What the functions do with the bucket; the S3 endpoint allows no more (network)."""
        bucket = self.bucket
        return [
            iam.PolicyStatement(
                sid="UserFilesObjects",
                principals=[iam.AnyPrincipal()],
                actions=list(OBJECT_ACTIONS),
                resources=[bucket.arn_for_objects(f"{USER_FILES_PREFIX}*")],
            ),
            iam.PolicyStatement(
                sid="UserFilesList",
                principals=[iam.AnyPrincipal()],
                actions=list(LIST_ACTIONS),
                resources=[bucket.bucket_arn],
            ),
        ]

    def grant_user_files(self, function: lambda_.IFunction) -> None:
        """Objects (every version) under users/ only; listing only of that prefix.

        Deleting a user deletes each version by id (s3:DeleteObjectVersion) after listing
        them (s3:ListBucketVersions). Both listings need an ``s3:prefix`` under users/,
        so the app checks an object's existence by listing its key, never by HeadObject.
        """
        bucket = self.bucket
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="UserFilesObjects",
                actions=list(OBJECT_ACTIONS),
                resources=[bucket.arn_for_objects(f"{USER_FILES_PREFIX}*")],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="UserFilesList",
                actions=list(LIST_ACTIONS),
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{USER_FILES_PREFIX}*"]}},
            )
        )
