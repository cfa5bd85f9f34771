"""The browser build's local server: files, its config script, compression, no escape."""

from __future__ import annotations

import gzip

import requests

from devstack.h5 import start_h5


def test_serves_the_build_compressed_when_asked_and_nothing_outside_it(tmp_path):
    (tmp_path / "index.html").write_text("<!DOCTYPE html><title>随手拍</title>", encoding="utf-8")
    (tmp_path / "assets").mkdir()
    script = ("console.log('随手拍');\n" * 200).encode()
    (tmp_path / "assets" / "index.js").write_bytes(script)
    (tmp_path.parent / "secret.txt").write_text("no")
    server = start_h5(0, {"apiBase": "http://api.example"}, tmp_path)
    try:
        raw = requests.get(
            f"{server.url}assets/index.js", headers={"Accept-Encoding": "identity"}, stream=True
        )
        assert raw.headers.get("Content-Encoding") is None
        assert raw.raw.read() == script
        assert "immutable" in raw.headers["Cache-Control"]

        packed = requests.get(
            f"{server.url}assets/index.js", headers={"Accept-Encoding": "gzip"}, stream=True
        )
        assert packed.headers["Content-Encoding"] == "gzip"
        body = packed.raw.read()
        assert len(body) < len(script) / 5 and gzip.decompress(body) == script

        page = requests.get(server.url)
        assert page.status_code == 200 and "随手拍" in page.text
        assert page.headers["Cache-Control"] == "no-cache"
        config = requests.get(f"{server.url}ssp-config.js")
        assert "http://api.example" in config.text and config.headers["Cache-Control"] == "no-store"
        assert requests.get(f"{server.url}../secret.txt").status_code == 404
        assert requests.get(f"{server.url}%2e%2e/secret.txt").status_code == 404
    finally:
        server.stop()
