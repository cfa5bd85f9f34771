"""The WeChat mini-program build (`uni build -p mp-weixin`): package sizes within WeChat's
limits, the privacy declarations WeChat requires, and every configured page present."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from devstack.h5 import FRONTEND, ensure_installed

pytestmark = pytest.mark.frontend
LIMIT = 2 * 1024 * 1024  # WeChat: the main package and each subpackage ≤ 2 MB
PAGE_FILES = (".js", ".json", ".wxml")


@pytest.fixture(scope="module")
def mp_build(tmp_path_factory) -> Path:
    ensure_installed()
    out = tmp_path_factory.mktemp("mp-weixin")
    subprocess.run(
        ["npx", "uni", "build", "-p", "mp-weixin", "--outDir", str(out)],
        cwd=FRONTEND,
        check=True,
        capture_output=True,
    )
    return out


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _app_json(build: Path) -> dict:
    return json.loads((build / "app.json").read_text(encoding="utf-8"))


def test_main_package_and_each_subpackage_fit_in_two_megabytes(mp_build):
    app = _app_json(mp_build)
    roots = [package["root"] for package in app.get("subPackages", [])]
    assert roots, "the deputy and staff pages are subpackages"
    sizes = {root: _size(mp_build / root) for root in roots}
    main = _size(mp_build) - sum(sizes.values())
    print(f"\nmp-weixin main package: {main / 1024:.1f} KB")
    for root, size in sizes.items():
        print(f"mp-weixin subpackage {root}: {size / 1024:.1f} KB")
    assert main <= LIMIT
    assert all(size <= LIMIT for size in sizes.values())


def test_app_json_declares_the_privacy_fields(mp_build):
    app = _app_json(mp_build)
    assert app["__usePrivacyCheck__"] is True
    assert "getLocation" in app["requiredPrivateInfos"]
    assert app["permission"]["scope.userLocation"]["desc"]


def test_every_page_of_the_route_config_exists(mp_build):
    app = _app_json(mp_build)
    pages = list(app["pages"])
    for package in app.get("subPackages", []):
        pages += [f"{package['root']}/{page}" for page in package["pages"]]
    assert "pages/report/report" in pages  # what a station's QR code opens
    assert pages[0] == "pages/report/report"
    expected = [page + ext for page in pages for ext in PAGE_FILES]
    missing = [name for name in expected if not (mp_build / name).is_file()]
    assert missing == []
    tab_pages = [item["pagePath"] for item in app["tabBar"]["list"]]
    assert set(tab_pages) <= set(app["pages"])  # tab pages live in the main package
