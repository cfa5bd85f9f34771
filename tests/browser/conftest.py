"""The browser tier: the mini-program's browser build in Debian's headless Chromium, driven
with Playwright at a phone's viewport, against `python -m devstack run` (what `make run`
starts) on free ports, with a proxy between the browser build and the API."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devstack.running import start_running_stack
from tests.browser.proxy import ApiProxy

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PHONE = {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def api_proxy():
    proxy = ApiProxy().start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def browser_stack(api_proxy):
    """`python -m devstack run` on free ports, the browser build pointed at the proxy."""
    try:
        running = start_running_stack({"SSP_H5_API_BASE": api_proxy.url})
    except RuntimeError as error:
        pytest.fail(str(error))
    api_proxy.upstream = running.urls["api"]
    yield running.urls
    running.stop()


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def phone(chromium):
    """A new phone (its own storage, like another person's WeChat): `phone()` opens one."""
    contexts = []

    def open_phone(**options):
        context = chromium.new_context(
            **PHONE, locale="zh-CN", timezone_id="Asia/Shanghai", **options
        )
        context.set_default_timeout(15000)
        contexts.append(context)
        return context.new_page()

    yield open_phone
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    """Save what the person sees now under build/screenshots/ (not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
