"""Crypto throughput on one core: Poseidon, single verify, batch verify. Prints figures."""

import time

from bitcoinzk.crypto.eddsa import PrivateKey, verify, verify_batch
from bitcoinzk.crypto.poseidon import poseidon


def per_call(fn, n):
    fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def main() -> None:
    for n in (1, 2, 5, 16):
        xs = list(range(1, n + 1))
        print(f"poseidon n={n:2d}: {per_call(lambda xs=xs: poseidon(xs), 300) * 1e6:8.1f} us/call")
    keys = [PrivateKey(bytes([i]) * 32) for i in range(16)]
    items = []
    for i in range(1024):
        k = keys[i % 16]
        items.append((k.public_key(), i, k.sign(i)))
    t = time.perf_counter()
    for it in items[:256]:
        assert verify(*it)
    print(f"verify (single): {256 / (time.perf_counter() - t):8.0f} sig/s")
    for size in (64, 256, 1024):
        t = time.perf_counter()
        assert all(verify_batch(items[:size]))
        print(f"verify_batch({size:4d}): {size / (time.perf_counter() - t):8.0f} sig/s")


if __name__ == "__main__":
    main()
