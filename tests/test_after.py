"""A target's ``after`` command, through the real CLI: ``afterword rebuild`` and ``watch`` as
subprocesses, running real programs (small Python scripts) in the config file's folder."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import afterword_env, run_afterword
from fixtures_s3 import add_to_config
from test_build_support import add

from afterword.store import Store

RECORD = """\
import os, pathlib, sys
mirror = pathlib.Path(sys.argv[1])
published = (mirror / "threads/blog/a/comments.json").exists()
with open("after.log", "a") as log:
    log.write(f"{os.getcwd()} {published}\\n")
"""

# sh starts in milliseconds even on a loaded machine, well inside the timeouts below; the
# pid file is renamed into place so it is never read half-written.
SPAWN_AND_HANG = [
    "sh",
    "-c",
    "sleep 120 & echo $! > child.tmp && mv child.tmp child.pid; sleep 120",
]
IGNORE_TERM = ["sh", "-c", "trap '' TERM; " + SPAWN_AND_HANG[2]]  # sleep inherits the trap

FAIL_UNLESS_FIXED = """\
import pathlib, sys
fixed = pathlib.Path("fixed").exists()
with open("gen.log", "a") as log:
    log.write("ok\\n" if fixed else "failed\\n")
if not fixed:
    print("generator output"); print("ERROR template 'post.html' not found", file=sys.stderr)
    sys.exit(3)
