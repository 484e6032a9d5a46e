"""The ASGI servers of the matrix: how to start each, and what each can do.

What a server itself cannot do is stated here (``websocket``, ``buffers_body``)
and asserted by the tests, so a server that changes makes a test fail, and
``docs/security.md`` says the same.
"""

from __future__ import annotations

import ssl
import sys
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization

from tests.support import ServerProcess, free_port

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Server:
    """One server configuration of the matrix."""

    name: str
    http2: bool = False
    #: False: the server cannot serve WebSockets in this configuration.
    websocket: bool = True
    #: True: the server reads the whole body before it calls the app (daphne),
    #: so the app's body timeouts never see a slow client.
    buffers_body: bool = False

    @property
    def tls(self) -> bool:
        return self.http2  # browsers speak HTTP/2 over TLS only; so do we here

    def process(self, target: str, certs: Certificates | None = None,
                env: dict[str, str] | None = None) -> ServerProcess:
        port = free_port()
        python = [sys.executable, "-m"]
        tls: list[str] = []
        if self.tls:
            if certs is None:
                raise ValueError(f"{self.name} serves over TLS: pass certificates")
            tls = {
                "hypercorn": ["--certfile", str(certs.cert), "--keyfile", str(certs.key)],
                "granian": ["--ssl-certificate", str(certs.cert), "--ssl-keyfile", str(certs.key)],
            }[self.name.partition("-")[0]]
        ws = ["--ws", "websockets-sansio"]
        argv = {
            "uvicorn-httptools": [*python, "uvicorn", target, "--http", "httptools", *ws],
            "uvicorn-h11": [*python, "uvicorn", target, "--http", "h11", *ws],
            "hypercorn-h1": [*python, "hypercorn", target],
            "hypercorn-h2": [*python, "hypercorn", target],
            "granian-h1": [*python, "granian", "--interface", "asgi", "--http", "1", target],
            "granian-h2": [*python, "granian", "--interface", "asgi", "--http", "2", target],
            "daphne": [*python, "daphne", target],
        }[self.name]
        bind = {
            "uvicorn": ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            "hypercorn": ["--bind", f"127.0.0.1:{port}"],
            "granian": ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            "daphne": ["-b", "127.0.0.1", "-p", str(port), "-v", "0"],
        }[self.name.partition("-")[0]]
        # The app is imported from this directory (cwd); every server puts it on sys.path.
        return ServerProcess([*argv, *bind, *tls], port=port, cwd=HERE,
                             env={"PYTHONPATH": str(HERE), **(env or {})},
                             scheme="https" if self.tls else "http")


SERVERS = [
    Server("uvicorn-httptools"),
    Server("uvicorn-h11"),
    Server("hypercorn-h1"),
    Server("hypercorn-h2", http2=True),
    Server("granian-h1"),
    # Granian answers HTTP/2 only in this mode: a WebSocket needs an HTTP/1.1
    # upgrade (or RFC 8441, which granian does not implement).
    Server("granian-h2", http2=True, websocket=False),
    Server("daphne", buffers_body=True),
]
HTTP1_SERVERS = [server for server in SERVERS if not server.http2]


@dataclass(frozen=True)
class Certificates:
    """A throwaway CA and a certificate for 127.0.0.1 it signed, as files."""

    cert: Path
    key: Path
    ca: trustme.CA

    @classmethod
    def make(cls, directory: Path) -> Certificates:
        ca = trustme.CA()
        leaf = ca.issue_cert("127.0.0.1", "localhost")
        cert, key = directory / "cert.pem", directory / "key.pem"
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        # PKCS#8: granian reads no other key format.
        private = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), None)
        key.write_bytes(private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ))
        return cls(cert, key, ca)

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context
