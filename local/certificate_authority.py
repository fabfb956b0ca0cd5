"""A throw-away certificate authority and the server certificates it issues (tests, bench).

Local servers present its certificates where RDS presents one of a private RDS CA, so that
clients verify them the way they verify RDS: against a trust store, hostname included.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lambda_app.tls import AMAZON_ROOT_CAS

LOOPBACK = "127.0.0.1"
# The certificates outlive any run; the CA's validity brackets the server's.
VALIDITY = datetime.timedelta(days=30)


@dataclass(frozen=True)
class CertificateAuthority:
    """A throw-away CA: its certificate (PEM) and the key that signs the certificates it issues."""

    name: str
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, name: str) -> CertificateAuthority:
        """A new self-signed CA named `name`."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(name=name, certificate=certificate, key=key)

    @property
    def pem(self) -> bytes:
        """The CA's certificate, as a trust store holds it."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue_server_certificate(self, host: str = LOOPBACK) -> tuple[bytes, bytes]:
        """A certificate for `host` (an IP address or a name) and its key, both PEM."""
        key = ec.generate_private_key(ec.SECP256R1())
        try:
            alternative: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            alternative = x509.DNSName(host)
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY - datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([alternative]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return certificate.public_bytes(serialization.Encoding.PEM), key_pem

    def write_trust_store(self, path: Path) -> Path:
        """Write Amazon's root CAs with this CA appended: a store trusting both.

        Pointed at by SSL_CERT_FILE, it replaces Amazon's roots in the database's TLS context
        (`lambda_app/tls.py`), so that the app trusts the local servers and still parses a
        store the size of the one it trusts on AWS.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(AMAZON_ROOT_CAS.read_bytes() + self.pem)
        return path

    def write_server_files(self, directory: Path, host: str = LOOPBACK) -> tuple[Path, Path]:
        """Write a certificate for `host` and its key into `directory`; return both paths."""
        directory.mkdir(parents=True, exist_ok=True)
        certificate, key = self.issue_server_certificate(host)
        paths = (directory / "server.crt", directory / "server.key")
        for path, content in zip(paths, (certificate, key), strict=True):
            path.unlink(missing_ok=True)
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
                handle.write(content)
        return paths
