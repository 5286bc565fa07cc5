"""Loopback servers that fail the way real targets do, for the failure-kind tests: one that
closes each connection before answering (with a reset, or an orderly close), an HTTPS server with
a self-signed certificate, and a resolver that knows no name under ``.invalid``. Each serves on
127.0.0.1 only, for a bounded number of connections, and stops with its test."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import struct
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAX_CONNECTIONS = 100
"""Connections a closing server accepts before it stops by itself (a test makes a few)."""
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class ClosingServer:
    """Accepts a connection, reads the request, and closes it without answering: ``reset=True``
    sends a TCP reset (SO_LINGER 0, as a crashing server or a proxy dropping the connection
    does), else an orderly close (FIN)."""

    def __init__(self, *, reset: bool) -> None:
        self.reset = reset
        self.accepted = 0
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(8)
        self._socket.settimeout(0.1)  # so the loop notices stop() without a connection
        self._stop = threading.Event()
        self.port = int(self._socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set() and self.accepted < MAX_CONNECTIONS:
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            with connection:
                connection.settimeout(2)
                with contextlib.suppress(OSError):
                    connection.recv(65536)
                if self.reset:
                    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    continue
                # Orderly: FIN first, then drain what the client still sends, so that closing
                # with unread data does not turn the close into a reset.
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_WR)
                    for _ in range(64):
                        if not connection.recv(65536):
                            break

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A fresh key and self-signed certificate for 127.0.0.1 (so the hostname matches and the
    only thing wrong is who signed it), made with the openssl command."""
    if shutil.which("openssl") is None:
        raise FileNotFoundError("the `openssl` command is not installed")
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


class TlsServer:
    """HTTPS on 127.0.0.1 with the given certificate, answering 200 to every GET."""

    def __init__(self, cert: Path, key: Path) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = b'{"status":"ok"}\n'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[socket.socket, Any]:
                connection, address = super().get_request()
                # The handshake runs in the handler's thread (on first read), and a client that
                # rejects the certificate only costs that thread an SSLError.
                return context.wrap_socket(
                    connection, server_side=True, do_handshake_on_connect=False
                ), address

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a rejected handshake is what the tests provoke

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


Resolver = Callable[..., Any]


class LoopbackResolver:
    """Stands in for ``socket.getaddrinfo`` so that no lookup leaves the machine: loopback names
    resolve as usual, a name under ``.invalid`` fails as a resolver answers it (NXDOMAIN: "Name or
    service not known"; RFC 6761 reserves the TLD for exactly that), and any other name is
    recorded (the test then fails) and fails too."""

    def __init__(self, real: Resolver) -> None:
        self._real = real
        self.refused: list[str] = []

    def __call__(self, host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name in LOOPBACK:
            return self._real(host, *args, **kwargs)
        if not name.endswith(".invalid"):
            self.refused.append(name)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
