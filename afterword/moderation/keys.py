"""Reading single keys for ``afterword review``, from a terminal or from a script.

On a terminal a key is read without Enter; when standard input is not a terminal, keys are
read one character at a time with whitespace ignored, so ``printf 'a\\nq\\n'`` and
``echo aq`` piped into ``afterword review`` both work. An empty string means the input
ended, which the review treats like ``q``.
"""

from __future__ import annotations

import codecs
import os
import sys
import termios
import tty
from collections.abc import Callable
from typing import TextIO

KeyReader = Callable[[], str]


def key_reader(stream: TextIO | None = None) -> KeyReader:
    """Keys from the terminal when there is one, else characters from the stream."""
    source = stream or sys.stdin
    if source.isatty():
        return TerminalKeys(source.fileno())
    return lambda: _read_stream_key(source)


class TerminalKeys:
    """Single keys from a terminal, no Enter needed — like ``click.getchar``, minus a flaw.

    ``click.getchar`` enters raw mode with TCSAFLUSH, which discards keys typed while the
    previous comment was being handled; a moderator who knows the queue types ahead. Here
    cbreak mode is entered with TCSANOW, so nothing typed is lost, keys that arrive together
    are handed out one by one, and Ctrl-C still interrupts (and quits).
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending: list[str] = []
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def __call__(self) -> str:
        while not self.pending:
            chunk = self._read()
            if chunk is None:
                return "q"
            text = self.decoder.decode(chunk)
            # An escape sequence (an arrow key) is one key, not three.
            self.pending = [text] if text.startswith("\x1b") else list(text)
        return self.pending.pop(0)

    def _read(self) -> bytes | None:
        saved = termios.tcgetattr(self.fd)
        try:
            tty.setcbreak(self.fd, termios.TCSANOW)
            return os.read(self.fd, 32) or None
        except KeyboardInterrupt:
            return None
        finally:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, saved)


def _read_stream_key(stream: TextIO) -> str:
    while True:
        char = stream.read(1)
        if not char or not char.isspace():
            return char
