"""A TLS-terminating relay before a local PostgreSQL, as RDS Proxy terminates TLS before RDS.

The embedded PostgreSQL is built without TLS, so this relay speaks it in its place: it
answers PostgreSQL's SSLRequest, completes the handshake with a certificate of a test CA
(`local.certificate_authority`) and relays the decrypted stream to the server. A client that
does not ask for TLS is refused, as a proxy that requires TLS refuses it. Clients verify the
certificate exactly as they verify RDS Proxy's or an instance's: the same code path.

`python -m local.tls_proxy --target HOST:PORT --certificate F --key F` prints
`listening on HOST:PORT` and relays until stopped; `running()` starts it in a child process.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import struct
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NamedTuple

import pg8000.native
from sqlalchemy.engine import make_url

from local.embedded_postgres import EmbeddedPostgres

PROJECT_ROOT = Path(__file__).resolve().parent.parent
READY = "listening on "
CHUNK = 65536
# The request codes a client sends before its startup message (PostgreSQL protocol 3.0).
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
REQUEST_LENGTH = 8
LOOPBACK = "127.0.0.1"


def _error_response(message: str) -> bytes:
    """A FATAL ErrorResponse message, which a client shows as the reason it was refused."""
    fields = b"SFATAL\x00VFATAL\x00C28000\x00M" + message.encode() + b"\x00\x00"
    return b"E" + struct.pack("!i", len(fields) + 4) + fields


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with suppress(ConnectionError, ssl.SSLError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    writer.close()


async def _negotiate_tls(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, context: ssl.SSLContext
) -> bool:
    """Answer the client's requests until it asks for TLS, then hand it the handshake."""
    while True:
        length, code = struct.unpack("!ii", await reader.readexactly(REQUEST_LENGTH))
        if (length, code) == (REQUEST_LENGTH, GSSENC_REQUEST):
            writer.write(b"N")  # no GSSAPI encryption: the client asks for TLS next
            continue
        if (length, code) != (REQUEST_LENGTH, SSL_REQUEST):
            writer.write(_error_response("this proxy requires TLS"))
            await writer.drain()
            return False
        writer.write(b"S")
        await writer.drain()
        await writer.start_tls(context)
        return True


async def serve(
    target_host: str, target_port: int, certificate: Path, key: Path, port: int = 0
) -> None:
    """Terminate TLS on 127.0.0.1:`port` (0: any free port) and relay to the target, forever."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)

    async def connected(client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        try:
            accepted = await _negotiate_tls(client_reader, client, context)
            if accepted:
                server_reader, server = await asyncio.open_connection(target_host, target_port)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            accepted = False  # e.g. a client that does not trust the certificate hangs up
        if not accepted:
            client.close()
            return
        await asyncio.gather(_pipe(client_reader, server), _pipe(server_reader, client))

    listener = await asyncio.start_server(connected, LOOPBACK, port)
    host, bound = listener.sockets[0].getsockname()[:2]
    print(f"{READY}{host}:{bound}", flush=True)
    async with listener:
        await listener.serve_forever()


class Relay(NamedTuple):
    """A running relay: where it listens, and its process (to pin it to cores)."""

    host: str
    port: int
    pid: int


@contextmanager
def running(target_host: str, target_port: int, certificate: Path, key: Path) -> Iterator[Relay]:
    """Run the relay in a child process until the block ends."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.tls_proxy",
            "--target",
            f"{target_host}:{target_port}",
            "--certificate",
            str(certificate),
            "--key",
            str(key),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line.startswith(READY):
            raise RuntimeError(f"the TLS proxy did not start: {line!r}")
        host, port = line[len(READY) :].strip().rsplit(":", 1)
        yield Relay(host, int(port), child.pid)
    finally:
        child.terminate()
        child.wait(timeout=10)


def trust_from_loopback(server: EmbeddedPostgres, role: str) -> None:
    """Let `role` log in to `server` from loopback without a password (its IAM token unchecked).

    On AWS, RDS Proxy checks the token; here the relay stands in for the proxy's TLS only.
    The rule goes first in pg_hba.conf and takes effect at once (a reload).
    """
    rule = f"host all {role} {LOOPBACK}/32 trust"
    hba_file = server.pgdata / "pg_hba.conf"
    lines = hba_file.read_text().splitlines()
    if rule not in lines:
        hba_file.write_text("\n".join([rule, *lines]) + "\n")  # keeps the owner and mode
    superuser = make_url(server.url)
    connection = pg8000.native.Connection(
        user=str(superuser.username),
        password=superuser.password,
        host=LOOPBACK,
        port=server.port,
        database=superuser.database,
    )
    try:
        connection.run("SELECT pg_reload_conf()")
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> None:
    """Parse the target and the certificate, then relay until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m local.tls_proxy", description=__doc__)
    parser.add_argument("--target", required=True, help="HOST:PORT of PostgreSQL")
    parser.add_argument("--certificate", type=Path, required=True, help="server certificate PEM")
    parser.add_argument("--key", type=Path, required=True, help="its private key PEM")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any)")
    arguments = parser.parse_args(argv)
    host, port = arguments.target.rsplit(":", 1)
    with suppress(KeyboardInterrupt):
        asyncio.run(serve(host, int(port), arguments.certificate, arguments.key, arguments.port))


if __name__ == "__main__":
    main()
