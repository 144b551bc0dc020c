"""`bzk bench fullnode`: how fast a full node rebuilds the state from DA, and its memory.

A chain of full blocks of transfers (production shape by default: 64 slots, depth 24)
is committed to a real Rollup contract on the embedded EVM, 16 batches per
`commitBatches`; then a fresh full node process follows it from nothing and the
figures are its: `fullnode_sync_tps` = transfers replayed per second (decode the
calldata, check batch hash and withdrawals against the event, replay with the STF,
check the root and the chain hash against the contract's storage, store block, receipts
and state in SQLite) over wall time, `fullnode_sync_tps_cpu` the same over the process's
CPU time (the machine is shared: wall time depends on what else runs), and
`fullnode_peak_rss_mb` = that process's peak resident memory.

The contract's verifier here accepts every proof: proving 64-slot blocks takes minutes
each on this machine, and a full node never checks proofs (the contract did, and the
follower only reads what the contract accepted), so the figures do not depend on it.
Everything else is the real Rollup (hasher, chain hash, events).
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bitcoinzk.crypto.eddsa import PrivateKey
from bitcoinzk.settlement.evm.client import EmbeddedClient, EvmClient
from bitcoinzk.settlement.evm.contracts import MAX_BATCHES, compile_source
from bitcoinzk.settlement.evm.rollup import PROOF_BYTES, Rollup, deploy_with_verifier
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.stf import apply_block
from bitcoinzk.spec.types import Operation, Transfer

ACCEPT_ALL_VERIFIER = """
# bench only: a full node never checks proofs, so its sync speed does not depend on them
@external
@view
def verifyBatch(proofs: DynArray[uint256[8], 16], inputs: DynArray[uint256, 16]) -> bool:
    return True
"""


def user_key(i: int) -> PrivateKey:
    return PrivateKey(i.to_bytes(4, "big") * 8)


def deploy_accepting(client: EvmClient, params: ChainParams, genesis_root: int) -> Rollup:
    """A real Rollup whose verifier accepts every proof (see the module docstring)."""
    verifier = compile_source(ACCEPT_ALL_VERIFIER, "AcceptAllVerifier")
    return deploy_with_verifier(client, verifier, params, genesis_root)


def transfer_blocks(
    genesis: Genesis, blocks: int, seed: int = 1, fork_at: int = 0
) -> list[tuple[bytes, int]]:
    """Blocks 1..`blocks`, full of transfers between the genesis users: (batch data, new
    root). From block `fork_at` on (if > 0) they differ from the same call without it:
    another history on the same prefix, as a reorg brings."""
    params = genesis.params
    state = genesis.state()
    users = [i for i in state.accounts if i != params.fee_account]
    out = []
    for n in range(1, blocks + 1):
        rng = random.Random(f"{seed}-{n}-{int(0 < fork_at <= n)}")
        nonces: dict[int, int] = {}
        ops: list[Operation] = []
        for _ in range(params.block_slots):
            src, dst = rng.sample(users, 2)
            acct = state.get(src)
            assert acct is not None
            nonce = nonces.get(src, acct.nonce)
            nonces[src] = nonce + 1
            recipient = state.get(dst)
            assert recipient is not None
            ops.append(Transfer(src, dst, recipient.pubkey, rng.randrange(1, 1000), 1, nonce))
        result = apply_block(state, params, n, ops, check_signatures=False)
        state.merge(result.state)
        out.append((result.pubdata.to_bytes(), result.trace.new_root))
    return out


def commit_all(rollup: Rollup, blocks: list[tuple[bytes, int]], per_tx: int = MAX_BATCHES) -> None:
    proof = bytes(PROOF_BYTES)
    for i in range(0, len(blocks), per_tx):
        rollup.commit_batches([(data, root, proof) for data, root in blocks[i : i + per_tx]])


def bench_genesis(params: ChainParams, users: int) -> Genesis:
    operator = PrivateKey(b"\x01" * 32).public_key()
    allocations = tuple((user_key(i).public_key(), 10_000_000) for i in range(1, users + 1))
    return Genesis(params, operator, allocations)


def build_chain(
    directory: Path, params: ChainParams, users: int, blocks: int, per_tx: int = MAX_BATCHES
) -> tuple[Genesis, Rollup]:
    """An embedded chain in `directory` (evm.sqlite, settlement.json, genesis.json), as a
    sequencer node's data directory holds it."""
    directory.mkdir(parents=True, exist_ok=True)
    genesis = bench_genesis(params, users)
    (directory / "genesis.json").write_text(json.dumps(genesis.to_json()))
    client = EmbeddedClient(directory / "evm.sqlite")
    rollup = deploy_accepting(client, params, genesis.state().root)
    rollup.deployment.save(directory / "settlement.json")
    commit_all(rollup, transfer_blocks(genesis, blocks), per_tx)
    return genesis, rollup


def _sync(chain_dir: Path, data_dir: Path) -> dict[str, Any]:
    """In the measured process: follow the chain from nothing to its head."""
    from bitcoinzk import safejson
    from bitcoinzk.fullnode.server import FullNodeConfig, open_follower

    genesis = Genesis.from_json(safejson.load_path(chain_dir / "genesis.json"))
    t0 = time.perf_counter()
    follower = open_follower(FullNodeConfig(data_dir, evm_data=chain_dir), genesis)
    opened = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), time.process_time()
    report = follower.sync_once()
    seconds, cpu = time.perf_counter() - t1, time.process_time() - c1
    count, root, _ = follower.rollup.head()
    assert follower.head == count and follower.state.root == root, "did not reach the contract"
    follower.store.close()
    return {
        "batches": report.applied,
        "transfers": report.transfers,
        "sync_s": round(seconds, 3),
        "sync_cpu_s": round(cpu, 3),
        "open_s": round(opened, 3),
    }


def run(
    blocks: int = 64, slots: int = 64, tree_depth: int = 24, users: int = 1000
) -> dict[str, Any]:
    params = ChainParams(tree_depth=tree_depth, block_slots=slots, block_records=slots // 16 or 1)
    with tempfile.TemporaryDirectory(prefix="bzk-fullnode-bench-") as tmp:
        chain_dir = Path(tmp) / "sequencer"
        t0 = time.perf_counter()
        build_chain(chain_dir, params, users, blocks)
        build_s = time.perf_counter() - t0
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "bitcoinzk.bench.fullnode",
                str(chain_dir),
                str(Path(tmp) / "fn"),
            ],
            capture_output=True,
            text=True,
            env={**os.environ},
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"full node sync failed: {proc.stderr[-2000:]}")
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        child = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "bench": "fullnode",
        "shape": f"B{slots}-D{tree_depth}",
        "users": users,
        "batches": child["batches"],
        "transfers": child["transfers"],
        "build_chain_s": round(build_s, 1),
        "fullnode_open_s": child["open_s"],
        "fullnode_sync_s": child["sync_s"],
        "fullnode_sync_cpu_s": child["sync_cpu_s"],
        "fullnode_sync_tps": round(child["transfers"] / child["sync_s"], 1),
        # per CPU second of the follower: what an idle core gives, whatever else runs here
        "fullnode_sync_tps_cpu": round(child["transfers"] / child["sync_cpu_s"], 1),
        "load_avg_1m": round(os.getloadavg()[0], 1),
        "fullnode_peak_rss_mb": round(max(peak_kb, before) / 1024, 1),
    }


if __name__ == "__main__":
    print(json.dumps(_sync(Path(sys.argv[1]), Path(sys.argv[2]))))
