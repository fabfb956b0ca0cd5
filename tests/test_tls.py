"""Database TLS: the RDS CA bundle ships with the code; connections trust their region's CAs."""

from __future__ import annotations

import datetime
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from infra.bundling import copy_app
from lambda_app.migrate import handler as migrate
from lambda_app.tls import RDS_CA_BUNDLE, database_tls_context
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


@pytest.fixture
def fresh_context() -> Iterator[None]:
    """Build the process's TLS context again from the environment, before and after."""
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


def test_the_bundle_goes_into_the_lambda_package(tmp_path: Path) -> None:
    copy_app(tmp_path)

    packaged = tmp_path / RDS_CA_BUNDLE.relative_to(RDS_CA_BUNDLE.parents[2])
    assert packaged.read_bytes() == RDS_CA_BUNDLE.read_bytes()


def test_database_connections_trust_their_regions_rds_cas_beside_the_system_store(
    fresh_context: None,
) -> None:
    trusted = database_tls_context().get_ca_certs()
    system = ssl.create_default_context().get_ca_certs()

    subjects = {dict(entry[0] for entry in ca["subject"]).get("commonName") for ca in trusted}
    assert {f"Amazon RDS us-east-1 {suffix}" for suffix in CURRENT_RDS_CAS.values()} <= subjects
    assert not any("eu-west-1" in str(subject) for subject in subjects)
    assert len(trusted) == len(system) + len(CURRENT_RDS_CAS)
    assert database_tls_context().verify_mode == ssl.CERT_REQUIRED
    assert database_tls_context().check_hostname


def test_a_region_the_bundle_does_not_list_trusts_the_whole_bundle(fresh_context: None) -> None:
    with settings_env(AWS_REGION="xx-nowhere-1"):
        trusted = database_tls_context().get_ca_certs()
        database_tls_context.cache_clear()

    system = ssl.create_default_context().get_ca_certs()
    assert len(trusted) == len(system) + len(bundle_certificates())


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
