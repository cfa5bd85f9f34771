"""Cold-start cost of importing the app, beside a hello-world Chalice app that imports boto3.

    python bench/coldstart.py [--runs 10]

Each measurement is a fresh interpreter (this venv's python) that times its own import:
`t = perf_counter(); import app; print(perf_counter() - t)`, cwd = the app's folder.
Bytecode caches are left as they are (one untimed run of each first writes them).
Also prints the bare interpreter start and the slowest imports of `app` (-X importtime).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELLO_APP = 'import boto3\nfrom chalice import Chalice\n\napp = Chalice(app_name="hello")\n'
CHILD = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"


def child_import(cwd: Path) -> tuple[float, float]:
    """(import time measured inside the child, wall time of the whole child process)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=cwd, capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - started
    return float(result.stdout.strip().splitlines()[-1]), wall


def bare_start() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def import_times(cwd: Path) -> list[tuple[int, int, int, str]]:
    """(cumulative us, self us, depth, module) of every import of `app`, from -X importtime."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative, name = line[len("import time:") :].split("|", 2)
        depth = (len(name) - len(name.lstrip(" "))) // 2
        rows.append((int(cumulative), int(self_us), depth, name.strip()))
    return rows


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each (default 10)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ssp-hello-") as tmp:
        return report(args, Path(tmp))


def report(args, hello: Path) -> int:
    """Measure and print; `hello` is an empty folder for the hello-world app."""
    (hello / "app.py").write_text(HELLO_APP, encoding="utf-8")
    child_import(ROOT)  # untimed: writes/refreshes bytecode caches, warms the page cache
    child_import(hello)
    bare_start()
    app_runs, hello_runs, bare_runs = [], [], []
    for _ in range(args.runs):  # interleaved, so load changes hit all three alike
        app_runs.append(child_import(ROOT))
        hello_runs.append(child_import(hello))
        bare_runs.append(bare_start())

    app_import = statistics.median(r[0] for r in app_runs)
    hello_import = statistics.median(r[0] for r in hello_runs)
    print(
        f"python {sys.version.split()[0]} ({sys.executable}); median of {args.runs} "
        "fresh interpreters each"
    )
    print(f"  {'':<36}{'import (in child)':>18}{'whole process':>16}")
    print(
        f"  {'import app (suishoupai)':<36}{ms(app_import):>18}"
        f"{ms(statistics.median(r[1] for r in app_runs)):>16}"
    )
    print(
        f"  {'import app (hello Chalice + boto3)':<36}{ms(hello_import):>18}"
        f"{ms(statistics.median(r[1] for r in hello_runs)):>16}"
    )
    print(
        f"  {'bare interpreter (python -c pass)':<36}{'':>18}{ms(statistics.median(bare_runs)):>16}"
    )
    print(f"import ratio suishoupai / hello: {app_import / hello_import:.2f}  (target <= 2)")

    rows = import_times(ROOT)
    print(
        "\nslowest imports of `app` by cumulative time "
        "(python -X importtime -c 'import app', one run; depth 0 = imported by the -c line):"
    )
    print(f"  {'cumulative':>11}{'self':>9}  depth  module")
    for cumulative, self_us, depth, name in sorted(rows, reverse=True)[:10]:
        print(f"  {cumulative / 1000:8.1f} ms{self_us / 1000:6.1f} ms  {depth:>5}  {name}")

    hello_modules = {row[3] for row in import_times(hello)}
    extra: dict[str, int] = {}
    for _, self_us, _, name in rows:
        if name not in hello_modules:
            root = name.split(".")[0]
            extra[root] = extra.get(root, 0) + self_us
    total = sum(extra.values())
    print(
        f"\nimported by `app` but not by the hello app: {total / 1000:.1f} ms of self time; "
        "by top-level package:"
    )
    for root, self_us in sorted(extra.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {self_us / 1000:8.1f} ms  {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
