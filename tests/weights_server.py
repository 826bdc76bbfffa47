"""A real HTTP server on 127.0.0.1 for the weight-download tests (not a mock of urllib).

Each path is routed to a file, served whole, cut short (a Content-Length larger than what is
sent, then the connection closes), or redirected; unknown paths get 404. Requests are counted
per path so tests can tell whether a load touched the network.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Route:
    kind: str  # "file", "truncated" or "redirect"
    target: str  # a file path, or the path to redirect to
    pause: float = 0.0  # seconds between 64 KiB chunks: a slow link, so downloads overlap


class WeightsServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                server.hits[self.path] += 1
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                if route.kind == "redirect":
                    self.send_response(302)
                    self.send_header("Location", route.target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path = Path(route.target)
                size = path.stat().st_size
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                try:
                    with path.open("rb") as f:
                        if route.kind == "truncated":
                            self.wfile.write(f.read(size // 2))
                        elif route.pause:
                            while chunk := f.read(1 << 16):
                                self.wfile.write(chunk)
                                self.wfile.flush()
                                time.sleep(route.pause)
                        else:
                            shutil.copyfileobj(f, self.wfile, 1 << 20)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def serve(
        self, path: str, file: str | Path, *, truncated: bool = False, pause: float = 0.0
    ) -> str:
        """Serve ``file`` at ``path`` (``pause``: seconds between 64 KiB chunks); return its URL."""
        self.routes[path] = Route("truncated" if truncated else "file", str(file), pause)
        return self.url(path)

    def redirect(self, path: str, to: str) -> str:
        self.routes[path] = Route("redirect", to)
        return self.url(path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def closed_port_url(path: str = "/weights.pth") -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
