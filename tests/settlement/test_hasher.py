"""The Rollup's preimage hasher: its bytecode is the listing below, and it hashes exactly
docs/protocol.md's padded preimage for partial and full batches, with and without records."""

from __future__ import annotations

import random
import re

from bitcoinzk.l2.params import ChainParams
from bitcoinzk.l2.pubdata import BlockPubdata, public_input
from bitcoinzk.settlement.bench import _gas_key
from bitcoinzk.settlement.client import EmbeddedClient
from bitcoinzk.settlement.contracts import ROLLUP_PATH
from bitcoinzk.settlement.rollup import deploy

# calldata: chunk_len:32 || records_at:32 || preimage_len:32 || header:79 || n_chunks:u16
#           || n_records:u16 || chunks || records        (header at 0x60, chunks at 0xb3)
RUNTIME = [
    "PUSH1 4f", "PUSH1 60", "PUSH0", "CALLDATACOPY",  # mem[0:79] = header
    "PUSH0", "CALLDATALOAD", "DUP1", "PUSH1 b3", "PUSH1 4f", "CALLDATACOPY",  # mem[79:] = chunks
    "PUSH1 b3", "ADD", "DUP1", "CALLDATASIZE", "SUB", "SWAP1",  # records: size, src
    "PUSH1 20", "CALLDATALOAD", "CALLDATACOPY",  # mem[records_at:] = records
    "PUSH1 20", "PUSH0", "PUSH1 40", "CALLDATALOAD", "PUSH0", "PUSH1 02", "GAS",
    "STATICCALL",  # sha256(mem[0:preimage_len]) -> mem[0:32]
    "PUSH1 2a", "JUMPI", "PUSH0", "PUSH0", "REVERT",
    "JUMPDEST", "PUSH1 20", "PUSH0", "RETURN",
]  # fmt: skip
OPCODES = {
    "ADD": 0x01, "SUB": 0x03, "CALLDATALOAD": 0x35, "CALLDATASIZE": 0x36, "CALLDATACOPY": 0x37,
    "CODECOPY": 0x39, "JUMPI": 0x57, "GAS": 0x5A, "JUMPDEST": 0x5B, "PUSH0": 0x5F, "PUSH1": 0x60,
    "DUP1": 0x80, "SWAP1": 0x90, "RETURN": 0xF3, "STATICCALL": 0xFA, "REVERT": 0xFD,
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
    assert runtime[0x2A] == OPCODES["JUMPDEST"]
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
    for n_chunks, n_records in [(0, 0), (1, 0), (40, 0), (3, 1), (17, 4), (40, 9), (9, 9)]:
        chunks = rng.randbytes(10 * n_chunks)
        records = rng.randbytes(108 * n_records)
        pubdata = BlockPubdata(chunks, records)
        new_root = rng.randrange(2**253)
        expected = public_input(params, 1, genesis_root, new_root, pubdata)
        assert rollup.public_input_of(pubdata.to_bytes(), new_root) == expected
    client.close()
