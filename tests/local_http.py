"""A real HTTP server on 127.0.0.1 for tests that fetch media from URLs."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Host")))
        if self.path == "/slow":
            time.sleep(3)
        if self.path == "/stream-big":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()  # no Content-Length: the cap must hold while streaming
            for _ in range(64):
                self.wfile.write(b"x" * 65536)
            return
        status, headers, body = self.routes.get(self.path, (404, {}, b"missing"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@contextmanager
def local_http(
    routes: dict[str, tuple[int, dict[str, str], bytes]],
    seen: list[tuple[str, str | None]] | None = None,
    tls: ssl.SSLContext | None = None,
) -> Iterator[str]:
    """Serves `routes` (over TLS with `tls`); each request's (path, Host) goes into `seen`."""
    handler = type("Handler", (_Handler,), {"routes": routes, "seen": [] if seen is None else seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        scheme = "https" if tls is not None else "http"
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
