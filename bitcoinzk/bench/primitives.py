"""`bzk bench primitives`: the prover's primitives against gnark-crypto's, same run.

Ours (`_arkprover.bench_primitives`, native/prover/src/bench.rs): the G1 and G2 MSMs as
the prover calls them (`batch_msm.rs` on the key's converted points) and the witness
map's FFT pair (`fft.rs`: the iFFT, then the FFT on the odd coset of the doubled domain).
The peer (`benchmarks/gnark_peer`, gnark-crypto v0.19.0, pinned by its go.mod/go.sum):
`G1Jac.MultiExp`, `G2Jac.MultiExp` and `Domain.FFTInverse` + `Domain.FFT` on the same
coset, the same sizes and thread count (GOMAXPROCS and NbTasks). Both check their
results, so neither can report a figure for a wrong answer.

The peer is built with `go build` into PEER_CACHE the first time (keyed by a hash of
its sources); without `go`, or if the build or the run fails, the result says
`"gnark": null` and why (`gnark_error`): our figures are printed alone, never made up.

`ratio_*` divide our CPU seconds by gnark's (the machine is shared: CPU seconds are what
other jobs inflate least; `wall_ratio_*` are the wall-time ratios). `projected_*` are a
projection, not a measurement: the CPU seconds of one production proof's MSMs and FFTs
at each library's per-point rate measured here.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bitcoinzk.prover import native

GNARK_PEER_SOURCE = Path(__file__).resolve().parents[2] / "benchmarks" / "gnark_peer"
PEER_CACHE = Path.home() / ".cache" / "bitcoinzk" / "peer"
PEER_SOURCES = ("main.go", "go.mod", "go.sum")

# One proof at the production shape (B=64, E=4, D=24; docs/prover.md, "MSMs on
# halo2curves"): the points each MSM walks once zero and one scalars are set aside.
PRODUCTION_G1_POINTS = {"a": 1_120_000, "b1": 700_000, "c": 1_170_000, "h": 2**21}
PRODUCTION_G2_POINTS = 700_000  # B2: B1's points, in G2
PRODUCTION_FFT_LOG = 21
PRODUCTION_FFT_PAIRS = 3  # A, B and C: an iFFT and a coset FFT each (6 FFTs of 2^21)
# issue 12: 7 proven transfers/s at B=64 is a block per 64/7 s on 2 cores, for the
# witness and the proof together
BUDGET_7TPS_CPU_S = 2 * 64 / 7

OPERATIONS = ("g1_msm", "g2_msm", "ifft", "coset_fft")


class PeerUnavailable(RuntimeError):
    """gnark's side cannot run here (no `go`, a failed build or run); the message says why."""


def go_binary() -> str | None:
    """The `go` command on PATH, if any."""
    return shutil.which("go")


def _source_digest(source: Path) -> str:
    h = hashlib.sha256()
    for name in PEER_SOURCES:
        h.update(name.encode() + b"\0" + (source / name).read_bytes())
    return h.hexdigest()[:16]


