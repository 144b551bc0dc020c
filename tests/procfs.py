"""Processes read from /proc (psutil is not a dependency): who started whom, who is alive."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

Proc = tuple[int, int]
"""(pid, start time): a pid alone may be reused once the process is gone."""


def stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a live process, from /proc/<pid>/stat."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces
    return fields[0], int(fields[1]), int(fields[19])


def descendants(root: int) -> set[Proc]:
    """Every process below `root`, children of children included."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := stat(int(entry))) is not None:
            parents.setdefault(info[1], []).append(int(entry))
    found: set[Proc] = set()
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            info = stat(child)
            if info is not None:
                found.add((child, info[2]))
                todo.append(child)
    return found


def alive(procs: set[Proc]) -> set[Proc]:
    """Those still running (a zombie has exited: only its parent has not reaped it)."""
    out = set()
    for pid, start in procs:
        info = stat(pid)
        if info is not None and info[0] != "Z" and info[2] == start:
            out.add((pid, start))
    return out


def gone_within(procs: set[Proc], seconds: float) -> set[Proc]:
    """Those still alive after `seconds` (then killed, so no test leaves them behind)."""
    deadline = time.monotonic() + seconds
    while alive(procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = alive(procs)
    for pid, _ in left:  # never leave them running, whatever the test says
        os.kill(pid, signal.SIGKILL)
    return left


def cmdlines(procs: set[Proc]) -> list[str]:
    out = []
    for pid, _ in procs:
        try:
            out.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except FileNotFoundError:
            pass
    return out
