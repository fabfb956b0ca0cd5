"""An S3 endpoint on loopback: moto's server, in this process (local/user_pool.py adds Cognito)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from local.embedded_postgres import free_port, wait_until_accepting

# moto accepts any credentials; these keep boto3 from looking for real ones.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local-secret",
}


@dataclass
class EmbeddedS3:
    """A moto S3 server on 127.0.0.1 and the bucket the app stores files in."""

    bucket: str
    region: str = "us-east-1"
    port: int = 0

    def __post_init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = self.port or free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint_url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> EmbeddedS3:
        """Start the server and create the bucket."""
        import boto3

        # werkzeug's request lines would print presigned URLs, signatures included.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        wait_until_accepting(self.port)
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        if self.region == "us-east-1":
            client.create_bucket(Bucket=self.bucket)
        else:
            client.create_bucket(
                Bucket=self.bucket,
                CreateBucketConfiguration={"LocationConstraint": self.region},  # type: ignore[typeddict-item]
            )
        return self

    def stop(self) -> None:
        """Stop the server; its objects are gone."""
        self._server.stop()
