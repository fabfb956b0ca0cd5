"""A TCP relay that can reset, stall or alter its clients' connections, as a proxy or NAT can."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

CHUNK = 65536


class ResettingRelay:
    """Relays loopback connections to a server; can answer the next request with RST, or stall.

    It can also rewrite what clients send (bytes for bytes of the same length, so that the
    protocol's message lengths still hold): a way to make the server refuse one statement.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._armed = threading.Event()
        self._stalled = threading.Event()
        self._sockets: list[socket.socket] = []
        self._rewrite: tuple[bytes, bytes] | None = None
        self.port = int(self._listener.getsockname()[1])
        self.connections = 0
        self.resets = 0

    def reset_on_next_request(self) -> None:
        """Reset the connection that sends data next, instead of passing the data on."""
        self._armed.set()

    def stall(self) -> None:
        """From now on, drop what clients send (new connections' startup too): nothing answers."""
        self._stalled.set()

    def rewrite_requests(self, old: bytes, new: bytes) -> None:
        """From now on, replace `old` by `new` (as long) in what clients send."""
        assert len(old) == len(new), "a rewrite must keep the message lengths"
        self._rewrite = (old, new)

    def stop_rewriting(self) -> None:
        """Pass what clients send on unchanged again."""
        self._rewrite = None

    def serve(self) -> None:
        """Accept and relay connections until the listener is closed."""
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._target)
            self._sockets += [client, server]
            self.connections += 1
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def close(self) -> None:
        """Stop listening and drop every relayed connection."""
        _drop(self._listener)
        for sock in self._sockets:
            _drop(sock)

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        with suppress(OSError):
            while data := source.recv(CHUNK):
                if from_client and self._armed.is_set():
                    self._armed.clear()
                    self.resets += 1
                    # Linger 0: close() sends RST, not FIN, and drops what was not delivered.
                    source.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    source.close()
                    _drop(sink)
                    return
                if from_client and self._stalled.is_set():
                    continue
                rewrite = self._rewrite
                if from_client and rewrite is not None:
                    data = data.replace(*rewrite)
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def _drop(sock: socket.socket) -> None:
    # shutdown() wakes a thread blocked in recv() on the socket; close() alone does not.
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextmanager
def resetting_relay(host: str, port: int) -> Iterator[ResettingRelay]:
    """A running relay to host:port, closed afterwards."""
    relay = ResettingRelay((host, port))
    thread = threading.Thread(target=relay.serve, daemon=True)
    thread.start()
    try:
        yield relay
    finally:
        relay.close()
        thread.join(timeout=5)
