"""Loading an intake with Debian's ``wrk``: the Lua both intake benches share, and its result.

A bench gives the ``request()`` function (what it posts); this module wraps it with the
counting ``setup``/``init``/``response``/``done`` functions, runs wrk against a URL and reads
back one line, ``RESULT accepted=… other=… duration_us=… p50_us=… p99_us=…``: 202s counted
apart from every other answer, so a bench can check them against the rows stored. The words
after ``--`` reach the script as ``run`` (``args[1]``), for bodies unlike earlier runs'.
Used by ``bench/intake.py`` and ``bench/autoapprove.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path

HEAD = r"""
local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  run = args[1] or ""
  counter = 0
  accepted = 0
  other = 0
end
"""
TAIL = r"""
function response(status, headers, body)
  if status == 202 then accepted = accepted + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    o = o + t:get("other")
  end
  io.write(string.format("RESULT accepted=%d other=%d duration_us=%d p50_us=%d p99_us=%d\n",
    a, o, summary.duration, latency:percentile(50), latency:percentile(99)))
end
"""
RESULT = re.compile(
    r"RESULT accepted=(\d+) other=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+)"
)


@dataclasses.dataclass(frozen=True)
class WrkResult:
    """What one wrk run counted."""

    accepted: int
    other: int
    duration_us: int
    p50_us: int
    p99_us: int

    @property
    def per_second(self) -> float:
        return self.accepted / (self.duration_us / 1e6)


def lua_script(request: str) -> str:
    """The whole wrk script around a bench's ``function request() … end``."""
    return HEAD + request + TAIL


def have_wrk() -> bool:
    """Whether wrk is installed; says how to get it when it is not."""
    if shutil.which("wrk") is not None:
        return True
    print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
    return False


@dataclasses.dataclass(frozen=True)
class Load:
    """How hard wrk pushes: its threads, open connections and seconds."""

    threads: int
    connections: int
    duration: int

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Load:
        """From a bench's ``--threads``, ``--connections`` and ``--duration``."""
        return cls(args.threads, args.connections, args.duration)


def run_wrk(url: str, script: Path, load: Load, *, run: str = "") -> WrkResult:
    """One wrk run against ``url``; ``run`` is passed to the script (``args[1]``)."""
    command = [
        "wrk", f"-t{load.threads}", f"-c{load.connections}", f"-d{load.duration}s",
        "--timeout", "5s", "-s", str(script), url, "--", run,
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = RESULT.search(output)
    if match is None:
        raise SystemExit(f"could not read wrk's result:\n{output}")
    return WrkResult(*(int(group) for group in match.groups()))


def rows_consistent(result: WrkResult, stored: int, connections: int) -> bool:
    """Every 202 is a stored row, give or take the requests wrk abandoned in flight when time
    ran out (at most one per connection: committed, but their answer was never read)."""
    return result.other == 0 and 0 <= stored - result.accepted <= connections
