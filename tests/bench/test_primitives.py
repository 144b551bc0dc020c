"""`bzk bench primitives`: our MSMs agree with arkworks' own, the peer is gnark-crypto
built from its pinned sources (or reported missing, never faked), and the CLI's last
line is one JSON object. Small sizes: the figures are not checked, only their form."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bitcoinzk.bench import primitives
from bitcoinzk.cli import app
from bitcoinzk.prover import native

pytestmark = pytest.mark.skipif(
    not native.built() or not hasattr(native._arkprover, "bench_primitives"),
    reason="native prover not built, or built before bench_primitives (make install)",
)

needs_go = pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")


@pytest.fixture
def no_go(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """PATH without `go`, and an empty peer cache (a cached build needs no go)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    assert primitives.go_binary() is None
    cache = tmp_path / "cache"
    monkeypatch.setattr(primitives, "PEER_CACHE", cache)
    return cache


def test_our_msms_agree_with_arkworks_msm() -> None:
    from bitcoinzk.prover import _arkprover

    r = _arkprover.bench_primitives(1000, 333, 10, threads=2, seed=7, reference=True)
    assert r["g1_reference_ok"] is True and r["g2_reference_ok"] is True
    assert (r["g1_points"], r["g2_points"], r["fft_size"], r["threads"]) == (1000, 333, 1024, 2)
    for op in primitives.OPERATIONS:
        assert isinstance(r[f"{op}_s"], float) and isinstance(r[f"{op}_cpu_s"], float)


def test_our_side_refuses_sizes_it_cannot_run() -> None:
    from bitcoinzk.prover import _arkprover

    with pytest.raises(ValueError, match="fft_log"):
        _arkprover.bench_primitives(16, 16, 28)
    with pytest.raises(ValueError, match="at least 1"):
        _arkprover.bench_primitives(16, 16, 4, threads=0)


def test_without_go_gnark_is_null_and_ours_still_reported(no_go: Path) -> None:
    r = primitives.run(g1=2**10, g2=2**9, fft_log=10)
    assert r["gnark"] is None
    assert "go is not on PATH" in r["gnark_error"]
    assert r["ratio_g1_msm"] is None and r["projected_prod_cpu_s_gnark"] is None
    assert set(r["ours"]) == {f"{op}_{u}" for op in primitives.OPERATIONS for u in ("s", "cpu_s")}
    assert r["projected_prod_cpu_s_ours"] > 0
    assert not no_go.exists() or not any(no_go.rglob("gnark_peer"))


def test_cli_last_line_is_one_json_object(no_go: Path) -> None:
    args = ["bench", "primitives", "--g1", "1024", "--g2", "512", "--fft-log", "10", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert isinstance(last, dict)
    assert last["g1_points"] == 1024 and last["gnark"] is None and last["gnark_error"]


def test_cli_rejects_a_size_the_peer_cannot_run() -> None:
    result = CliRunner().invoke(app, ["bench", "primitives", "--g1", "1", "--json"])
    assert result.exit_code == 1 and "--g1" in result.stdout


@needs_go
def test_gnark_peer_built_from_pinned_sources_runs_the_same_operations() -> None:
    # the shared cache: built once (~1 min cold), then reused by every run
    r = primitives.run(g1=2**10, g2=2**9, fft_log=10, threads=2, seed=3)
    assert r["gnark_error"] is None, r["gnark_error"]
    gnark = r["gnark"]
    assert gnark is not None and gnark["gnark_crypto"] == "v0.19.0"
    for op in [*primitives.OPERATIONS, "fft_pair"]:
        assert isinstance(r[f"ratio_{op}"], float)
    assert r["projected_prod_cpu_s_gnark"] > 0


@needs_go
def test_a_peer_that_does_not_build_is_reported_not_faked(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(primitives.GNARK_PEER_SOURCE, source)
    (source / "main.go").write_text("package main\n\nfunc main() { undefined() }\n")
    with pytest.raises(primitives.PeerUnavailable, match="go build failed"):
        primitives.peer_binary(tmp_path / "cache", source)
