"""The TLS context of database connections: the system store and the RDS CAs, once per process.

An RDS instance's certificate is issued by a private RDS CA (`rds-ca-rsa2048-g1` and its
siblings), which no system store is documented to hold, so the bundle in `certificates/`
ships with the code. RDS Proxy's certificate chains to Amazon's public roots, which the
system store holds. One context serves both: loading the CAs costs milliseconds, which a
SnapStart snapshot takes out of the cold start and every later connection reuses.
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from pathlib import Path

RDS_CA_BUNDLE = Path(__file__).resolve().parent / "certificates" / "rds-ca-bundle.pem"


@lru_cache(maxsize=1)
def database_tls_context() -> ssl.SSLContext:
    """Return the context that verifies database servers: the system store plus the RDS CAs.

    The system store is OpenSSL's default (`SSL_CERT_FILE` and `SSL_CERT_DIR` replace it);
    hostnames are checked and TLS 1.2 is the least accepted.
    """
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=RDS_CA_BUNDLE)
    return context
