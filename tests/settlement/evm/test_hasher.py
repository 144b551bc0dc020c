"""The Rollup's preimage hasher: its bytecode is the listing below, and it hashes exactly
docs/protocol.md's padded preimage for partial and full batches, with and without records."""

from __future__ import annotations

import random
import re

import pytest

from bitcoinzk.bench.settlement import _gas_key
from bitcoinzk.settlement.evm.client import EmbeddedClient, TransactionReverted
from bitcoinzk.settlement.evm.contracts import ROLLUP_PATH
from bitcoinzk.settlement.evm.rollup import deploy
from bitcoinzk.spec.params import OUTPOINT_BYTES, RECORD_BYTES, ChainParams
from bitcoinzk.spec.pubdata import BlockPubdata, public_input
from bitcoinzk.spec.types import OP_DEPOSIT

# calldata: chunk_len:32 || records_len:32 || records_at:32 || preimage_len:32 || header:95
#           || n_chunks:u16 || n_records:u16 || chunks || records || outpoints
#           (header at 0x80, chunks at 0xe3; memory: header:95 || digest:32 at 95 || chunks at 127)
RUNTIME = [
    "PUSH1 5f", "PUSH1 80", "PUSH0", "CALLDATACOPY",  # mem[0:95] = header
    "PUSH0", "CALLDATALOAD", "DUP1", "PUSH1 e3", "PUSH1 7f", "CALLDATACOPY",  # mem[127:] = chunks
    "PUSH1 e3", "ADD", "PUSH1 20", "CALLDATALOAD",  # records: src, size
    "DUP1", "DUP3", "PUSH1 40", "CALLDATALOAD", "CALLDATACOPY",  # mem[records_at:] = records
    "ADD", "DUP1", "CALLDATASIZE", "SUB",  # outpoints: src, size (the rest of the calldata)
    "DUP1", "DUP3", "PUSH1 60", "CALLDATALOAD", "CALLDATACOPY",  # mem[preimage_len:] = outpoints
    "PUSH1 20", "PUSH1 5f", "DUP3", "PUSH1 60", "CALLDATALOAD", "PUSH1 02", "GAS",
    "STATICCALL",  # sha256(outpoints) -> mem[95:127]
    "PUSH1 20", "PUSH0", "PUSH1 60", "CALLDATALOAD", "PUSH0", "PUSH1 02", "GAS",
    "STATICCALL",  # sha256(mem[0:preimage_len]) -> mem[0:32]
    "AND", "PUSH1 42", "JUMPI", "PUSH0", "PUSH0", "REVERT",  # both calls succeeded
    "JUMPDEST", "PUSH1 20", "PUSH0", "RETURN",
]  # fmt: skip
OPCODES = {
    "ADD": 0x01, "SUB": 0x03, "AND": 0x16, "CALLDATALOAD": 0x35, "CALLDATASIZE": 0x36,
    "CALLDATACOPY": 0x37, "CODECOPY": 0x39, "JUMPI": 0x57, "GAS": 0x5A, "JUMPDEST": 0x5B,
    "PUSH0": 0x5F, "PUSH1": 0x60, "DUP1": 0x80, "DUP3": 0x82, "RETURN": 0xF3,
    "STATICCALL": 0xFA, "REVERT": 0xFD,
}  # fmt: skip


def assemble(listing: list[str]) -> bytes:
    out = bytearray()
    for line in listing:
        name, *arg = line.split()
        out.append(OPCODES[name])
        out += bytes.fromhex("".join(arg))
    return bytes(out)


def test_hasher_bytecode_is_the_listing() -> None:
    runtime = assemble(RUNTIME)
    assert runtime[0x42] == OPCODES["JUMPDEST"]
    # PUSH1 len DUP1 PUSH1 9 PUSH0 CODECOPY PUSH0 RETURN, then the runtime
    initcode = bytes([0x60, len(runtime), 0x80, 0x60, 9, 0x5F, 0x39, 0x5F, 0xF3]) + runtime
    match = re.search(r'^HASHER_INITCODE: constant\(Bytes\[(\d+)\]\) = x"([0-9a-f]+)"$',
                      ROLLUP_PATH.read_text(), re.M)  # fmt: skip
    assert match is not None
    assert bytes.fromhex(match.group(2)) == initcode and int(match.group(1)) == len(initcode)


def test_public_input_matches_protocol_for_every_fill() -> None:
    """publicInputOf runs the same hasher call as commitBatch."""
    params = ChainParams(
        chain_id=0xA1B2C3D4, tree_depth=24, block_slots=40, block_records=9, fee_account=0xABCDEF
    )
    client = EmbeddedClient()
    _, vk = _gas_key()
    genesis_root = 0x1234 << 200
    rollup = deploy(client, vk, params, genesis_root=genesis_root)
    rng = random.Random(5)
    fills = [(0, 0, 0), (1, 0, 0), (40, 0, 0), (3, 1, 1), (17, 4, 2), (40, 9, 9), (9, 9, 0)]
    for n_chunks, n_records, n_deposits in fills:
        ops = [OP_DEPOSIT] * n_deposits + [
            rng.choice([0, 2, 3, 4, 5, 6, 7]) for _ in range(n_chunks - n_deposits)
        ]
        rng.shuffle(ops)
        chunks = b"".join(bytes([op << 5 | rng.randrange(32)]) + rng.randbytes(9) for op in ops)
        records = rng.randbytes(RECORD_BYTES * n_records)
        outpoints = rng.randbytes(OUTPOINT_BYTES * n_deposits)
        pubdata = BlockPubdata(chunks, records, outpoints)
        new_root = rng.randrange(2**253)
        expected = public_input(params, 1, genesis_root, new_root, pubdata)
        raw = pubdata.to_bytes()
        assert rollup.public_input_of(raw, new_root) == expected
        for bad in (raw + bytes(OUTPOINT_BYTES), raw[:-1] if n_deposits else raw + b"\x00"):
            with pytest.raises(TransactionReverted):  # length, or above BATCH_MAX
                rollup.public_input_of(bad, new_root)
    client.close()
