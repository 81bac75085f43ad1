"""A target's ``after`` command: run a program once a publish changed that target.

A local target inside a site generator's ``static/`` folder reaches readers only when the
generator runs again; ``[targets.NAME] after = ["hugo", "--minify"]`` does that after each
publish that uploaded or deleted something. The command is an argv list run without a shell
(no quoting rules, nothing can be interpolated), in the config file's folder, in a process
group of its own so that a timeout kills whatever it started as well. Its output goes to a
temporary file rather than a pipe: a grandchild that outlives the command cannot keep us
waiting on a pipe, and the last line of output explains a failure in one line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL for a command over its time
TAIL_BYTES = 4096  # how much of the output is read back to explain a failure
LINE_MAX = 200  # longest piece of the command's output quoted in a message


@dataclass(frozen=True)
class AfterResult:
    """How one target's after command went; ``message`` is one line, empty when it worked."""

    target: str
    argv: tuple[str, ...]
    ok: bool
    seconds: float
    returncode: int | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "argv": list(self.argv),
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "returncode": self.returncode,
            "message": self.message,
        }

    def summary(self) -> str:
        if self.ok:
            return f"after {self.argv[0]} ok in {self.seconds:.1f} s"
        return "after failed"


def run_after(target: str, argv: Sequence[str], *, cwd: Path, timeout: float) -> AfterResult:
    """Run ``argv`` in ``cwd``; never raises for the command's own failure, reports it."""
    command = tuple(argv)
    label = f"targets.{target}.after: {command[0]}"
    started = time.monotonic()

    def result(ok: bool, message: str = "", returncode: int | None = None) -> AfterResult:
        seconds = time.monotonic() - started
        return AfterResult(target, command, ok, seconds, returncode, message)

    with tempfile.TemporaryFile() as output:
        try:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except FileNotFoundError:
            return result(False, f"{label}: no such program (is it installed and on PATH?)")
        except PermissionError:
            return result(False, f"{label}: permission denied (is it executable?)")
        except OSError as exc:
            return result(False, f"{label}: cannot run: {exc.strerror}")
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return result(False, f"{label}: killed after {timeout:g} s (after_timeout_seconds)")
        finally:
            if process.poll() is None:  # interrupted (Ctrl-C): take the command down with us
                _kill_group(process)
        if code == 0:
            return result(True, returncode=0)
        how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
        tail = _last_line(output)
        return result(False, f"{label}: {how}" + (f": {tail}" if tail else ""), code)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the command's process group, then SIGKILL whatever is left after a grace period.

    The SIGKILL goes to the group even when the leader obeyed: its children may not have.
    """
    _signal_group(process, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(KILL_GRACE)
    _signal_group(process, signal.SIGKILL)
    process.wait()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
        os.killpg(process.pid, sig)


def _last_line(output: IO[bytes]) -> str:
    """The command's last non-blank line of output, printable and short."""
    size = output.seek(0, os.SEEK_END)
    output.seek(max(0, size - TAIL_BYTES))
    text = output.read().decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    line = "".join(ch if ch.isprintable() else " " for ch in lines[-1])
    return line if len(line) <= LINE_MAX else line[: LINE_MAX - 1] + "…"
