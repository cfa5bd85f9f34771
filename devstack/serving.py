"""Serving our emulators over HTTP/1.1 with persistent connections, as the real APIs answer.

WeChat, Tencent Cloud and WeCom keep a client's connection open between calls.
Werkzeug's development server closes every connection after one answer (it cannot
drain an unread body), which made each call to an emulator pay a new TCP connection
the real endpoints do not cost. Waitress, a production pure-Python WSGI server,
keeps connections open and serves each request from a pool of worker threads, so an
injected slow answer holds one worker, not the server.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from waitress.server import create_server
from waitress.wasyncore import ExitNow

logging.getLogger("waitress.queue").setLevel(logging.ERROR)


class WsgiServer:
    """One WSGI app on host:port (port 0 picks a free port); `start` serves from a thread."""

    def __init__(self, app: Any, host: str, port: int, name: str, threads: int = 16) -> None:
        self.name = name
        self._server = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident=name,
            channel_timeout=120,
        )
        self.host = host
        self.port = int(self._server.effective_port)
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._serving = threading.Event()

    def serve_forever(self) -> None:
        """Serve in the calling thread until `stop` (or Ctrl-C)."""
        self._serving.set()
        try:
            self._server.run()
        except ExitNow:
            pass
        finally:
            self._serving.clear()

    def start(self) -> WsgiServer:
        """Serve from a daemon thread; returns self."""
        self._thread = threading.Thread(target=self.serve_forever, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listening socket and all connections, stop the workers, join the thread.

        The sockets are closed by the serving loop itself (through its trigger), so the
        loop never polls a closed descriptor; it ends when nothing is left to serve.
        """
        if self._stopped.is_set():
            return
        self._stopped.set()
        server = self._server
        server.logger.setLevel(logging.FATAL)
        if self._serving.is_set():
            server.trigger.pull_trigger(lambda: self._close_all())
            if self._thread is not None:
                self._thread.join(timeout=5)
        else:
            self._close_all()
        server.task_dispatcher.shutdown()

    def _close_all(self) -> None:
        for dispatcher in list(self._server._map.values()):
            dispatcher.handle_close()
