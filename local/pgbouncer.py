"""PgBouncer in transaction pooling mode before a PostgreSQL server: a local RDS Proxy stand-in.

Like RDS Proxy it refuses startup parameters it does not know (`statement_timeout`, ...), and
it hands a server connection to another client at the end of every transaction, so anything a
client leaves on a session (SET, named prepared statements, advisory locks) leaks or breaks.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from types import TracebackType

from sqlalchemy.engine import make_url

from local.embedded_postgres import free_port, system_user

EXECUTABLE = "pgbouncer"
# Names the executable to use instead (a path, or a name looked up like `pgbouncer`).
EXECUTABLE_VARIABLE = "PGBOUNCER"
# Looked in after PATH: Debian installs pgbouncer in /usr/sbin, which a non-root user's
# PATH often lacks, and the daemon runs fine for them.
SBIN_DIRECTORIES = ("/usr/local/sbin", "/usr/sbin", "/sbin")
INSTALL_HINT = "apt-get install pgbouncer"
WHERE_LOOKED = f"${EXECUTABLE_VARIABLE}, PATH, {', '.join(SBIN_DIRECTORIES)}"
START_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 10.0


def pgbouncer_path() -> str | None:
    """The `pgbouncer` executable (`$PGBOUNCER`, else on PATH or in an sbin folder), or None."""
    executable = os.environ.get(EXECUTABLE_VARIABLE) or EXECUTABLE
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *SBIN_DIRECTORIES])
    return shutil.which(executable, path=search)


def pgbouncer_version(executable: str) -> tuple[int, int]:
    """Major and minor version of the `pgbouncer` binary, e.g. (1, 18)."""
    output = subprocess.run(
        [executable, "--version"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    found = re.search(r"PgBouncer (\d+)\.(\d+)", output)
    if found is None:
        raise RuntimeError(f"cannot read the version of {executable}: {output!r}")
    return int(found.group(1)), int(found.group(2))


class PgBouncer:
    """One PgBouncer process on a free loopback port, pooling every database of `server_url`.

    `users` maps each login role allowed through to its password (None: the server trusts it
    without one). Every (database, user) pair gets `pool_size` server connections at most.
    `stats_users` (some of `users`) may read the admin console's SHOW commands.
    """

    def __init__(
        self,
        server_url: str,
        *,
        users: Mapping[str, str | None],
        pool_size: int = 3,
        max_clients: int = 500,
        stats_users: Collection[str] = (),
    ) -> None:
        executable = pgbouncer_path()
        if executable is None:
            raise RuntimeError(f"pgbouncer is not installed: {INSTALL_HINT}")
        self.executable = executable
        self.version = pgbouncer_version(executable)
        server = make_url(server_url)
        self.server_host = server.host or "127.0.0.1"
        self.server_port = server.port or 5432
        self.users = dict(users)
        self.pool_size = pool_size
        self.max_clients = max_clients
        self.stats_users = list(stats_users)
        self.port = free_port()
        self._run_as = system_user() if os.geteuid() == 0 else None
        self._folder: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def url_for(self, url: str) -> str:
        """`url` (same user, password and database) with PgBouncer as its host and port."""
        routed = make_url(url).set(host="127.0.0.1", port=self.port)
        return routed.render_as_string(hide_password=False)

    def start(self) -> PgBouncer:
        """Write the configuration to a fresh folder, start PgBouncer and wait until it answers."""
        # A new temp folder, not the project's: the project may be unreadable to the run user.
        self._folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        config = self._write_config(self._folder)
        if self._run_as is not None:
            for path in (self._folder, *self._folder.iterdir()):
                shutil.chown(path, user=self._run_as, group=None)
        log = (self._folder / "stdout.log").open("wb")
        self._process = subprocess.Popen(
            [self.executable, str(config)],
            user=self._run_as,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self._folder,
        )
        log.close()
        try:
            self._wait_until_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Shut PgBouncer down at once (SIGTERM) and remove its folder."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)  # immediate shutdown; SIGINT waits for clients
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def log_tail(self, characters: int = 2000) -> str:
        """The end of PgBouncer's log, for error messages."""
        if self._folder is None:
            return ""
        log = self._folder / "pgbouncer.log"
        return log.read_text(errors="replace")[-characters:] if log.exists() else ""

    def __enter__(self) -> PgBouncer:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _write_config(self, folder: Path) -> Path:
        userlist = folder / "userlist.txt"
        userlist.write_text(
            "".join(f'"{user}" "{password or ""}"\n' for user, password in self.users.items())
        )
        # Roles without a password are trusted by the server (a CI PostgreSQL on 127.0.0.1):
        # PgBouncer trusts them too; every other role proves its password with SCRAM.
        hba = folder / "pg_hba.conf"
        hba.write_text(
            "".join(
                f"host all {user} 127.0.0.1/32 {'scram-sha-256' if password else 'trust'}\n"
                for user, password in self.users.items()
            )
        )
        settings = {
            "listen_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "unix_socket_dir": "",
            "auth_type": "hba",
            "auth_hba_file": str(hba),
            "auth_file": str(userlist),
            "pool_mode": "transaction",
            "default_pool_size": str(self.pool_size),
            "min_pool_size": "0",
            "reserve_pool_size": "0",
            "max_client_conn": str(self.max_clients),
            # Left empty on purpose: an unknown startup parameter is refused, as RDS Proxy does.
            "ignore_startup_parameters": "",
            "logfile": str(folder / "pgbouncer.log"),
            "pidfile": str(folder / "pgbouncer.pid"),
            "log_connections": "0",
            "log_disconnections": "0",
        }
        if self.stats_users:
            settings["stats_users"] = ",".join(self.stats_users)
        if self.version >= (1, 21):
            # Protocol-level prepared statements stay unsupported: clients must not need them.
            settings["max_prepared_statements"] = "0"
        config = folder / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host={self.server_host} port={self.server_port}\n"
            "\n[pgbouncer]\n" + "".join(f"{key} = {value}\n" for key, value in settings.items())
        )
        for path in (userlist, hba, config):
            path.chmod(0o600)
        return config

    def _wait_until_listening(self) -> None:
        import socket

        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited at start:\n{self._startup_output()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"pgbouncer did not listen on {self.port}:\n{self._startup_output()}")

    def _startup_output(self) -> str:
        assert self._folder is not None
        stdout = self._folder / "stdout.log"
        return (stdout.read_text(errors="replace") if stdout.exists() else "") + self.log_tail()
