"""
A minimal keep-alive HTTP/1.1 client for the load driver.

``http.client`` parses headers with the email package; on a 2-core machine whose cores the server
also needs, the driver's own CPU per request is part of what is measured, so it is kept small.
Only what the service and the bare app answer is understood: a status line, headers and a body of
``Content-Length`` bytes.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

_HEAD_END = b"\r\n\r\n"


class ServerClosed(ConnectionError):
    """The server closed the connection before a whole response arrived."""


@dataclass(frozen=True, slots=True)
class Response:
    """A status code and a body."""

    status: int
    body: bytes


class Connection:
    """One keep-alive connection to ``host:port``, reopened when the server closes it."""

    def __init__(self, host: str, port: int, timeout_seconds: float) -> None:
        self.host = host
        self.port = port
        self.timeout_seconds = timeout_seconds
        self.reconnects = 0
        self._socket: socket.socket | None = None
        self._buffer = b""

    def close(self) -> None:
        """Close the socket, if open."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._buffer = b""

    def _open(self) -> socket.socket:
        if self._socket is None:
            self._socket = socket.create_connection(
                (self.host, self.port), timeout=self.timeout_seconds
            )
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.reconnects += 1
        return self._socket

    def request(self, method: str, path: str, headers: bytes, body: bytes) -> Response:
        """
        Send one request and read its response. ``headers`` are ready-made header lines.

        A request on a kept-alive connection that the server closed meanwhile (keep-alive timeout,
        a worker recycled after ``max_requests``) was not read by it: it is sent once more on a
        new connection.
        """
        payload = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Length: {len(body)}\r\n".encode()
            + headers
            + b"\r\n"
            + body
        )
        for attempt in (1, 2):
            reused = self._socket is not None
            try:
                connection = self._open()
                connection.sendall(payload)
                return self._read_response(connection)
            except (ServerClosed, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2 or not reused:
                    raise
        raise AssertionError("unreachable")

    def _read_response(self, connection: socket.socket) -> Response:
        while _HEAD_END not in self._buffer:
            self._receive(connection)
        head, _, rest = self._buffer.partition(_HEAD_END)
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        keep_alive = True
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                keep_alive = False
        self._buffer = rest
        while len(self._buffer) < length:
            self._receive(connection)
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        if not keep_alive:
            self.close()
        return Response(status, body)

    def _receive(self, connection: socket.socket) -> None:
        chunk = connection.recv(65536)
        if not chunk:
            raise ServerClosed("the server closed the connection")
        self._buffer += chunk


def header_lines(headers: dict[str, str]) -> bytes:
    """Header lines ready for ``Connection.request``."""
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode()
