"""
Crypto cost per call on one core, pure Python vs the C extension. Prints figures.

    python benchmarks/crypto_eddsa.py            # both back ends side by side
    BITCOINZK_PURE_PYTHON=1 python benchmarks/crypto_eddsa.py   # pure Python only

"pure" is the code path taken without the extension: gmpy2 for Poseidon and the curve.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from unittest.mock import patch

from bitcoinzk.bench.timing import per_call_us
from bitcoinzk.crypto import babyjub as bj
from bitcoinzk.crypto import eddsa as ed

P_MOD = importlib.import_module("bitcoinzk.crypto.poseidon")
R = P_MOD.FIELD_MODULUS
BUDGET_S = 0.4
"""CPU seconds per case and back end."""


@contextmanager
def pure() -> Iterator[None]:
    with (
        patch.object(P_MOD, "NATIVE", None),
        patch.object(bj, "NATIVE", None),
        patch.object(ed, "NATIVE", None),
    ):
        yield


def cases() -> list[tuple[str, Callable[[], object]]]:
    out: list[tuple[str, Callable[[], object]]] = []
    for n in (1, 2, 4, 5, 8, 16):
        xs = [R - 1 - 7919 * i for i in range(n)]
        out.append((f"poseidon n={n:2d}", lambda xs=xs: P_MOD.poseidon(xs)))
    key = ed.PrivateKey(bytes(range(32)))
    pub = key.public_key()
    sig = key.sign(1234)
    assert ed.verify(pub, 1234, sig)
    out.append(("eddsa verify", lambda: ed.verify(pub, 1234, sig)))
    out.append(("eddsa sign", lambda: key.sign(1234)))
    out.append(("public_key (fresh)", lambda: ed.PrivateKey(bytes(32)).public_key()))
    out.append(("babyjub mul (k < l)", lambda: bj.mul(bj.B8, bj.L - 12345)))
    out.append(("babyjub base8_mul", lambda: bj.base8_mul(bj.L - 12345)))
    packed = sig.to_bytes()
    out.append(("Signature.from_bytes", lambda: ed.Signature.from_bytes(packed)))
    return out


# The sequencer's crypto per accepted transaction: message hash Poseidon(8), one
# signature check, and at inclusion two leaf hashes Poseidon(4) plus 2 x 8 Merkle
# nodes Poseidon(8) (the 8-ary tree at depth 24).
PER_TX = {"poseidon n= 8": 17, "eddsa verify": 1, "poseidon n= 4": 2}


def main() -> None:
    native = P_MOD.NATIVE is not None
    print(f"{'operation':22s} {'pure (us)':>11s} {'native (us)':>12s} {'speed-up':>9s}")
    tx_pure = tx_native = 0.0
    for name, fn in cases():
        with pure():
            slow = per_call_us(fn, BUDGET_S)
        tx_pure += PER_TX.get(name, 0) * slow
        if native:
            fast = per_call_us(fn, BUDGET_S)
            tx_native += PER_TX.get(name, 0) * fast
            print(f"{name:22s} {slow:11.1f} {fast:12.1f} {slow / fast:8.1f}x")
        else:
            print(f"{name:22s} {slow:11.1f} {'-':>12s}")
    line = f"{'per transaction':22s} {tx_pure:11.1f}"
    if native:
        line += f" {tx_native:12.1f} {tx_pure / tx_native:8.1f}x"
    print(line + "   (17 Poseidon(8) + verify + 2 Poseidon(4))")
    keys = [ed.PrivateKey(bytes([i]) * 32) for i in range(16)]
    items = [(keys[i % 16].public_key(), i, keys[i % 16].sign(i)) for i in range(256)]
    for label, ctx in (("pure", pure), ("native", None)):
        if ctx is None and not native:
            continue
        with ctx() if ctx is not None else contextmanager(lambda: iter([None]))():
            t = time.perf_counter()
            assert all(ed.verify_batch(items))
            rate = len(items) / (time.perf_counter() - t)
        print(f"verify_batch(256), {label}: {rate:8.0f} sig/s")


if __name__ == "__main__":
    main()
