"""Refresh the README's screenshots (docs/screenshots/) from the browser tier's own.

    python -m devstack.docs_screenshots     (`make screenshots` runs the browser tier first)

The browser tier saves what each person sees at each step under build/screenshots/ at the
phone's device scale (750 px wide); the README shows four of them, scaled to 300 px and
reduced to a 64-colour palette so each stays a few tens of KB.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "build" / "screenshots"
TARGET = ROOT / "docs" / "screenshots"
WIDTH = 300
# README name → the browser tier's screenshot
CHOSEN = {
    "report": "citizen-01-report-opened",
    "detail": "citizen-10-closed-timeline",
    "task": "deputy-01-offer",
    "report-large": "bigtext-02-report-categories",
}


def refresh(source: Path = SOURCE, target: Path = TARGET) -> list[Path]:
    """Write the chosen screenshots to `target`; raises if the browser tier did not make one."""
    missing = [name for name in CHOSEN.values() if not (source / f"{name}.png").exists()]
    if missing:
        raise FileNotFoundError(f"not in {source}: {', '.join(missing)} (run the browser tier)")
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for doc_name, shot in CHOSEN.items():
        with Image.open(source / f"{shot}.png") as image:
            height = round(image.height * WIDTH / image.width)
            small = image.convert("RGB").resize((WIDTH, height), Image.LANCZOS)
            small = small.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
            path = target / f"{doc_name}.png"
            small.save(path, optimize=True)
            written.append(path)
    return written


def main() -> int:
    try:
        written = refresh()
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    for path in written:
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
