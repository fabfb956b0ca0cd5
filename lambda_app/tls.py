"""The TLS context of database connections: Amazon's root CAs and the region's RDS CAs.

RDS Proxy's certificate comes from AWS Certificate Manager and chains to Amazon Trust
Services' roots; an RDS instance's certificate is issued by a private RDS CA of its region
(`rds-ca-rsa2048-g1` and its siblings), which no system store is documented to hold. Both
sets ship with the code (`certificates/`), and the context trusts them and nothing else:
no other CA can vouch for the database, and parsing the system store's some 145 CAs cost
every cold start 20 to 35 ms. One context serves both, built once per process (a SnapStart
snapshot keeps it). With OpenSSL's `SSL_CERT_FILE` or `SSL_CERT_DIR` set, OpenSSL's default
store as they change it is trusted instead of Amazon's roots: for a database behind another
CA (a local one, say).

Of the RDS bundle, only the CAs of the function's region are loaded (AWS_REGION): the
database is in the stack's region, and parsing the other regions' 84 certificates cost
every cold start about 12 ms.
"""

from __future__ import annotations

import base64
import os
import ssl
from functools import lru_cache
from pathlib import Path

from lambda_app.config import get_settings

CERTIFICATES = Path(__file__).resolve().parent / "certificates"
RDS_CA_BUNDLE = CERTIFICATES / "rds-ca-bundle.pem"
AMAZON_ROOT_CAS = CERTIFICATES / "amazon-root-cas.pem"
# OpenSSL's variables naming a store of trusted CAs in place of its default one.
STORE_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")
PEM_BEGIN = "-----BEGIN CERTIFICATE-----\n"
PEM_END = "-----END CERTIFICATE-----\n"


@lru_cache(maxsize=1)
def database_tls_context() -> ssl.SSLContext:
    """Return the context that verifies database servers: Amazon's roots plus RDS's CAs.

    With `SSL_CERT_FILE` or `SSL_CERT_DIR` set, OpenSSL's default store (as they change it)
    replaces Amazon's roots. Hostnames are checked and TLS 1.2 is the least accepted.
    """
    regional = rds_certificates(get_settings().aws_region)
    if any(os.environ.get(variable) for variable in STORE_VARIABLES):
        context = ssl.create_default_context()
        context.load_verify_locations(cadata=regional)
        return context
    return ssl.create_default_context(cadata=AMAZON_ROOT_CAS.read_text() + regional)


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
