"""`python -m devstack run` (what `make run` starts) as a child process on free ports, for
tests and benchmarks that use the system from outside, as a person or a client would."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field

from devstack.services import ROOT
from devstack.stack import DEFAULT_PORTS, READY_LINE

LABELS = {
    "api": "API",
    "h5": "Mini-program (browser build)",
    "scan_s01": "Scan of station S01 opens",
    "wechat": "WeChat emulator",
    "sms": "SMS emulator",
    "wecom": "WeCom emulator",
    "moto": "moto (AWS)",
}


@dataclass
class RunningStack:
    process: subprocess.Popen
    output: str
    urls: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def stop(self, timeout: float = 30) -> int | None:
        """Ctrl-C, as a person stops `make run`; killed if it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return None
        return self.process.returncode


def start_running_stack(
    extra_env: dict[str, str] | None = None, timeout: float = 240
) -> RunningStack:
    """Start the stack with every port free-picked; returns once it printed its ready line."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **{name: "0" for name in DEFAULT_PORTS}}
    for name in ("DYNAMODB_ENDPOINT", "S3_ENDPOINT", "WECHAT_API_BASE", "TABLE_PREFIX"):
        env.pop(name, None)
    env.update(extra_env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        for line in process.stdout:
            lines.append(line)
            if READY_LINE in line:
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(timeout) or process.poll() is not None:
        process.kill()
        raise RuntimeError("stack did not start:\n" + "".join(lines[-40:]))
    output = "".join(lines)
    urls = {}
    for key, label in LABELS.items():
        found = re.search(rf"^{re.escape(label)}\s+(\S+)", output, re.M)
        if found:
            urls[key] = found.group(1).rstrip("/") if key != "scan_s01" else found.group(1)
    return RunningStack(process=process, output=output, urls=urls, lines=lines)