"""


def local_target(site_dir: Path, after: list[str], **extra: object) -> Path:
    """A local target ``site`` mirroring into ``site_dir/site/static/comments``."""
    mirror = site_dir / "site" / "static" / "comments"
    lines = [
        "\n[targets.site]",
        'kind = "local"',
        f"path = {json.dumps(str(mirror))}",
        f"after = {json.dumps(after)}",
    ]
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    add_to_config(site_dir, "\n".join(lines) + "\n")
    return mirror


def script(site_dir: Path, name: str, text: str) -> str:
    (site_dir / name).write_text(text, encoding="utf-8")
    return name  # relative: only found when the command runs in the config file's folder


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_rebuild_runs_after_in_the_config_folder_only_when_the_publish_changed_something(
    site_dir: Path, store: Store, tmp_path_factory: pytest.TempPathFactory
) -> None:
    mirror = local_target(site_dir, [sys.executable, script(site_dir, "record.py", RECORD)])
    # the command's argv names the mirror; it is filled in now that the path is known
    config = site_dir / "afterword.toml"
    config.write_text(
        config.read_text().replace('"record.py"]', f'"record.py", {json.dumps(str(mirror))}]')
    )
    add(store, "/blog/a/", "Hello")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    first = run_afterword("--config", str(config), "rebuild", cwd=elsewhere)
    assert first.returncode == 0, first.stderr
    assert "site: " in first.stdout
    assert ", after " in first.stdout
    log = site_dir / "after.log"
    assert log.read_text().splitlines() == [f"{site_dir} True"]  # after the files landed
    again = run_afterword("--config", str(config), "rebuild", "--json", cwd=elsewhere)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["after"] == {}  # nothing published: nothing run
    assert len(log.read_text().splitlines()) == 1
    add(store, "/blog/a/", "Second")
    third = run_afterword("--config", str(config), "rebuild", "--json", cwd=elsewhere)
    assert json.loads(third.stdout)["after"]["site"]["ok"] is True
    assert len(log.read_text().splitlines()) == 2


def test_rebuild_reports_a_failing_after_command_in_one_line_and_the_publish_counts(
    site_dir: Path, store: Store
) -> None:
    mirror = local_target(site_dir, [sys.executable, script(site_dir, "gen.py", FAIL_UNLESS_FIXED)])
    add(store, "/blog/a/", "Hello")
    failed = run_afterword("rebuild", cwd=site_dir)
    assert failed.returncode == 1
    assert failed.stderr.splitlines() == [
        f"Error: targets.site.after: {sys.executable}: exited with status 3: "
        "ERROR template 'post.html' not found"
    ]
    assert (mirror / "threads/blog/a/comments.json").exists()
    again = run_afterword("rebuild", "--json", cwd=site_dir)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["publish"]["site"]["uploaded"] == 0  # already published


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        ("no-such-generator-9f2c", "no such program (is it installed and on PATH?)"),
        ("./not-executable.sh", "permission denied (is it executable?)"),
        ("./no-interpreter", "cannot run: Exec format error"),
    ],
)
def test_rebuild_names_a_program_that_cannot_run(
    site_dir: Path, store: Store, program: str, expected: str
) -> None:
    (site_dir / "not-executable.sh").write_text("#!/bin/sh\n")
    (site_dir / "no-interpreter").write_text("neither a #! line nor a binary\n")
    (site_dir / "no-interpreter").chmod(0o755)
    local_target(site_dir, [program, "--minify"])
    add(store, "/blog/a/", "Hello")
    result = run_afterword("rebuild", cwd=site_dir)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"Error: targets.site.after: {program}: {expected}"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('after = "hugo --minify"', "targets.site.after must be a list of strings"),
        ("after = [1]", "targets.site.after must be a list of strings"),
        ('after = ["", "--minify"]', "targets.site.after must start with a program name"),
        ('after = ["  "]', "targets.site.after must start with a program name"),
        ('after = ["hugo", "a\\u0000b"]', "targets.site.after must not contain NUL"),
        ("after_timeout_seconds = 0", "targets.site.after_timeout_seconds must be at least 1"),
        ('after_timeout_seconds = "5"', "targets.site.after_timeout_seconds must be a number"),
    ],
)
def test_a_bad_after_setting_is_one_config_error(
    site_dir: Path, store: Store, setting: str, message: str
) -> None:
    add_to_config(site_dir, f'\n[targets.site]\nkind = "local"\npath = "m"\n{setting}\n')
    result = run_afterword("rebuild", cwd=site_dir)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ")
    assert message in lines[0]


def test_rebuild_kills_a_command_that_ignores_sigterm_with_its_children(
    site_dir: Path, store: Store
) -> None:
    local_target(site_dir, IGNORE_TERM, after_timeout_seconds=2)
    add(store, "/blog/a/", "Hello")
    started = time.monotonic()
    result = run_afterword("rebuild", cwd=site_dir, timeout=30)
    assert time.monotonic() - started < 15
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Error: targets.site.after: sh: killed after 2 s (after_timeout_seconds)"
    ]
    assert wait_for(lambda: not alive(int((site_dir / "child.pid").read_text())), 10)


def test_ctrl_c_during_the_after_command_takes_it_down_with_its_children(
    site_dir: Path, store: Store
) -> None:
    local_target(site_dir, SPAWN_AND_HANG, after_timeout_seconds=600)
    add(store, "/blog/a/", "Hello")
    child = subprocess.Popen(
        [sys.executable, "-m", "afterword", "rebuild"],
        cwd=site_dir,
        env=afterword_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for((site_dir / "child.pid").exists, 20), "the after command never started"
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode != 0
    assert "Traceback" not in err
    assert wait_for(lambda: not alive(int((site_dir / "child.pid").read_text())), 10)


def test_after_command_from_the_environment(site_dir: Path, store: Store) -> None:
    local_target(site_dir, [])
    add(store, "/blog/a/", "Hello")
    argv = f"{sys.executable},-c,import pathlib; pathlib.Path('env-ran').touch()"  # split on commas
    result = run_afterword("rebuild", cwd=site_dir, env={"AFTERWORD_TARGETS_SITE_AFTER": argv})
    assert result.returncode == 0, result.stderr
    assert (site_dir / "env-ran").exists()


def start_watch(site_dir: Path) -> subprocess.Popen[str]:
    """``afterword watch`` in ``site_dir``, its log going to ``watch.log`` (read any time)."""
    env = afterword_env({"AFTERWORD_WATCH_SETTLE_SECONDS": "0.3"})
    with (site_dir / "watch.log").open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "afterword", "watch"],
            cwd=site_dir,
            env=env,
            stderr=log,
            text=True,
        )


def watch_log(site_dir: Path) -> str:
    return (site_dir / "watch.log").read_text()


def stop_watch(child: subprocess.Popen[str], site_dir: Path) -> str:
    child.send_signal(signal.SIGTERM)
    child.wait(timeout=30)
    err = watch_log(site_dir)
    assert child.returncode == 0, err
    assert "Traceback" not in err
    return err


def test_watch_kills_an_after_command_past_its_timeout_and_goes_on(
    site_dir: Path, store: Store
) -> None:
    mirror = local_target(site_dir, SPAWN_AND_HANG, after_timeout_seconds=2)
    add(store, "/blog/a/", "Hello")
    child = start_watch(site_dir)
    try:
        pid_file = site_dir / "child.pid"
        assert wait_for(pid_file.exists, 20), "the after command never started"
        grandchild = int(pid_file.read_text())
        assert wait_for(lambda: not alive(grandchild), 15), "its child outlived the timeout"
        pid_file.unlink()
        add(store, "/blog/b/", "Still watching")
        # Generous: the kill's grace period, then a whole rebuild, on a loaded 2-core CI box.
        assert wait_for(lambda: (mirror / "threads/blog/b/comments.json").exists(), 60)
        assert wait_for(pid_file.exists, 30), "the after command did not run again"
    finally:
        err = stop_watch(child, site_dir)
    failures = [line for line in err.splitlines() if "after command failed" in line]
    assert failures, err
    assert "targets.site.after: sh: killed after 2 s (after_timeout_seconds)" in failures[0]


def test_watch_runs_a_failed_after_command_again_at_the_next_rebuild(
    site_dir: Path, store: Store
) -> None:
    gen = script(site_dir, "gen.py", FAIL_UNLESS_FIXED)
    local_target(site_dir, [sys.executable, gen])
    add(store, "/blog/a/", "Hello")
    log = site_dir / "gen.log"
    child = start_watch(site_dir)
    try:
        assert wait_for(log.exists, 20), "the after command never ran"
        (site_dir / "fixed").write_text("")
        # a config change starts a rebuild that publishes nothing; the failed command runs
        add_to_config(site_dir, "\n# touched\n")
        assert wait_for(lambda: log.read_text().splitlines() == ["failed", "ok"], 20)
        assert wait_for(lambda: watch_log(site_dir).count("rebuilt") == 2, 20)
        add_to_config(site_dir, "\n# touched again\n")  # it worked: no rerun without changes
        assert wait_for(lambda: watch_log(site_dir).count("rebuilt") == 3, 20)
    finally:
        err = stop_watch(child, site_dir)
    assert log.read_text().splitlines() == ["failed", "ok"]
    assert err.count("reloaded") == 2
    failure = [line for line in err.splitlines() if "after command failed" in line]
    assert len(failure) == 1, err
    assert failure[0].endswith("exited with status 3: ERROR template 'post.html' not found")
