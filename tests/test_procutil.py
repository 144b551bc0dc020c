"""A command a worker runs dies with it, even under kill -9 (real processes)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from bitcoinzk.procutil import with_parent_death_signal
from tests.procfs import descendants, gone_within


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="util-linux setpriv not installed")
def test_a_command_started_from_a_thread_dies_with_its_process() -> None:
    # As a prover worker runs snarkjs: subprocess.run from a pool thread.
    script = textwrap.dedent(
        """
        import subprocess, sys, threading
        from bitcoinzk.procutil import with_parent_death_signal
        def run():
            subprocess.run(with_parent_death_signal(["sleep", "120"]))
        threading.Thread(target=run, daemon=True).start()
        print("started", flush=True)
        threading.Event().wait()
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "started"
        children = set()
        for _ in range(100):
            children = descendants(parent.pid)
            if children:
                break
            subprocess.run(["sleep", "0.05"])
        assert children, "the command did not start"
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert not gone_within(children, 5), "the command outlived its process"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_without_setpriv_the_command_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert with_parent_death_signal(["snarkjs", "wtns"]) == ["snarkjs", "wtns"]