def peer_binary(cache_dir: Path | None = None, source: Path | None = None) -> Path:
    """The built peer, from the cache or built now (one `go build`, ~1 min cold)."""
    src = source if source is not None else GNARK_PEER_SOURCE
    if not all((src / name).is_file() for name in PEER_SOURCES):
        raise PeerUnavailable(f"the peer's sources are not at {src}")
    target = (cache_dir if cache_dir is not None else PEER_CACHE) / _source_digest(src)
    binary = target / "gnark_peer"
    if binary.is_file():
        return binary
    go = go_binary()
    if go is None:
        raise PeerUnavailable("go is not on PATH: gnark's side was not built")
    target.mkdir(parents=True, exist_ok=True)
    # built beside the target and renamed: another bench may be building the same one
    fd, tmp = tempfile.mkstemp(prefix=".gnark_peer.", dir=target)
    os.close(fd)
    # the go.mod's toolchain (never a download), and go.sum as committed (no edits)
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"}
    try:
        done = subprocess.run(
            [go, "build", "-o", tmp, "."],
            cwd=src,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if done.returncode != 0:
            raise PeerUnavailable(f"go build failed: {done.stderr.strip()[-500:]}")
        os.replace(tmp, binary)
    except subprocess.TimeoutExpired as exc:
        raise PeerUnavailable("go build took over 15 minutes") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return binary


def run_peer(
    binary: Path, g1: int, g2: int, fft_log: int, threads: int, seed: int
) -> dict[str, Any]:
    """gnark's figures: the last line of the peer's output."""
    args = [f"-g1={g1}", f"-g2={g2}", f"-fft-log={fft_log}", f"-threads={threads}"]
    try:
        done = subprocess.run(
            [str(binary), *args, f"-seed={seed}"],
            env={**os.environ, "GOMAXPROCS": str(threads)},
            capture_output=True,
            text=True,
            timeout=3600,
        )
    except subprocess.TimeoutExpired as exc:
        raise PeerUnavailable("gnark_peer ran over an hour") from exc
    if done.returncode != 0:
        raise PeerUnavailable(f"gnark_peer failed: {done.stderr.strip()[-500:]}")
    lines = done.stdout.strip().splitlines()
    try:
        figures = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        figures = None
    if not isinstance(figures, dict):
        raise PeerUnavailable(f"gnark_peer printed no JSON object: {done.stdout[-200:]!r}")
    return figures


def ours(g1: int, g2: int, fft_log: int, threads: int, seed: int) -> dict[str, Any]:
    """Our figures (`_arkprover.bench_primitives`); the GIL is released meanwhile."""
    ext = native._arkprover
    if ext is None or not hasattr(ext, "bench_primitives"):
        raise native.NativeUnavailable(
            "bitcoinzk.prover._arkprover is not built, or built before bench_primitives "
            "(make install)"
        )
    return dict(ext.bench_primitives(g1, g2, fft_log, threads, seed))


def _ratio(x: object, y: object) -> float | None:
    if isinstance(x, int | float) and isinstance(y, int | float) and y > 0:
        return round(x / y, 3)
    return None


def _fft_scale(fft_log: int) -> float:
    """n log n at the production size over n log n at the measured one."""
    n, big = 2**fft_log, 2**PRODUCTION_FFT_LOG
    return (big * PRODUCTION_FFT_LOG) / (n * fft_log) if fft_log > 0 else math.nan


def projected_prod_cpu_s(figures: dict[str, Any], g1: int, g2: int, fft_log: int) -> float:
    """CPU seconds of one production proof's 5 MSMs and 6 FFTs at these figures' rates
    (MSM cost taken as linear in the points: larger MSMs are a little cheaper per point,
    so at 2^20 measured points H's 2^21 is slightly overestimated)."""
    per_g1 = float(figures["g1_msm_cpu_s"]) / g1
    per_g2 = float(figures["g2_msm_cpu_s"]) / g2
    pair = float(figures["ifft_cpu_s"]) + float(figures["coset_fft_cpu_s"])
    return (
        per_g1 * sum(PRODUCTION_G1_POINTS.values())
        + per_g2 * PRODUCTION_G2_POINTS
        + PRODUCTION_FFT_PAIRS * pair * _fft_scale(fft_log)
    )


def run(
    g1: int = 2**20,
    g2: int = 2**19,
    fft_log: int = 21,
    threads: int = 1,
    seed: int = 1,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Our primitives, then gnark's, same sizes and threads; a JSON-ready dict."""
    if min(g1, g2) < 2 or threads < 1:
        raise ValueError("--g1 and --g2 must be at least 2 and --threads at least 1")
    if not 1 <= fft_log <= 27:
        raise ValueError("--fft-log must be in 1..27")
    out: dict[str, Any] = {
        "g1_points": g1,
        "g2_points": g2,
        "fft_size": 2**fft_log,
        "threads": threads,
        "seed": seed,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    mine = ours(g1, g2, fft_log, threads, seed)
    out["msm"] = mine["msm"]
    keys = [f"{op}_{unit}" for op in OPERATIONS for unit in ("s", "cpu_s")]
    out["ours"] = {k: round(float(mine[k]), 4) for k in keys}
    gnark: dict[str, Any] | None = None
    error: str | None = None
    try:
        figures = run_peer(peer_binary(cache_dir), g1, g2, fft_log, threads, seed)
        gnark = {"gnark_crypto": figures.get("gnark_crypto"), "go": figures.get("go")}
        gnark.update({k: round(float(figures[k]), 4) for k in keys})
    except PeerUnavailable as exc:
        error = str(exc)
    except (KeyError, OSError) as exc:  # a figure missing from its line; cannot exec
        error = f"gnark_peer: {type(exc).__name__}: {exc}"
    out["gnark"] = gnark
    out["gnark_error"] = error
    pairs = [*OPERATIONS, "fft_pair"]
    a, b = dict(out["ours"]), dict(gnark or {})
    for d in (a, b):
        if d:
            d["fft_pair_s"] = d["ifft_s"] + d["coset_fft_s"]
            d["fft_pair_cpu_s"] = d["ifft_cpu_s"] + d["coset_fft_cpu_s"]
    for op in pairs:
        out[f"ratio_{op}"] = _ratio(a.get(f"{op}_cpu_s"), b.get(f"{op}_cpu_s"))
    for op in pairs:
        out[f"wall_ratio_{op}"] = _ratio(a.get(f"{op}_s"), b.get(f"{op}_s"))
    out["projection"] = (
        "not a measurement: CPU seconds of one B=64 D=24 proof's MSMs (G1: A 1.12M, B1 "
        "0.70M, C 1.17M, H 2^21 points; G2: B2 0.70M) and 6 FFTs of 2^21 at each "
        "library's rates measured above; the witness and the witness map's row sums "
        "are not in it"
    )
    out["projected_prod_cpu_s_ours"] = round(projected_prod_cpu_s(a, g1, g2, fft_log), 2)
    out["projected_prod_cpu_s_gnark"] = (
        round(projected_prod_cpu_s(b, g1, g2, fft_log), 2) if gnark else None
    )
    out["budget_7tps_cpu_s"] = round(BUDGET_7TPS_CPU_S, 2)
    out["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    return out
