"""Database TLS: Amazon's roots and the RDS CA bundle ship with the code; connections trust
Amazon's roots and their region's RDS CAs, and nothing else."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from infra.bundling import copy_app
from lambda_app.migrate import handler as migrate
from lambda_app.tls import AMAZON_ROOT_CAS, RDS_CA_BUNDLE, STORE_VARIABLES, database_tls_context
from local import tls_proxy
from local.certificate_authority import CertificateAuthority
from tests.conftest import settings_env
from tests.tls_database import TlsDatabase

# AWS's current RDS certificate authorities and the name each gives its regional roots.
CURRENT_RDS_CAS = {
    "rds-ca-rsa2048-g1": "Root CA RSA2048 G1",
    "rds-ca-rsa4096-g1": "Root CA RSA4096 G1",
    "rds-ca-ecc384-g1": "Root CA ECC384 G1",
}
# Amazon Trust Services' roots, to which ACM's certificates (RDS Proxy's) chain: each one's
# SHA-256 fingerprint, as Amazon Trust Services publishes it.
AMAZON_ROOTS = {
    "Amazon Root CA 1": "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
    "Amazon Root CA 2": "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
    "Amazon Root CA 3": "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
    "Amazon Root CA 4": "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
}
# The regions lambda_app/certificates/README.md lists.
BUNDLE_REGIONS = (
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-central-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "me-central-1",
    "me-south-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)


def bundle_certificates(path: Path = RDS_CA_BUNDLE) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def common_name(certificate: x509.Certificate) -> str:
    return str(certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def trusted_names(context: ssl.SSLContext) -> set[str]:
    """The common names of the CAs `context` trusts."""
    return {
        str(dict(entry[0] for entry in ca["subject"]).get("commonName"))
        for ca in context.get_ca_certs()
    }


@pytest.fixture
def fresh_context(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Build the process's TLS context again from the environment (no store named in it)."""
    for variable in STORE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    database_tls_context.cache_clear()
    yield
    database_tls_context.cache_clear()


def test_the_bundle_holds_each_current_rds_ca_for_every_listed_region() -> None:
    names = {common_name(certificate) for certificate in bundle_certificates()}

    for region in BUNDLE_REGIONS:
        for ca, suffix in CURRENT_RDS_CAS.items():
            assert f"Amazon RDS {region} {suffix}" in names, (ca, region)
    assert "Amazon RDS us-east-1 Root CA RSA2048 G1" in names  # rds-ca-rsa2048-g1


def test_the_bundle_holds_only_valid_self_signed_rds_roots() -> None:
    now = datetime.datetime.now(datetime.UTC)

    for certificate in bundle_certificates():
        assert certificate.issuer == certificate.subject
        assert certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc
        assert common_name(certificate).startswith("Amazon RDS ")
        assert common_name(certificate).endswith(tuple(CURRENT_RDS_CAS.values()))


def test_amazons_roots_are_the_four_of_amazon_trust_services() -> None:
    roots = x509.load_pem_x509_certificates(AMAZON_ROOT_CAS.read_bytes())

    fingerprints = {common_name(root): root.fingerprint(hashes.SHA256()).hex() for root in roots}
    assert fingerprints == AMAZON_ROOTS
    for root in roots:
        assert root.issuer == root.subject
        assert root.not_valid_after_utc.year >= 2038


def test_the_certificates_go_into_the_lambda_package(tmp_path: Path) -> None:
    copy_app(tmp_path)

    for shipped in (RDS_CA_BUNDLE, AMAZON_ROOT_CAS):
        packaged = tmp_path / shipped.relative_to(shipped.parents[2])
        assert packaged.read_bytes() == shipped.read_bytes()


def test_database_connections_trust_amazons_roots_and_their_regions_rds_cas_only(
    fresh_context: None,
) -> None:
    trusted = trusted_names(database_tls_context())

    regional = {f"Amazon RDS us-east-1 {suffix}" for suffix in CURRENT_RDS_CAS.values()}
    assert trusted == set(AMAZON_ROOTS) | regional
    assert database_tls_context().verify_mode == ssl.CERT_REQUIRED
    assert database_tls_context().check_hostname
    assert database_tls_context().minimum_version >= ssl.TLSVersion.TLSv1_2


def test_a_region_the_bundle_does_not_list_trusts_the_whole_bundle(fresh_context: None) -> None:
    with settings_env(AWS_REGION="xx-nowhere-1"):
        trusted = database_tls_context().get_ca_certs()
        database_tls_context.cache_clear()

    assert len(trusted) == len(AMAZON_ROOTS) + len(bundle_certificates())


