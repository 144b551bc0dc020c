"""`bzk bench exit`: what leaving in exodus costs a user.

- `exit_build_s`: a user's time to build an exit claim from a synced full node's
  data directory holding 1M accounts (production depth 24): open the store, read
  the account's leaf and Merkle path (`exit.read_witness`, a few dozen rows), sign
  the exit, load the exit key and prove the exit circuit (`bitcoinzk.settlement.evm.exit`). The
  data directory is written here in the full node's own layout (accounts and tree
  nodes tables of `fullnode.sqlite`), built bottom-up in one pass: replaying 1M
  deposits through the contract would take hours and measure something else (the
  sync, which `fullnode_sync_tps` does).
- `forced_request_gas`, `exit_gas`: on the embedded EVM (py-evm) with the real
  contracts, at the dev shape: a `forceWithdraw`, then (the deadline passed)
  `activateExodus` and one `exit`.
- `fullnode_sync_tps`, `fullnode_peak_rss_mb`: `bzk bench fullnode` (bench/fullnode.py).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bitcoinzk.crypto import babyjub as bj
from bitcoinzk.crypto.eddsa import PrivateKey
from bitcoinzk.crypto.poseidon import poseidon
from bitcoinzk.sequencer.store import Store
from bitcoinzk.spec.params import LEVEL_BITS, TREE_ARITY, ChainParams
from bitcoinzk.spec.tree import zero_hashes

CHUNK = 1 << 16
OWNER_KEY = PrivateKey(b"\x07" * 32)
"""The key of the account whose exit is measured; every other account's key is a
curve point nobody holds (the tree's shape, not the keys, is what the figure depends on)."""


def balance_of(index: int) -> int:
    return 1_000 + (index * 7919) % 1_000_000


def _leaves(start: int, stop: int) -> tuple[list[str], list[int]]:
    """Pubkeys (packed hex) and leaves of accounts start..stop-1 (a worker's share)."""
    keys, leaves = [], []
    for index in range(start, stop):
        x, y = bj.base8_mul(index + 1)
        keys.append(bj.pack((x, y)).hex())
        leaves.append(poseidon([x, y, balance_of(index), 0]))
    return keys, leaves


def _chunks(n: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, CHUNK):
        yield start, min(n, start + CHUNK)


def build_state_store(
    path: Path, params: ChainParams, accounts: int, owner: int, workers: int = 2
) -> int:
    """A full node store at `path` with `accounts` accounts (indices 0..accounts-1,
    `owner`'s key OWNER_KEY); returns the root. Leaves are hashed in `workers`
    processes, then each level's parents from the level below (contiguous indices,
    so a level is a list), and everything is written in one SQLite transaction."""
    owner_pub = OWNER_KEY.public_key()
    keys: list[str] = []
    leaves: list[int] = []
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        for chunk_keys, chunk_leaves in pool.map(_leaves, *zip(*_chunks(accounts), strict=True)):
            keys += chunk_keys
            leaves += chunk_leaves
    keys[owner] = owner_pub.hex()
    leaves[owner] = poseidon([owner_pub.x, owner_pub.y, balance_of(owner), 0])
    zeros = zero_hashes()
    levels: list[list[int]] = [leaves]
    for level in range(params.tree_depth // LEVEL_BITS):
        below = levels[-1]
        pad = (-len(below)) % TREE_ARITY
        padded = below + [zeros[level]] * pad
        levels.append(
            [poseidon(padded[i : i + TREE_ARITY]) for i in range(0, len(padded), TREE_ARITY)]
        )
    store = Store(path)
    try:
        with store.transaction() as db:
            db.executemany(
                "INSERT INTO accounts(idx, pubkey, balance, nonce) VALUES (?,?,?,0)",
                ((i, keys[i], balance_of(i)) for i in range(accounts)),
            )
            db.executemany(
                "INSERT INTO nodes(level, idx, value) VALUES (?,?,?)",
                (
                    (level, i, hex(value))
                    for level, nodes in enumerate(levels)
                    for i, value in enumerate(nodes)
                ),
            )
    finally:
        store.close()
    return levels[-1][0]


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def build_exit_from(
    data: Path, tree_depth: int, owner: int, key_dir: Path | None
) -> dict[str, Any]:
    """In the measured process (as `bzk exit` would run): from a synced full node's store
    to a verified exit proof. The exit key is made beforehand (once per tree depth, like
    any cached key), so its load counts here but not its setup."""
    from bitcoinzk.fullnode.exit import read_witness
    from bitcoinzk.settlement.evm.exit.claim import prove_exit, sign_exit

    spk = bytes.fromhex("0014") + bytes(range(20))
    t0 = time.perf_counter()
    store = Store(data)
    witness = read_witness(store, tree_depth, owner)
    store.close()
    read = time.perf_counter() - t0
    signature = sign_exit(OWNER_KEY, 1, owner, spk)
    claim = prove_exit(
        owner, witness.leaf, witness.path, tree_depth, spk, 1, signature, key_dir=key_dir
    )
    total = time.perf_counter() - t0
    assert claim.root == witness.root and claim.balance == balance_of(owner)
    return {
        "exit_witness_s": round(read, 4),
        "exit_build_s": round(total, 2),
        "rss": _peak_rss_mb(),
    }


def _child(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bitcoinzk.bench.exit", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"exit bench child failed: {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def measure_gas(tmp: Path, tree_depth: int) -> dict[str, Any]:
    """forceWithdraw, then exodus and one exit through `bzk exit`'s own path (a full node
    synced from the contract, its witness, the proof, the claim), on the embedded EVM."""
    from bitcoinzk.bench.fullnode import (
        bench_genesis,
        commit_all,
        deploy_accepting,
        transfer_blocks,
        user_key,
    )
    from bitcoinzk.fullnode.exit import exit_account, synced_store
    from bitcoinzk.fullnode.server import FullNodeConfig
    from bitcoinzk.settlement.evm.client import EmbeddedClient
    from bitcoinzk.spec.types import ForcedWithdraw, Withdraw

    params = ChainParams(tree_depth=tree_depth, block_slots=8, block_records=1)
    genesis = bench_genesis(params, 8)
    chain = tmp / "chain"
    chain.mkdir()
    client = EmbeddedClient(chain / "evm.sqlite")
    rollup = deploy_accepting(client, params, genesis.state().root)
    rollup.deployment.save(chain / "settlement.json")
    commit_all(rollup, transfer_blocks(genesis, 2))
    # the sequencer ignores user 1's withdrawal: user 1 queues it on the contract
    config = FullNodeConfig(tmp / "fullnode", evm_data=chain)
    store = synced_store(config, genesis, rollup)
    account = int(store.db.execute("SELECT MIN(idx) FROM accounts WHERE idx > 0").fetchone()[0])
    nonce = int(
        store.db.execute("SELECT nonce FROM accounts WHERE idx=?", (account,)).fetchone()[0]
    )
    store.close()
    key = user_key(account)
    signed = Withdraw(account, bytes.fromhex("0014") + bytes(20), 5_000, 1, nonce).signed(
        key, params.chain_id
    )
    assert signed.signature is not None
    forced = rollup.force_withdraw(
        ForcedWithdraw(0, account, signed.script_pubkey, 5_000, 1, nonce, signed.signature)
    )
    # nothing processes it: past its deadline anyone starts exodus
    client.chain.env.evm.patch.timestamp = forced.deadline + 1
    rollup.activate_exodus()
    store = synced_store(config, genesis, rollup)
    try:
        result = exit_account(store, rollup, tree_depth, key, bytes.fromhex("0014") + bytes(20))
    finally:
        store.close()
        client.close()
    return {"forced_request_gas": forced.gas_used, "exit_gas": result.gas_used}


def run(
    accounts: int = 1_000_000, tree_depth: int = 24, fullnode_blocks: int = 64
) -> dict[str, Any]:
    from bitcoinzk.bench.fullnode import run as run_fullnode
    from bitcoinzk.settlement.evm.exit.circuit import ExitShape, ensure_exit_keys

    out: dict[str, Any] = {"bench": "exit", "accounts": accounts, "tree_depth": tree_depth}
    # first: its peak memory is the largest of this process's children so far
    # (RUSAGE_CHILDREN), so no other child may have run before it
    fullnode = run_fullnode(blocks=fullnode_blocks, slots=64, tree_depth=tree_depth)
    out["fullnode_sync_tps"] = fullnode["fullnode_sync_tps"]
    out["fullnode_sync_tps_cpu"] = fullnode["fullnode_sync_tps_cpu"]
    out["fullnode_transfers"] = fullnode["transfers"]
    out["fullnode_peak_rss_mb"] = fullnode["fullnode_peak_rss_mb"]
    t0 = time.perf_counter()
    ensure_exit_keys(ExitShape(tree_depth))
    out["exit_key_setup_s"] = round(time.perf_counter() - t0, 1)  # 0-ish: cached
    with tempfile.TemporaryDirectory(prefix="bzk-exit-bench-") as name:
        tmp = Path(name)
        out.update(measure_gas(tmp, tree_depth))
        data = tmp / "fullnode-1m" / "fullnode.sqlite"
        owner = accounts // 2 + 1
        t1 = time.perf_counter()
        build_state_store(data, ChainParams(tree_depth=tree_depth), accounts, owner)
        out["state_build_s"] = round(time.perf_counter() - t1, 1)
        out["state_db_mb"] = round(os.path.getsize(data) / 2**20, 1)
        child = _child("build", str(data), str(tree_depth), str(owner))
        out["exit_witness_s"] = child["exit_witness_s"]
        out["exit_build_s"] = child["exit_build_s"]
        out["exit_build_peak_rss_mb"] = child["rss"]
    out["load_avg_1m"] = round(os.getloadavg()[0], 1)
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["build"]:
        data, depth, owner = Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
        print(json.dumps(build_exit_from(data, depth, owner, None)))
    else:
        print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)))
