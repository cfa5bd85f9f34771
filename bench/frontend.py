"""The browser build's report page against `make run`, in headless Chromium at a phone's size.

    python bench/frontend.py [--loads 10]

Starts `python -m devstack run` on free ports, then opens the S01 scan URL `--loads` times,
each in a new browser context (empty cache and storage, a returning citizen's session put
in storage first, as a phone that scanned before has it) and measures:
- time to interactive: navigation start → the report form usable (the station's name shown
  and the text field enabled);
- bytes transferred (encoded, as on the wire) for that load;
and, as the baseline of the same run, the same figures for a bare HTML page with a form
served by the same server. Also prints the mp-weixin build's main package size.
Prints figures only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack.h5 import FRONTEND, ensure_installed, start_h5  # noqa: E402
from devstack.running import start_running_stack  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BASELINE_HTML = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>baseline</title></head>
<body><h1>随手拍</h1><form><textarea data-test="report-text"></textarea>
<button type="submit">提交反映</button></form></body></html>"""


def measure(browser, url: str, ready_selector: str, storage: dict | None) -> tuple[float, int]:
    context = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2)
    if storage:
        entries = json.dumps(storage)
        context.add_init_script(
            f"for (const [k, v] of Object.entries({entries})) localStorage.setItem(k, v)"
        )
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    transferred = []
    cdp.on("Network.loadingFinished", lambda event: transferred.append(event["encodedDataLength"]))
    page.goto(url, wait_until="commit")
    page.wait_for_selector(ready_selector, state="visible", timeout=30000)
    elapsed = page.evaluate("performance.now()")
    page.wait_for_timeout(300)  # let late requests finish so they are counted
    context.close()
    return elapsed, sum(transferred)


def citizen_storage(api: str) -> dict:
    """What uni's storage holds for a logged-in citizen (uni wraps values as {type, data})."""
    answer = requests.post(f"{api}/auth/login", json={"code": "bench-frontend-citizen"}, timeout=10)
    answer.raise_for_status()
    body = answer.json()
    value = {
        "token": body["token"],
        "user": body["user"],
        "expiresAt": int(time.time() * 1000) + body["expires_in"] * 1000,
    }
    return {"ssp.session": json.dumps({"type": "object", "data": value})}


def main_package_kb() -> float:
    ensure_installed()
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            ["npx", "uni", "build", "-p", "mp-weixin", "--outDir", out],
            cwd=FRONTEND,
            check=True,
            capture_output=True,
        )
        app = json.loads((Path(out) / "app.json").read_text())
        roots = [Path(out) / p["root"] for p in app.get("subPackages", [])]
        total = sum(f.stat().st_size for f in Path(out).rglob("*") if f.is_file())
        sub = sum(f.stat().st_size for r in roots for f in r.rglob("*") if f.is_file())
        return (total - sub) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=10)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    running = start_running_stack()
    baseline_dir = tempfile.TemporaryDirectory()
    (Path(baseline_dir.name) / "index.html").write_text(BASELINE_HTML, encoding="utf-8")
    baseline = start_h5(0, {}, Path(baseline_dir.name))
    try:
        storage = citizen_storage(running.urls["api"])
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            measure(
                browser, running.urls["scan_s01"], "[data-test=report-text]", storage
            )  # warm the servers
            page_runs = [
                measure(browser, running.urls["scan_s01"], "[data-test=report-text]", storage)
                for _ in range(args.loads)
            ]
            base_runs = [
                measure(browser, baseline.url, "[data-test=report-text]", None)
                for _ in range(args.loads)
            ]
            browser.close()
    finally:
        baseline.stop()
        running.stop()
    page_ms = statistics.median(ms for ms, _ in page_runs)
    base_ms = statistics.median(ms for ms, _ in base_runs)
    page_bytes = statistics.median(b for _, b in page_runs)
    base_bytes = statistics.median(b for _, b in base_runs)
    print(
        f"report page (S01 scan), median of {args.loads} cold loads to interactive: "
        f"{page_ms:.0f} ms"
    )
    print(f"bare HTML form on the same server, same run:              {base_ms:.0f} ms")
    print(f"ratio: {page_ms / base_ms:.1f}")
    print(f"bytes transferred: {page_bytes / 1024:.1f} KB (baseline {base_bytes / 1024:.1f} KB)")
    print(f"mp-weixin main package: {main_package_kb():.1f} KB (limit 2048 KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
