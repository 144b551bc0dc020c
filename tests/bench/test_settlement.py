"""`bench_production` measures real batched commits (figures, not timed assertions)."""

from __future__ import annotations

from bitcoinzk.bench.settlement import bench_production


def test_batched_commit_shares_the_fixed_cost() -> None:
    result = bench_production(slots=(16,), ks=(1, 3), production=(16, 3))
    grid = result["batched_commits"]
    one, three = grid["B=16,k=1"], grid["B=16,k=3"]
    assert one["transfers"] == 16 and three["transfers"] == 48
    # three proofs in one transaction cost less per transfer than one alone: the
    # transaction base, three of the four pairings and the storage slot are shared
    assert three["gas_per_transfer_standard"] < one["gas_per_transfer_standard"]
    assert result["gas_per_transfer_production"] == three["gas_per_transfer"]
    assert "measured, not extrapolated" in result["gas_per_transfer_production_method"]
    parts = three["per_transfer"]
    assert parts["pairings"] == round((45_000 + 34_000 * 6) / 48, 1)
