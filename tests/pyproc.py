"""Python module subprocesses that tests talk to: started, read up to their first line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def start_module(*args: str, stdin: bool = False) -> tuple[subprocess.Popen[str], str]:
    """`python -m <args>` with unbuffered stdout and its stderr dropped, and the first
    line it prints (a server prints where it listens)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *args],
        stdin=subprocess.PIPE if stdin else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline()


def kill9(proc: subprocess.Popen[str] | None) -> None:
    """SIGKILL: no handler runs, as in a crash."""
    assert proc is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
