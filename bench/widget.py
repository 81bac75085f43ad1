"""Widget figures: time to first comment painted, and bytes for a page with 50 comments.

    python bench/widget.py [--loads 20] [--comments 50]

Builds a real site (intake over HTTP → approve → builder) in a temporary folder, serves it
on loopback and loads a page whose comment container is in view, in Debian's Chromium:

- time from navigation start to the first comment painted: a MutationObserver in the page
  sees the first ``.afterword-comment`` arrive, and the next animation frame after that
  records ``performance.now()`` (navigation start is ``performance.timeOrigin``). Each load
  uses a fresh browser context (cold cache: the server also sends ``no-store``).
- the same, side by side, for the floor no script can beat: the same page with the fragment
  included at build time and the stylesheet linked in ``<head>`` (no fetch at all). The
  difference is what lazy loading costs; the floor is this machine's headless Chromium.
- bytes a reader downloads for the comments: afterword.js (the reader core) + the form
  module it loads when idle + afterword.css + the page's fragment, gzipped at level 6 as a
  CDN would serve them (level 9 shown too).
- fragment weight: raw bytes of the thread fragment per comment (issue 13: at most 500 B),
  and of that the avatar's share (a ``data-identicon`` seed on the name, which the widget
  draws).
- the same bytes for Isso, measured, when ``--isso-python`` names an interpreter with Isso
  installed (``python3 -m venv /tmp/isso && /tmp/isso/bin/pip install isso==0.14.0``): its
  ``embed.min.js`` and ``css/isso.css`` as shipped in the package, and the JSON its server
  answers for the thread fetch the widget makes (``GET /?uri=…&nested_limit=5``) after the
  same comments were posted to it over HTTP (a third as replies), all gzip-6. Without
  ``--isso-python`` no comparison is printed.
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this tree's afterword
from fixtures_browser import CHROMIUM_ARGS  # the tests' flags: no outside connection

from afterword.builder import build_site
from afterword.config import load_config
from afterword.demo import free_port, post_comment, start_site_server
from afterword.intake.server import BackgroundServer
from afterword.moderation.actions import apply_action
from afterword.pagekey import page_folder
from afterword.store import open_store

KEY = "/blog/post/"
INLINE = "/blog/inline/"  # the same thread included at build time: the floor
PARAGRAPHS = [
    "I tried this on a **large** site and the build stayed *fast*: "
    "see [the notes](https://example.org/notes).",
    "Could the same work with `hugo server`? I'd like to keep my theme as it is.",
    "Merci pour l'article ! Une petite coquille au deuxième paragraphe : "
    "« cela » plutôt que « ça ».",
    "> Reading comments never touches a Python process.\n\nThat is the part that sold me.",
    "- one\n- two\n- three\n\nAll three steps worked here, 日本語のテキストも大丈夫です。",
]
TIMING = """
new MutationObserver((_, observer) => {
  if (!document.querySelector('.afterword-comment')) return;
  observer.disconnect();
  window.__inserted = performance.now();
  const mark = () => { window.__painted = performance.now(); };
  requestAnimationFrame(() => requestAnimationFrame(mark));
}).observe(document, {childList: true, subtree: true});
"""


def make_site(root: Path, comments: int) -> tuple[Path, str]:
    """Config, database and output for one page with ``comments`` approved comments."""
    public = root / "public"
    public.mkdir()
    site_port = free_port()
    (root / "afterword.toml").write_text(
        f'[site]\nurl = "http://127.0.0.1:{site_port}/"\n[intake]\nport = {free_port()}\n'
        '[build]\noutput_dir = "public/comments"\n[limits]\nper_minute = 0\nper_hour = 0\n',
        encoding="utf-8",
    )
    config = load_config(root / "afterword.toml", environ={})
    with (
        BackgroundServer(config, port=config.intake.port),
        open_store(config.database_path) as store,
    ):
        ids: list[int] = []
        for n in range(comments):
            parent = ids[n - 1] if n % 3 == 2 else None  # a third are replies
            body = f"{PARAGRAPHS[n % len(PARAGRAPHS)]}\n\nComment {n}."
            ids.append(post_comment(config.intake_url, KEY, f"Reader {n}", body, parent))
            apply_action(store, ids[-1:], "approve", actor="bench")
        build_site(config, store, full=True)
    page = public / "blog" / "post" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Post</title>'
        f"<script>{TIMING}</script></head><body><h1>A post</h1><div data-afterword></div>"
        '<script src="/comments/afterword.js" defer></script></body></html>',
        encoding="utf-8",
    )
    fragment = (public / "comments" / page_folder(KEY) / "comments.html").read_text("utf-8")
    inline = public / INLINE.strip("/") / "index.html"
    inline.parent.mkdir(parents=True)
    inline.write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Post</title>'
        f'<script>{TIMING}</script><link rel="stylesheet" href="/comments/afterword.css">'
        f"</head><body><h1>A post</h1><div data-afterword>{fragment}</div>"
        '<script src="/comments/afterword.js" defer></script></body></html>',
        encoding="utf-8",
    )
    return public, f"http://127.0.0.1:{site_port}/"


def time_loads(
    public: Path, base_url: str, loads: int
) -> tuple[list[float], list[float], list[float]]:
    """(painted, in the DOM, floor painted) in ms from navigation start, per cold load.

    The widget page and the build-time-include page alternate, so both see the same noise.
    """
    port = int(base_url.rsplit(":", 1)[1].strip("/"))
    httpd = start_site_server(public, port)
    times: list[float] = []
    inserted: list[float] = []
    floor: list[float] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            for _ in range(loads):
                for path in (KEY, INLINE):
                    context = browser.new_context()
                    page = context.new_page()
                    page.goto(base_url + path.lstrip("/"))
                    page.wait_for_function("window.__painted !== undefined", timeout=10_000)
                    painted = float(page.evaluate("window.__painted"))
                    if path == KEY:
                        times.append(painted)
                        inserted.append(float(page.evaluate("window.__inserted")))
                    else:
                        floor.append(painted)
                    # Let the idle-time form module arrive before closing (not timed).
                    page.wait_for_function("window.afterword && window.afterword.form")
                    context.close()
            browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    return times, inserted, floor


ISSO_CONFIG = """[general]
dbpath = {folder}/isso.db
host = http://127.0.0.1:{site_port}/
[server]
listen = http://127.0.0.1:{port}/
[guard]
enabled = false
[moderation]
enabled = false
"""
ISSO_RUN = (
    "import sys; from isso import main; sys.argv = ['isso', '-c', sys.argv[1], 'run']; main()"
)
ISSO_FILES = "import isso, pathlib; print(pathlib.Path(isso.__file__).parent)"


def measure_isso(python: str, comments: int) -> dict[str, bytes]:
    """Isso's widget files and its thread answer for ``comments`` comments posted over HTTP."""
    package = Path(subprocess.run([python, "-c", ISSO_FILES], check=True, capture_output=True,
                                  text=True).stdout.strip())  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        port, site_port = free_port(), free_port()
        config = Path(folder) / "isso.cfg"
        config.write_text(ISSO_CONFIG.format(folder=folder, site_port=site_port, port=port))
        server = subprocess.Popen(
            [python, "-c", ISSO_RUN, str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            api = f"http://127.0.0.1:{port}"
            uri = quote(KEY, safe="")
            _wait_for(f"{api}/?uri={uri}")
            ids: list[int] = []
            for n in range(comments):
                body = {
                    "text": f"{PARAGRAPHS[n % len(PARAGRAPHS)]}\n\nComment {n}.",
                    "author": f"Reader {n}",
                    "website": None,
                    "email": None,
                    "title": "A post",
                    "parent": ids[n - 1] if n % 3 == 2 else None,
                }
                answer = httpx.post(f"{api}/new?uri={uri}", json=body, timeout=10)
                answer.raise_for_status()
                ids.append(int(answer.json()["id"]))
            thread = httpx.get(f"{api}/?uri={uri}&nested_limit=5", timeout=10)
            thread.raise_for_status()
        finally:
            server.terminate()
            server.wait(timeout=10)
    return {
        "embed.min.js": (package / "js" / "embed.min.js").read_bytes(),
        "isso.css": (package / "css" / "isso.css").read_bytes(),
        "thread JSON": thread.content,
    }


def _wait_for(url: str) -> None:
    for _ in range(100):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("Isso did not start")


def gzip_kb(data: bytes, level: int) -> float:
    return len(gzip.compress(data, compresslevel=level, mtime=0)) / 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--comments", type=int, default=50)
    parser.add_argument("--isso-python", help="an interpreter with Isso installed, to measure it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        public, base_url = make_site(Path(folder), args.comments)
        out = public / "comments"
        module = next(out.glob("afterword-form.*.js"))
        parts = {
            "afterword.js": (out / "afterword.js").read_bytes(),
            "form module": module.read_bytes(),
            "afterword.css": (out / "afterword.css").read_bytes(),
            "fragment": (out / page_folder(KEY) / "comments.html").read_bytes(),
        }
        times, inserted, floor = time_loads(public, base_url, args.loads)
    print("afterword widget bench (2-core VM, headless Chromium with --disable-gpu)")
    print(
        f"first comment painted, {args.loads} cold loads: median {statistics.median(times):.1f} ms"
        f" (min {min(times):.1f}, max {max(times):.1f}); target < 150 ms"
    )
    print(
        "  of which in the DOM (fragment fetched, CSS loaded, inserted): median "
        f"{statistics.median(inserted):.1f} ms; the rest is style, layout and two frames"
    )
    print(
        f"floor, same thread included at build time (no fetch), side by side: median "
        f"{statistics.median(floor):.1f} ms; lazy loading costs "
        f"{statistics.median(times) - statistics.median(floor):+.1f} ms (target <= +25 ms)"
    )
    total6 = 0.0
    for name, data in parts.items():
        total6 += gzip_kb(data, 6)
        print(
            f"  {name:14} raw {len(data) / 1000:6.1f} KB  gzip-6 {gzip_kb(data, 6):5.1f} KB"
            f"  gzip-9 {gzip_kb(data, 9):5.1f} KB"
        )
    fragment = parts["fragment"].decode("utf-8")
    avatars = re.findall(r' data-identicon="[^"]*"', fragment)
    shown = fragment.count('class="afterword-comment"')
    print(
        f"fragment weight: {len(parts['fragment']) / shown:.0f} B raw per comment ({shown} on"
        f" part 1), of which avatar {sum(map(len, avatars)) / max(len(avatars), 1):.0f} B;"
        " target <= 500 B"
    )
    print(
        f"bytes for a page with {args.comments} comments (JS + CSS + fragment, gzip-6): "
        f"{total6:.1f} KB"
    )
    if args.isso_python:
        isso = measure_isso(args.isso_python, args.comments)
        isso6 = 0.0
        for name, data in isso.items():
            isso6 += gzip_kb(data, 6)
            print(
                f"  Isso {name:14} raw {len(data) / 1000:6.1f} KB  "
                f"gzip-6 {gzip_kb(data, 6):5.1f} KB"
            )
        print(
            f"Isso, measured (same {args.comments} comments): {isso6:.1f} KB gzip-6; "
            f"afterword needs {isso6 / total6:.1f}x less"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
