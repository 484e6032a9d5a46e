"""Fixtures of the servers matrix: throwaway TLS certificates and HTTP clients."""

from __future__ import annotations

import socket
import ssl

import httpx
import pytest

from tests.servers.servers import Certificates, Server
from tests.support import ServerProcess


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A self-signed CA and a certificate for 127.0.0.1, made for this test run."""
    return Certificates.make(tmp_path_factory.mktemp("tls"))


def http_client(server: Server, process: ServerProcess, certs: Certificates) -> httpx.Client:
    """An httpx client speaking the server's protocol (HTTP/2 only where it serves HTTP/2)."""
    return httpx.Client(
        base_url=process.url, http1=not server.http2, http2=server.http2,
        verify=certs.client_context() if server.tls else True, timeout=30,
    )


def raw_connection(process: ServerProcess, certs: Certificates) -> socket.socket:
    """A plain (or TLS, HTTP/1.1 by ALPN) socket to the server; reads time out after 10 s."""
    sock = socket.create_connection(("127.0.0.1", process.port), timeout=10)
    if process.scheme == "https":
        context = certs.client_context()
        context.set_alpn_protocols(["http/1.1"])
        return context.wrap_socket(sock, server_hostname="127.0.0.1")
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-cased names) and body of the next response on ``sock``.

    The response must have a ``Content-Length`` (every non-streamed one has).
    """
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a response head: {data!r}")
        data += chunk
    raw_head, _, body = data.partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed inside a response body: {body!r}")
        body += chunk
    return int(lines[0].split()[1]), headers, body


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server closed the connection: reads return b"" (or a reset).

    Anything still coming is read and discarded. A server that keeps the socket
    open makes ``recv`` time out, which fails the test.
    """
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError):
            return True
        if not chunk:
            return True