def test_a_store_named_by_ssl_cert_file_replaces_amazons_roots(
    fresh_context: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    authority = CertificateAuthority.create("users-service store test CA")
    store = tmp_path / "store.pem"
    store.write_bytes(authority.pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(store))

    trusted = trusted_names(database_tls_context())

    regional = {f"Amazon RDS us-east-1 {suffix}" for suffix in CURRENT_RDS_CAS.values()}
    assert trusted == {"users-service store test CA"} | regional


def test_with_ssl_cert_dir_set_openssls_default_store_replaces_amazons_roots(
    fresh_context: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))

    # OpenSSL's store as the variable changes it: its default file, and this directory.
    regional = {f"Amazon RDS us-east-1 {suffix}" for suffix in CURRENT_RDS_CAS.values()}
    openssl_default = trusted_names(ssl.create_default_context())
    assert trusted_names(database_tls_context()) == openssl_default | regional


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
) -> x509.Certificate:
    """A certificate of `subject`'s `key` signed by `issuer`: a CA's, or localhost's."""
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
        ).add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def test_a_chain_sent_through_a_cross_signed_root_verifies_against_that_root_alone(
    tmp_path: Path,
) -> None:
    """ACM's roots are cross-signed by Starfield's: trusting Amazon Root CA 1 alone must verify
    a chain whose server sends the cross-signed copy. Modelled with a local PKI of that shape."""
    root_key, other_key, issuing_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()) for _ in range(4)
    )
    root = _certificate("Test Root CA 1", root_key, "Test Root CA 1", root_key, ca=True)
    cross_signed_root = _certificate(
        "Test Root CA 1", root_key, "Test Services Root G2", other_key, ca=True
    )
    issuing = _certificate("Test Server CA", issuing_key, "Test Root CA 1", root_key, ca=True)
    server = _certificate("localhost", server_key, "Test Server CA", issuing_key, ca=False)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(
        b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (server, issuing))
        + cross_signed_root.public_bytes(serialization.Encoding.PEM)
    )
    key = tmp_path / "key.pem"
    key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(chain, key)
    client_context = ssl.create_default_context(
        cadata=root.public_bytes(serialization.Encoding.PEM).decode()
    )
    client_end, server_end = socket.socketpair()
    accepted = threading.Thread(
        target=lambda: server_context.wrap_socket(server_end, server_side=True).close()
    )
    accepted.start()
    try:
        with client_context.wrap_socket(client_end, server_hostname="localhost") as tls:
            subject = dict(entry[0] for entry in tls.getpeercert()["subject"])
    finally:
        accepted.join(timeout=10)

    assert subject["commonName"] == "localhost"


def test_the_context_is_built_once_per_process(fresh_context: None) -> None:
    assert database_tls_context() is database_tls_context()


@pytest.fixture
def migration_settings(tls_database: TlsDatabase) -> Iterator[Any]:
    """The migration's settings on AWS for a server at (host, port): a secret in moto, TLS on."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")

        def settings(host: str, port: int) -> dict[str, str]:
            secret = {
                "host": host,
                "port": port,
                "username": "postgres",
                "password": "postgres",
                "dbname": tls_database.database,
            }
            name = f"users-tls-migration-{host}-{port}"
            arn = client.create_secret(Name=name, SecretString=json.dumps(secret))["ARN"]
            return {"DB_SECRET_ARN": arn, "DB_HOST": host, "DB_SSL": "true"}

        yield settings


def run_migration(settings: dict[str, str], monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    """`current` as the migration function runs it, with `env` (SSL_CERT_FILE) set."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    database_tls_context.cache_clear()
    try:
        with settings_env(DATABASE_URL=None, **settings):
            return migrate({"action": "current"})
    finally:
        database_tls_context.cache_clear()


def test_the_migration_connects_to_a_server_whose_ca_it_trusts(
    tls_database: TlsDatabase, migration_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = migration_settings(tls_database.host, tls_database.port)

    result = run_migration(settings, monkeypatch, SSL_CERT_FILE=str(tls_database.trust_store))

    assert result["after"] is not None


def relay_of(authority: CertificateAuthority, tls_database: TlsDatabase, directory: Path) -> Any:
    """A TLS relay before the test database, with a certificate of `authority`."""
    certificate, key = authority.write_server_files(directory)
    server_port = make_url(tls_database.superuser_url).port
    assert server_port is not None
    return tls_proxy.running(tls_proxy.LOOPBACK, server_port, certificate, key)


def migrate_behind_a_bundled_ca(
    name: str,
    tls_database: TlsDatabase,
    migration_settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Any:
    """Migrate through a relay whose CA, named `name`, is in the RDS bundle as RDS's are."""
    authority = CertificateAuthority.create(name)
    bundle = tmp_path / "rds-ca-bundle.pem"
    bundle.write_bytes(RDS_CA_BUNDLE.read_bytes() + authority.pem)
    monkeypatch.setattr("lambda_app.tls.RDS_CA_BUNDLE", bundle)
    with relay_of(authority, tls_database, tmp_path) as relay:
        return run_migration(migration_settings(relay.host, relay.port), monkeypatch)


def test_the_migration_verifies_the_server_against_its_regions_cas_in_the_bundle(
    tls_database: TlsDatabase,
    migration_settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Named as RDS names its CAs, so the app takes it for one of its region's.
    name = "Amazon RDS us-east-1 Root CA RSA2048 G1 (test)"

    result = migrate_behind_a_bundled_ca(
        name, tls_database, migration_settings, monkeypatch, tmp_path
    )

    assert result["after"] is not None


def test_the_migration_refuses_a_server_of_another_regions_rds_ca(
    tls_database: TlsDatabase,
    migration_settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    name = "Amazon RDS eu-west-1 Root CA RSA2048 G1 (test)"

    with pytest.raises(DBAPIError, match="SSLCertVerificationError"):
        migrate_behind_a_bundled_ca(name, tls_database, migration_settings, monkeypatch, tmp_path)


def test_the_migration_refuses_a_server_of_a_ca_it_does_not_trust(
    tls_database: TlsDatabase, migration_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = migration_settings(tls_database.host, tls_database.port)

    # The system store and the RDS bundle only: the test CA is in neither.
    with pytest.raises(DBAPIError, match="SSLCertVerificationError"):
        run_migration(settings, monkeypatch)


def test_the_migration_refuses_a_server_of_another_ca(
    tls_database: TlsDatabase,
    migration_settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    impostor = CertificateAuthority.create("impostor CA")
    with relay_of(impostor, tls_database, tmp_path) as relay:
        settings = migration_settings(relay.host, relay.port)

        with pytest.raises(DBAPIError, match="SSLCertVerificationError"):
            run_migration(settings, monkeypatch, SSL_CERT_FILE=str(tls_database.trust_store))
