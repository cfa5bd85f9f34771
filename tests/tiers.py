"""`make test`: every test tier in turn, then a table of each tier's wall time.

`python -m tests.tiers` runs the tiers below in order and stops at the first that fails
(the table is printed all the same). The pytest tiers of isolated tests run on both cores
(pytest-xdist, `-n 2`: each worker has its own moto, emulators, DynamoDB Local, tables and
bucket). Work that mostly waits runs beside work that computes: the front end's checks
beside the unit and API tests, and the tests that start the whole stack (one process, one
shared stack) and the mini-program build beside the integration tests. For each pytest run
the table also gives pytest's summary and how long the process took to exit after it.

`python -m tests.tiers NAME …` runs only the named tiers (lint, api, integration).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--durations=10"]
WORKERS = os.environ.get("SSP_TEST_WORKERS", "2")
PARALLEL = ["-n", WORKERS] if WORKERS not in ("", "0", "1") else []

# The front end's own checks, in order (the stack tests build the mini-program after them).
FRONT_END = " && ".join(
    [
        f"{sys.executable} -c 'from devstack.h5 import ensure_installed; ensure_installed()'",
        "npm --prefix miniprogram run lint",
        "npm --prefix miniprogram test",
    ]
)

# (name, label, commands, test folders the tier runs)
# A command given as a tuple of commands runs them at once (the first one's output live,
# the others' after it).
TIERS: list[tuple[str, str, list, list[str]]] = [
    (
        "lint",
        "lint (ruff, deploy templates)",
        [
            [str(BIN / "ruff"), "check", "."],
            [sys.executable, "-m", "devstack.deploy_template", "--check"],
        ],
        [],
    ),
    (
        "api",
        "unit + API (moto) beside the front end (npm ci, ESLint, Prettier, vitest)",
        [
            (
                [*PYTEST, *PARALLEL, "tests/unit", "tests/api"],
                ["bash", "-c", FRONT_END],
            )
        ],
        ["tests/unit", "tests/api"],
    ),
    (
        "integration",
        "integration (DynamoDB Local) beside the whole stack (e2e, browser, mp build)",
        # The whole-stack tests mostly wait (for the stack, the browser, the worker), so
        # they run in one process beside the integration tier's workers: one stack shared
        # by the e2e and browser tests, and the mini-program build in a third process.
        [
            (
                [*PYTEST, *PARALLEL, "tests/integration"],
                [*PYTEST, "tests/e2e", "tests/browser"],
                [*PYTEST, "tests/frontend"],
            )
        ],
        ["tests/integration", "tests/e2e", "tests/browser", "tests/frontend"],
    ),
]

SUMMARY = re.compile(r"^=+ (.*\b(?:passed|failed|error|errors|skipped|deselected)\b.*) =+$")
COUNTS = re.compile(r"(\d+) (passed|failed|errors?|skipped)")


def test_folders_not_in_a_tier() -> list[str]:
    """Folders of tests/ holding test files that no tier runs (so none is left out)."""
    covered = {folder for *_, folders in TIERS for folder in folders}
    found = {
        str(path.parent.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("test_*.py")
        if "node_modules" not in path.parts
    }
    return sorted(
        folder for folder in found if not any(f"{folder}/".startswith(f"{c}/") for c in covered)
    )


def _follow(process: subprocess.Popen, out, result: dict) -> None:
    """Pass `process`'s output to `out`, noting pytest's summary and when it came."""
    for line in process.stdout:
        out.write(line)
        out.flush()
        found = SUMMARY.match(line.strip())
        if found:
            result["summary"], result["at"] = found.group(1), time.monotonic()
    result["status"] = process.wait()
    result["ended"] = time.monotonic()


def run(step) -> list[tuple[int, str, float | None]]:
    """Run a command (or a tuple of commands at once); [(status, pytest summary, exit delay)]."""
    commands = list(step) if isinstance(step, tuple) else [step]
    processes = [
        subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for command in commands
    ]
    results = [{} for _ in commands]
    buffers = [io.StringIO() for _ in commands[1:]]
    threads = [
        threading.Thread(target=_follow, args=(process, buffer, result))
        for process, buffer, result in zip(processes[1:], buffers, results[1:], strict=True)
    ]
    for thread in threads:
        thread.start()
    _follow(processes[0], sys.stdout, results[0])
    for thread, buffer in zip(threads, buffers, strict=True):
        thread.join()
        sys.stdout.write(buffer.getvalue())
    sys.stdout.flush()
    return [
        (
            result["status"],
            result.get("summary", ""),
            result["ended"] - result["at"] if "at" in result else None,
        )
        for result in results
    ]


def main(names: list[str]) -> int:
    missing = test_folders_not_in_a_tier()
    if missing:
        print(f"test folders in no tier of tests/tiers.py: {', '.join(missing)}", file=sys.stderr)
        return 2
    unknown = set(names) - {name for name, *_ in TIERS}
    if unknown:
        print(f"unknown tiers: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    rows: list[tuple[str, float, str, str]] = []
    status = 0
    started = time.monotonic()
    for name, label, commands, _ in TIERS:
        if names and name not in names:
            continue
        print(f"\n----- {label} -----", flush=True)
        tier_started = time.monotonic()
        summaries, delays = [], []
        for step in commands:
            for step_status, summary, delay in run(step):
                status = status or step_status
                if summary:
                    summaries.append(summary)
                if delay is not None:
                    delays.append(delay)
            if status:
                break
        elapsed = time.monotonic() - tier_started
        result = "; ".join(summaries) or ("ok" if not status else f"failed (exit {status})")
        exit_delay = f"{max(delays):.1f} s" if delays else ""
        rows.append((label, elapsed, exit_delay, result))
        if status:
            break
    total = time.monotonic() - started
    passed = failed = 0
    for *_, result in rows:
        for count, kind in COUNTS.findall(result):
            if kind == "passed":
                passed += int(count)
            elif kind in ("failed", "error", "errors"):
                failed += int(count)
    width = max(len(label) for label, *_ in rows) if rows else 10
    print(f"\n{'tier':<{width}}  {'wall':>8}  {'exit after summary':>18}  result")
    for label, elapsed, exit_delay, result in rows:
        print(f"{label:<{width}}  {elapsed:>6.1f} s  {exit_delay:>18}  {result}")
    print(f"{'total':<{width}}  {total:>6.1f} s")
    if passed or failed:
        print(f"{passed} passed, {failed} failed")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
