"""A build cut short by a real write failure — the kernel's file-size limit (RLIMIT_FSIZE,
as a full disk would) — leaves no truncated file under a final name; the next build recovers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import afterword_env
from test_build_support import add, assert_manifest_matches, tree

from afterword.builder import build_site
from afterword.config import Config
from afterword.store import Store

LIMIT = 48 * 1024  # bytes a file may grow to in the limited child

# ``afterword build`` in a child whose files cannot grow past LIMIT: write() fails with
# EFBIG (SIGXFSZ ignored, as a daemon would), like ENOSPC on a full disk.
LIMITED_BUILD = f"""
import resource, runpy, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({LIMIT}, {LIMIT}))
sys.argv = ["afterword", "build"]
runpy.run_module("afterword", run_name="__main__")
"""


def big_thread(store: Store, page: str) -> None:
    """Enough text that the page's fragment outgrows LIMIT (its database rows do not get
    written again by the build, so only output files hit the limit)."""
    for n in range(30):
        add(store, page, f"comment {n} " + "lorem ipsum dolor sit amet " * 80)


def limited_build(site_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LIMITED_BUILD],
        cwd=site_dir,
        env=afterword_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("case", ["new file", "replaced file"])
def test_build_killed_by_file_size_limit_leaves_no_truncated_file(
    site_dir: Path, config: Config, store: Store, case: str
) -> None:
    add(store, "/blog/a/", "small and complete")
    build_site(config, store)
    page = "/blog/a/" if case == "replaced file" else "/blog/0-new/"
    fragment = config.output_dir / "threads" / page.strip("/") / "comments.html"
    before = tree(config.output_dir)
    big_thread(store, page)
    # the child's own writes (its WAL frames) then start at offset 0, well inside the limit
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    result = limited_build(site_dir)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Error: cannot write" in result.stderr
    assert "File too large" in result.stderr
    assert "Traceback" not in result.stderr
    after = tree(config.output_dir)
    assert not [key for key in after if key.endswith(".tmp")], "temporary left behind"
    for key, data in after.items():
        assert before.get(key) == data, f"{key} changed or appeared in a failed build"
    if case == "new file":
        assert not fragment.exists()
    else:
        assert fragment.read_bytes() == before["threads/blog/a/comments.html"]

    report = build_site(config, store)
    assert report.files_written > 0
    html = fragment.read_bytes()
    assert len(html) > LIMIT
    assert b"comment 29 " in html
    assert html.rstrip().endswith(b"</section>")
    assert_manifest_matches(store, config)
    assert build_site(config, store).files_written == 0
