"""The database engine: one per process, created on first use, sized for Lambda."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, Result, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import Executable

from lambda_app.config import Settings, get_settings
from lambda_app.exceptions import DatabaseUnavailableError
from lambda_app.external_services.iam_auth import IamTokenLogin
from lambda_app.external_services.secrets import CachedSecretCredentials, DatabaseCredentials
from lambda_app.pg_driver import SingleExchangeConnection
from lambda_app.tls import database_tls_context

DRIVER = "postgresql+pg8000"
# Sent at startup, so the server (and pinning checks) can tell the API's sessions apart.
API_APPLICATION_NAME = "users-service"
MIGRATION_APPLICATION_NAME = "users-service-migrate"
# SQLSTATE of a failed password check: the secret may have been rotated since we cached it.
AUTH_FAILED_SQLSTATE = "28P01"

_engine: Engine | None = None
# The read replica's engine (DB_READER_HOST): its own pooled connection, like the writer's.
_reader_engine: Engine | None = None
_engine_lock = threading.Lock()
# SQLSTATE classes of a connection that is gone: connection exceptions, and the operator
# intervention codes of a closed session (admin shutdown, crash, restart, dropped database).
DEAD_CONNECTION_SQLSTATES = ("08", "57P")
# A transaction that lost to a concurrent one: serialization failure, deadlock detected.
CONFLICT_SQLSTATES = ("40001", "40P01")
CONFLICT_ATTEMPTS = 3
T = TypeVar("T")


def get_engine() -> Engine:
    """Return this process's engine, creating it on first use."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                # Requests run each statement in autocommit (no BEGIN, no ROLLBACK); the few
                # that need a transaction ask for one with `transaction()`.
                _engine = create_engine_from_settings(get_settings(), autocommit=True)
    return _engine


def get_reader_engine() -> Engine | None:
    """Return this process's engine on the read replica, or None when DB_READER_HOST is unset."""
    global _reader_engine
    settings = get_settings()
    if not settings.db_reader_host:
        return None
    if _reader_engine is None:
        with _engine_lock:
            if _reader_engine is None:
                _reader_engine = create_engine_from_settings(
                    reader_settings(settings), autocommit=True
                )
    return _reader_engine


def reader_settings(settings: Settings) -> Settings:
    """The writer's settings pointed at the read replica (same role, database and TLS)."""
    host = settings.db_reader_host
    assert host is not None
    if settings.database_url:
        url = make_url(settings.database_url)
        replica = url.set(host=host, port=settings.db_reader_port or url.port)
        return settings.model_copy(
            update={"database_url": replica.render_as_string(hide_password=False)}
        )
    # An IAM token is signed for the host and port it is sent to: the reader endpoint's.
    return settings.model_copy(
        update={"db_host": host, "db_port": settings.db_reader_port or settings.db_port}
    )


@contextmanager
def transaction(connection: Connection) -> Iterator[Connection]:
    """Run the statements inside in one transaction, committed when the block succeeds.

    The driver starts it with a plain BEGIN. Switching SQLAlchemy's isolation level instead
    would send `SET SESSION CHARACTERISTICS`, which pins the connection in RDS Proxy.
    """
    _driver_connection(connection).autocommit = False
    try:
        yield connection
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        if not connection.invalidated:
            _driver_connection(connection).autocommit = True


