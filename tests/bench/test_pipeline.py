"""`bench pipeline`'s throughput figures from a real store (figures, not timed runs)."""

from __future__ import annotations

from pathlib import Path

from bitcoinzk.bench.pipeline import _rate
from bitcoinzk.sequencer.store import BatchStatus, Store, StoredBlock


def _store(path: Path, finals: list[tuple[float, float, int]]) -> Store:
    """Blocks 1.. made at `made`, final at `final`, holding `txs` transfers each."""
    store = Store(path)
    for number, (made, final, txs) in enumerate(finals, start=1):
        ops = [{"op": "transfer"}] * txs
        store.insert_block(StoredBlock(number, 0, 0, made, ops, b"", 0, 0))
        store.put_batch(number, BatchStatus.FINAL, 0, b"", {"final_at": final})
    return store


def test_a_pipeline_that_keeps_pace_finalises_at_the_offered_rate(tmp_path: Path) -> None:
    # 4 transfers every 10 s (0.4 tx/s offered), each block final 25 s after it is made;
    # block 6 holds the leftovers, made after the load ended at t = 55: not steady state
    blocks = [(10.0 * i, 10.0 * i + 25, 4) for i in range(1, 6)] + [(70.0, 95.0, 1)]
    store = _store(tmp_path / "a.sqlite", blocks)
    assert _rate(store, list(range(1, 7)), "final_at", 55.0) == 16 / 40
    store.close()


def test_a_pipeline_that_falls_behind_finalises_at_its_proving_rate(tmp_path: Path) -> None:
    # offered as above, but one proof takes 20 s: the backlog grows, finals 20 s apart
    blocks = [(10.0 * i, 30.0 + 20 * i, 4) for i in range(1, 6)]
    store = _store(tmp_path / "b.sqlite", blocks)
    assert _rate(store, list(range(1, 6)), "final_at", 55.0) == 16 / 80
    assert _rate(store, [1], "final_at", 55.0) is None  # one block says nothing
    store.close()
