"""A proxy in front of the API that the browser build talks to, so a test can lose an
answer after the API handled the request (a dropped connection on the way back), or take
the API away altogether, as a phone's network does."""

from __future__ import annotations

import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


class ApiProxy:
    """Forwards every request to `upstream`; `drop_next_answer` and `down` misbehave on cue."""

    def __init__(self) -> None:
        self.upstream = ""
        self.down = False
        self.seen: list[dict] = []
        self._drop: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy.down:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                target = urlsplit(proxy.upstream)
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                payload = answer.read()
                connection.close()
                dropped = proxy._take_drop(self.command, self.path)
                with proxy._lock:
                    proxy.seen.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "status": answer.status,
                            "idempotency_key": self.headers.get("Idempotency-Key"),
                            "replayed": answer.getheader("Idempotent-Replayed"),
                            "dropped": dropped,
                        }
                    )
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in HOP_HEADERS:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if dropped:
                    # The API did its work; the connection breaks after the answer's headers,
                    # before its body. (Closing before any byte would not do: Chromium resends
                    # a request silently when a reused connection closes without an answer.)
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(payload)

            def handle(self) -> None:
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the phone gave up on the connection (a test took the API away)

            do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> ApiProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def drop_next_answer(self, method: str, path: str) -> None:
        with self._lock:
            self._drop.append((method, path))

    def _take_drop(self, method: str, path: str) -> bool:
        with self._lock:
            if (method, path.split("?")[0]) in self._drop:
                self._drop.remove((method, path.split("?")[0]))
                return True
        return False

    def requests(self, method: str, path: str) -> list[dict]:
        with self._lock:
            return [
                r for r in self.seen if r["method"] == method and r["path"].split("?")[0] == path
            ]