def retrying_conflicts(work: Callable[[], T], *, attempts: int = CONFLICT_ATTEMPTS) -> T:
    """Run `work`, a whole transaction, again when it lost to a concurrent one.

    A deadlock or serialization failure rolls the loser back entirely, so running it again
    is safe; after `attempts` the error stands (answered 503, never 500).
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DBAPIError as error:
            if not is_conflict(error) or attempt == attempts:
                raise
    raise AssertionError("unreachable")


def is_conflict(error: DBAPIError) -> bool:
    """Tell whether a transaction lost to a concurrent one (deadlock, serialization failure)."""
    return server_error_field(error, "C") in CONFLICT_SQLSTATES


def execute_first(
    connection: Connection, statement: Executable, parameters: dict[str, Any] | None = None
) -> Result[Any]:
    """Run a request's first statement, once more on a fresh connection if the pooled one died.

    This replaces a pre-ping (a round trip on every request): a connection killed by the
    server, a proxy's idle timeout or a long-frozen Lambda container fails its first
    statement, which is then retried once. Nothing was done yet, so the retry is safe, and
    the fresh connection keeps the old one's transaction mode.
    """
    autocommit = _driver_connection(connection).autocommit
    try:
        return connection.execute(statement, parameters)
    except DBAPIError as error:
        if not is_dead_connection(error):
            raise
        if not connection.invalidated:
            connection.invalidate()
        connection.rollback()
        _driver_connection(connection).autocommit = autocommit
        return connection.execute(statement, parameters)


def _driver_connection(connection: Connection) -> Any:
    """The pg8000 connection under `connection` (reconnecting first if it was invalidated)."""
    return connection.connection.dbapi_connection


def server_error_field(error: BaseException, code: str) -> str | None:
    """One field of PostgreSQL's error response behind a pg8000 or SQLAlchemy error.

    `code` is the protocol's field letter: "C" the SQLSTATE, "n" the constraint name.
    """
    if isinstance(error, DBAPIError):
        return server_error_field(error.orig, code) if error.orig is not None else None
    details = error.args[0] if error.args else None
    return str(details[code]) if isinstance(details, dict) and code in details else None


def is_dead_connection(error: DBAPIError) -> bool:
    """Tell whether the error means the connection is unusable (not the statement wrong)."""
    if error.connection_invalidated:
        return True
    state = server_error_field(error, "C")
    if state is not None:
        return state.startswith(DEAD_CONNECTION_SQLSTATES)
    # pg8000 reports socket failures as InterfaceError with a plain message.
    return type(error.orig).__name__ == "InterfaceError"


def dispose_engine() -> None:
    """Close every pooled connection and forget the engines (tests, SnapStart restore)."""
    global _engine, _reader_engine
    with _engine_lock:
        for engine in (_engine, _reader_engine):
            if engine is not None:
                engine.dispose()
        _engine = _reader_engine = None


def create_engine_from_settings(
    settings: Settings,
    *,
    socket_timeout: float | None = None,
    pooled: bool = True,
    autocommit: bool = False,
    application_name: str = API_APPLICATION_NAME,
) -> Engine:
    """Build an engine from `DATABASE_URL`, an IAM token (`DB_IAM_AUTH`) or `DB_SECRET_ARN`.

    The connection sends only `user`, `database` and `application_name` at startup: RDS
    Proxy refuses any other startup parameter. The statement timeout is the app role's own
    setting, made by the migration.
    """
    connect_args: dict[str, Any] = {
        "timeout": socket_timeout if socket_timeout is not None else settings.db_connect_timeout,
        "application_name": application_name,
    }
    if settings.database_url:
        url = _pg8000_url(settings.database_url)
        use_ssl = bool(settings.db_ssl)
    elif settings.db_iam_auth or settings.db_secret_arn:
        url = URL.create(DRIVER)
        use_ssl = settings.db_ssl is not False
    else:
        raise DatabaseUnavailableError(
            "No database is configured: set DATABASE_URL, or DB_IAM_AUTH or DB_SECRET_ARN on AWS."
        )
    # pg8000 would otherwise try TLS without verifying the certificate; be explicit.
    connect_args["ssl_context"] = database_tls_context() if use_ssl else False

    pool_args: dict[str, Any] = (
        # A Lambda container serves one request at a time: one connection (the default)
        # is enough, and the RDS Proxy shares it across containers.
        {
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_max_overflow,
            "pool_timeout": settings.db_connect_timeout,
        }
        if pooled
        else {"poolclass": NullPool}
    )
    engine = create_engine(
        url,
        connect_args=connect_args,
        hide_parameters=True,  # bound values are user data: keep them out of errors and logs
        pool_pre_ping=False,  # see execute_first: recovery without a round trip per request
        pool_recycle=settings.db_pool_recycle,
        # AUTOCOMMIT only sets the driver's flag; any other level would send a SET per switch.
        **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
        **pool_args,
    )
    event.listen(engine, "do_connect", _Connector(settings, _credential_source(settings)))
    return engine


class CredentialSource(Protocol):
    """Where a new connection's host, user and password come from."""

    def get(self, *, refresh: bool = False) -> DatabaseCredentials:
        """Return credentials; `refresh` asks for fresh ones after a refused password."""
        ...


def _credential_source(settings: Settings) -> CredentialSource | None:
    """How to log in on AWS; None when `DATABASE_URL` holds everything."""
    if settings.database_url:
        return None
    if settings.db_iam_auth:
        return IamTokenLogin(settings)
    assert settings.db_secret_arn is not None
    return CachedSecretCredentials(
        settings.db_secret_arn, region=settings.aws_region, max_age=settings.db_credentials_max_age
    )


def _pg8000_url(database_url: str) -> URL:
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise DatabaseUnavailableError("DATABASE_URL must point at PostgreSQL.")
    return url.set(drivername=DRIVER)


class _Connector:
    """Open DBAPI connections with fresh credentials, once more after a rotated password."""

    def __init__(self, settings: Settings, credentials: CredentialSource | None) -> None:
        self._settings = settings
        self._credentials = credentials

    def __call__(self, dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        if self._credentials is None:
            return SingleExchangeConnection(*cargs, **cparams)
        try:
            return self._connect(cargs, cparams, refresh=False)
        except dialect.loaded_dbapi.DatabaseError as error:
            if not _is_auth_failure(error):
                raise
            # The password may have been rotated since it was cached: read it again.
            return self._connect(cargs, cparams, refresh=True)

    def _connect(self, cargs: Any, cparams: dict[str, Any], *, refresh: bool) -> Any:
        assert self._credentials is not None
        credentials = self._credentials.get(refresh=refresh)
        return SingleExchangeConnection(*cargs, **_params(cparams, credentials, self._settings))


def _params(
    base: dict[str, Any], credentials: DatabaseCredentials, settings: Settings
) -> dict[str, Any]:
    return {
        **base,
        "host": settings.db_host or credentials.host,
        "port": credentials.port,
        "user": credentials.username,
        "password": credentials.password,
        "database": settings.db_name or credentials.dbname or "postgres",
    }


def _is_auth_failure(error: Exception) -> bool:
    return server_error_field(error, "C") == AUTH_FAILED_SQLSTATE
