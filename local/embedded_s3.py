"""An S3 endpoint on loopback: moto's server, in this process (local/user_pool.py adds Cognito)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

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
    # moto's models are not thread-safe: a listing that meets a concurrent delete can answer
    # 500. Many clients at once (`make load`) have their requests run one at a time.
    one_request_at_a_time: bool = False

    def __post_init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = self.port or free_port()
        server = _OneRequestAtATimeServer if self.one_request_at_a_time else ThreadedMotoServer
        self._server = server(ip_address="127.0.0.1", port=self.port, verbose=False)

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


class _OneRequestAtATimeServer:
    """moto's server in a thread, like ThreadedMotoServer, running one request at a time."""

    def __init__(self, *, ip_address: str, port: int, verbose: bool) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        del verbose  # werkzeug's request lines are silenced in `start`
        app = _one_at_a_time(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            ip_address, port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.shutdown()
        self._thread.join()


def _one_at_a_time(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:  # the whole answer is built before the next request starts
            return list(app(environ, start_response))

    return serve
