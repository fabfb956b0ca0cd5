"""The deployed configuration for the cold start: an IAM token login over TLS, as on AWS.

On AWS the API logs in to RDS Proxy with an IAM auth token, over TLS. Here a TLS relay
(`local.tls_proxy`) with a test CA's certificate stands before the embedded server, where
the app's role is trusted from loopback (the token is signed with the bench's fake keys, then
unchecked), and the child trusts the test CA beside Amazon's roots (SSL_CERT_FILE, which
takes their place; the store is the size of the one trusted on AWS): the app's own code path
runs unchanged, from the token signer to `database_tls_context`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bench.cores import run_on
from bench.database import DATA_DIR
from lambda_app.config import get_settings
from local import tls_proxy
from local.certificate_authority import CertificateAuthority
from local.embedded_postgres import EmbeddedPostgres

TLS_FILES = DATA_DIR.parent / "bench-tls"


@contextmanager
def deployed_database(
    server: EmbeddedPostgres, database: str, relay_cores: frozenset[int] | None
) -> Iterator[dict[str, str]]:
    """Serve `database` the deployed way; yield the variables that point the app at it."""
    role = get_settings().app_db_role
    tls_proxy.trust_from_loopback(server, role)
    authority = CertificateAuthority.create("users-service bench CA")
    certificate, key = authority.write_server_files(TLS_FILES)
    trust_store = authority.write_trust_store(TLS_FILES / "trust-store.pem")
    with tls_proxy.running(tls_proxy.LOOPBACK, server.port, certificate, key) as relay:
        if relay_cores is not None:
            run_on(relay_cores, relay.pid)
        yield {
            "DB_IAM_AUTH": "true",
            "DB_SSL": "true",
            "DB_HOST": relay.host,
            "DB_PORT": str(relay.port),
            "DB_NAME": database,
            "DB_USER": role,
            "SSL_CERT_FILE": str(trust_store),
        }
