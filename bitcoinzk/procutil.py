"""Helpers for the worker processes the node starts, and for the servers they run."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time

PARENT_POLL_S = 0.2


def exit_with_parent(parent: int) -> None:
    """Worker initializer: a parent killed with -9 must not leave its workers behind.

    Every worker the node, the devnet or `bzk prove` starts (signature checks, the
    block producer, the prover holding its ~0.5 GB key) calls this first thing. A
    daemon thread watches the parent pid: once the parent is gone the worker is
    reparented and exits at once. With the workers gone, multiprocessing's resource
    tracker sees its pipe close and exits too (it holds no other reference).

    Why not prctl(PR_SET_PDEATHSIG): the kernel sends it when the *thread* that
    created the child ends, and pool workers are created by whichever thread first
    submits work (e.g. an `asyncio.to_thread` worker), so it would also kill
    healthy workers. The prover computes in native code that releases the GIL, so
    the watcher still runs during a proof.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def with_parent_death_signal(args: list[str]) -> list[str]:
    """`args` run so that the kernel kills the command when the thread that started it
    ends (util-linux `setpriv --pdeathsig KILL`; `args` unchanged where it is missing).

    For `subprocess.run`: the calling thread waits for the command, so it only ends
    first when its whole process dies, and then the command (a circom2 compile of
    minutes, a snarkjs witness) dies with it instead of running on with parent 1.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *args] if setpriv else args


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a server about to start
    (the kernel picks it; another process may still take it before the server binds)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
