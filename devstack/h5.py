"""The mini-program's browser build (H5), served as a static site beside the API.

`make run` builds `miniprogram/` when its build is missing or older than its sources and
serves `miniprogram/dist/build/h5` here. The build reads where the API and WeChat's OAuth
page are from `/ssp-config.js`, written by this server from the running stack, so one
build serves any ports (a production host writes its own file with the real endpoints).
"""

from __future__ import annotations

import gzip
import json
import mimetypes
import os
import subprocess
from pathlib import Path

from devstack.serving import WsgiServer

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "miniprogram"
H5_DIST = FRONTEND / "dist" / "build" / "h5"
REPORT_ROUTE = "pages/report/report"
COMPRESSIBLE = {
    "text/html",
    "text/css",
    "application/javascript",
    "text/javascript",
    "application/json",
    "image/svg+xml",
}


def _newest_source(root: Path) -> float:
    newest = 0.0
    for folder in (root / "src",):
        for path in folder.rglob("*"):
            if path.is_file():
                newest = max(newest, path.stat().st_mtime)
    for name in ("package-lock.json", "vite.config.js", "index.html"):
        path = root / name
        if path.exists():
            newest = max(newest, path.stat().st_mtime)
    return newest


def ensure_installed() -> None:
    """Install the front end's locked packages (`npm ci`) when they are missing or stale."""
    installed = FRONTEND / "node_modules" / ".package-lock.json"
    lock = FRONTEND / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True)


def ensure_built(out_dir: Path = H5_DIST) -> Path:
    """Install the front end's locked packages and build H5 when the build is stale."""
    ensure_installed()
    index = out_dir / "index.html"
    if not index.exists() or index.stat().st_mtime < _newest_source(FRONTEND):
        subprocess.run(["npx", "uni", "build", "--outDir", str(out_dir)], cwd=FRONTEND, check=True)
    return out_dir


class H5App:
    """WSGI app: the static build, with `/ssp-config.js` answered from the stack's settings."""

    def __init__(self, dist: Path, config: dict) -> None:
        self.dist = dist.resolve()
        self._gzip_cache: dict = {}
        self.config_js = (
            "window.SSP_CONFIG = " + json.dumps(config, ensure_ascii=False) + ";\n"
        ).encode()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "/") or "/"
        if path == "/ssp-config.js":
            return self._answer(
                start_response, "200 OK", self.config_js, "application/javascript", "no-store"
            )
        if path.endswith("/"):
            path += "index.html"
        target = (self.dist / path.lstrip("/")).resolve()
        if not target.is_relative_to(self.dist) or not target.is_file():
            return self._answer(
                start_response,
                "404 Not Found",
                "页面不存在".encode(),
                "text/plain; charset=utf-8",
                "no-store",
            )
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind == "application/javascript":
            kind += "; charset=utf-8"
        cache = "no-cache" if target.name == "index.html" else "public, max-age=31536000, immutable"
        body, encoding = target.read_bytes(), None
        accepts = environ.get("HTTP_ACCEPT_ENCODING", "")
        if "gzip" in accepts and kind.split(";")[0] in COMPRESSIBLE and len(body) > 1024:
            # as the static host (CDN, S3 + CloudFront) of a deployment serves them
            body, encoding = self._gzipped(target, body), "gzip"
        return self._answer(start_response, "200 OK", body, kind, cache, encoding)

    def _gzipped(self, target: Path, body: bytes) -> bytes:
        key = (target, target.stat().st_mtime_ns)
        if key not in self._gzip_cache:
            self._gzip_cache[key] = gzip.compress(body, compresslevel=6, mtime=0)
        return self._gzip_cache[key]

    @staticmethod
    def _answer(start_response, status: str, body: bytes, kind: str, cache: str, encoding=None):
        headers = [
            ("Content-Type", kind),
            ("Content-Length", str(len(body))),
            ("Cache-Control", cache),
        ]
        if encoding:
            headers += [("Content-Encoding", encoding), ("Vary", "Accept-Encoding")]
        start_response(status, headers)
        return [body]


def start_h5(port: int, config: dict, dist: Path = H5_DIST) -> WsgiServer:
    """Serve the browser build on 127.0.0.1:port (0 picks one)."""
    server = WsgiServer(H5App(dist, config), host="127.0.0.1", port=port, name="h5", threads=8)
    server.url = f"http://127.0.0.1:{server.port}/"
    return server.start()


def scan_url(h5_url: str, station_id: str) -> str:
    """What a scan of a station's code opens: the report page with `scene` = station id."""
    return f"{h5_url}#/{REPORT_ROUTE}?scene={station_id}"


if __name__ == "__main__":  # python -m devstack.h5 API_URL [PORT]: serve a build by hand
    import sys

    api = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 5050
    oauth = os.environ.get("SSP_OAUTH_BASE", "http://127.0.0.1:5020")
    server = start_h5(
        port, {"apiBase": api, "oauthBase": oauth, "appid": "wx-local-web-appid"}, ensure_built()
    )
    print(f"H5 {server.url}  scan S01: {scan_url(server.url, 'S01')}", flush=True)
    try:
        server._thread.join()
    except KeyboardInterrupt:
        server.stop()
