"""Minify the widget's readable source into ``afterword/widget/dist/`` (esbuild, then terser).

esbuild checks the source against the supported browsers (``--target``: it lowers or refuses
syntax they lack) and minifies; terser then compresses that further (three passes): on the
reader core it saves about 2 % gzipped, what issue 13's 2.5 KB budget needed. Meaning is
unchanged; the output is committed so that installing or running afterword never needs Node.
``tests/test_widget_assets.py`` fails when a file in ``dist/`` differs from what this script
would write, so an edit to the source cannot ship without its minified copy.

Usage::

    python scripts/build_widget.py            # rewrite dist/*.min.js
    python scripts/build_widget.py --check    # exit 1 if a file is out of date

Both come from ``tests/js`` (``npm ci --prefix tests/js``), pinned in its package.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDGET = ROOT / "afterword" / "widget"
ESBUILD = ROOT / "tests" / "js" / "node_modules" / ".bin" / "esbuild"
TERSER = ROOT / "tests" / "js" / "node_modules" / ".bin" / "terser"
SOURCES = ("afterword.js", "afterword-form.js", "afterword-edit.js")
# Chrome/Edge 92, Firefox 90, Safari 15.4: the browsers docs/embedding.md lists.
TARGET = "chrome92,firefox90,safari15.4"


def minify(source: Path) -> bytes:
    """The minified form of one source file (no bundling: each file stands alone)."""
    checked = subprocess.run(
        [str(ESBUILD), str(source), "--minify", f"--target={TARGET}", "--charset=utf8"],
        capture_output=True,
        check=True,
    )
    # Standard input in, standard output out; no ecma option, so nothing newer than the input.
    compressed = subprocess.run(
        [str(TERSER), "--compress", "passes=3", "--mangle"],
        input=checked.stdout,
        capture_output=True,
        check=True,
    )
    return compressed.stdout


def outputs() -> dict[Path, bytes]:
    """``dist/<name>.min.js`` → its bytes, for every widget script."""
    return {
        WIDGET / "dist" / name.replace(".js", ".min.js"): minify(WIDGET / name) for name in SOURCES
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if dist/ is out of date")
    args = parser.parse_args(argv)
    stale = [
        path for path, data in outputs().items() if not path.is_file() or path.read_bytes() != data
    ]
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale else 0
    for path, data in outputs().items():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
