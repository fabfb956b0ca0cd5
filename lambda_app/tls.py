"""The TLS context of database connections: the system store and the region's RDS CAs.

An RDS instance's certificate is issued by a private RDS CA of its region (`rds-ca-rsa2048-g1`
and its siblings), which no system store is documented to hold, so the bundle in
`certificates/` ships with the code. RDS Proxy's certificate chains to Amazon's public roots,
which the system store holds. One context serves both, built once per process (a SnapStart
snapshot keeps it).

Of the bundle, only the CAs of the function's region are loaded (AWS_REGION): the database
is in the stack's region, and parsing the other regions' 84 certificates cost every cold
start about 12 ms.
"""

from __future__ import annotations

import base64
import ssl
from functools import lru_cache
from pathlib import Path

from lambda_app.config import get_settings

RDS_CA_BUNDLE = Path(__file__).resolve().parent / "certificates" / "rds-ca-bundle.pem"
PEM_BEGIN = "-----BEGIN CERTIFICATE-----\n"
PEM_END = "-----END CERTIFICATE-----\n"


@lru_cache(maxsize=1)
def database_tls_context() -> ssl.SSLContext:
    """Return the context that verifies database servers: the system store plus RDS's CAs.

    The system store is OpenSSL's default (`SSL_CERT_FILE` and `SSL_CERT_DIR` replace it);
    hostnames are checked and TLS 1.2 is the least accepted.
    """
    context = ssl.create_default_context()
    context.load_verify_locations(cadata=rds_certificates(get_settings().aws_region))
    return context


def rds_certificates(region: str) -> str:
    """The bundle's certificates of `region` (PEM), or the whole bundle if it has none.

    RDS names each CA after its region: "Amazon RDS us-east-1 Root CA RSA2048 G1".
    """
    bundle = RDS_CA_BUNDLE.read_text()
    name = f"Amazon RDS {region} ".encode()
    regional = [
        f"{PEM_BEGIN}{body}{PEM_END}"
        for block in bundle.split(PEM_END)
        if (body := block.partition(PEM_BEGIN)[2]) and name in base64.b64decode(body)
    ]
    return "".join(regional) or bundle
