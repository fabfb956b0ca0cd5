"""A local container credentials endpoint, as Lambda gives SnapStart functions their role's keys.

Each GET answers new temporary credentials (`ROLE-KEY-1`, `ROLE-KEY-2`, ...), so a test can
tell which fetch the credentials it sees came from. Requests must carry the authorization
token, as AWS_CONTAINER_AUTHORIZATION_TOKEN makes the SDKs send it.
"""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

AUTHORIZATION = "test-container-authorization"
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@dataclass
class CredentialsEndpoint:
    """Where the endpoint listens, and the access keys it handed out, in order."""

    url: str
    served: list[str] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        """The variables that point the SDKs (and the app) at this endpoint."""
        return {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.url,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": AUTHORIZATION,
        }


@contextmanager
def credentials_endpoint() -> Iterator[CredentialsEndpoint]:
    """Serve fresh credentials on a loopback port until the block ends."""
    lock = threading.Lock()
    endpoint = CredentialsEndpoint(url="")

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Authorization") != AUTHORIZATION:
                self.send_error(401)
                return
            with lock:
                key = f"ROLE-KEY-{len(endpoint.served) + 1}"
                endpoint.served.append(key)
            expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
            body = json.dumps(
                {
                    "AccessKeyId": key,
                    "SecretAccessKey": f"secret-of-{key}",
                    "Token": f"token-of-{key}",
                    "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/credentials"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
