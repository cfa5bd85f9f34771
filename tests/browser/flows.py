"""What a person does in the browser build, step by step, counting screens and taps."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from tests.browser.conftest import screenshot
from tests.helpers import jpeg_bytes


class Person:
    """One phone: a page, the taps made on it and the screens it showed."""

    def __init__(self, page, name: str) -> None:
        self.page = page
        self.name = name
        self.taps = 0
        self.screens: list[str] = []
        page.on("framenavigated", self._navigated)

    def _navigated(self, frame) -> None:
        if frame != self.page.main_frame:
            return
        parts = urlsplit(frame.url)
        screen = parts.fragment.split("?")[0] or parts.path
        if "/connect/" in parts.path:
            screen = "wechat-oauth"
        if not self.screens or self.screens[-1] != screen:
            self.screens.append(screen)

    def tap(self, selector: str, **kwargs) -> None:
        self.taps += 1
        self.page.locator(selector).first.click(**kwargs)

    def tap_text(self, text: str) -> None:
        self.taps += 1
        # the visible one: tab pages stay mounted, each with its own popup, buttons and texts
        self.page.get_by_text(text, exact=True).filter(visible=True).first.click()

    def shot(self, step: str) -> Path:
        return screenshot(self.page, f"{self.name}-{step}")

    def log_in_on_wechat_page(self, identity: str) -> None:
        """On the emulator's OAuth page: a demo identity's button, or a new citizen's code."""
        page = self.page
        page.wait_for_url(re.compile(r".*/connect/(oauth2/authorize|qrconnect).*"))
        demo = page.locator(f'button[name=identity][value="{identity}"]')
        if demo.count():
            self.taps += 1
            demo.click()
        else:
            page.fill("#identity", identity)
            self.tap("button[data-code=new]")
        page.wait_for_url(re.compile(r".*#/.*"))


SEEN_JS = """(el) => new Promise((resolve) => {
    const before = el.getBoundingClientRect()
    requestAnimationFrame(() => requestAnimationFrame(() => {
        const r = el.getBoundingClientRect()
        const still = r.top === before.top && r.left === before.left
        const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2)
        resolve(still && r.top >= 0 && r.bottom <= innerHeight && r.height > 0 &&
                Boolean(hit) && (hit === el || el.contains(hit)))
    }))
})"""


def wait_until_seen(locator, timeout: float = 5000) -> str:
    """Wait until the person sees the element: on screen, not under a fixed bar or a popup,
    the page at rest (no scroll running). Returns its text."""
    locator.wait_for()
    locator.page.wait_for_function(SEEN_JS, arg=locator.element_handle(), timeout=timeout)
    return locator.inner_text()


def open_report_page(person: Person, scan_url: str, identity: str) -> None:
    """Open a scan's URL, log in on WeChat's page as `identity`, wait for the station."""
    person.page.goto(scan_url)
    person.log_in_on_wechat_page(identity)
    person.page.locator("[data-test=station-name]").wait_for()


def photo_file(tmp_path: Path, name: str = "photo.jpg") -> Path:
    path = tmp_path / name
    path.write_bytes(jpeg_bytes(640, 480))
    return path


def attach_photo(person: Person, path: Path, consent: bool = False) -> None:
    """Tap 添加照片 and pick a file (the first time, agree to the privacy guideline)."""
    page = person.page
    with page.expect_file_chooser() as chooser:
        person.tap("[data-test=photo-add]")
        if consent:
            person.tap_text("同意并继续")
    person.taps += 1  # picking the photo in the chooser
    chooser.value.set_files(str(path))
    page.locator("[data-test=photo-item][data-state=done]").last.wait_for(timeout=20000)


def wait_for_sms(
    sms_url: str, phone: str, pattern: str, timeout: float = 40, about: str = ""
) -> str:
    """The newest SMS to `phone` matching `pattern`, as the SMS emulator received it; with
    `about`, only one sent about that report (the sender's session context names it)."""
    deadline = time.monotonic() + timeout
    messages: list[dict] = []
    while time.monotonic() < deadline:
        answer = requests.get(f"{sms_url}/__emulator/messages", params={"phone": phone}, timeout=5)
        messages = answer.json()["messages"]
        for message in reversed(messages):
            if about and not message.get("session_context", "").startswith(f"{about}#"):
                continue
            found = re.search(pattern, message["content"])
            if found:
                return found.group(0)
        time.sleep(0.5)
    received = [m["content"] for m in messages]
    raise AssertionError(f"no SMS to {phone} matching {pattern!r} within {timeout} s: {received}")
