"""Blocks: header and block serialization, merkle roots, coinbase, proof of work.

Building a block that libbitcoinkernel accepts on regtest needs exactly what
is here: BIP-34 height in the coinbase, a BIP-141 witness commitment, a time
above the median of the last 11 blocks, and a hash below the regtest target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .encoding import DecodeError, Reader, hash256, ser_compact_size
from .script import Op, push_data, push_int
from .tx import OutPoint, Tx, TxIn, TxOut

REGTEST_BITS = 0x207FFFFF
WITNESS_COMMITMENT_HEADER = bytes.fromhex("aa21a9ed")
WITNESS_RESERVED_VALUE = b"\x00" * 32
HALVING_INTERVAL_REGTEST = 150


def bits_to_target(bits: int) -> int:
    return (bits & 0xFFFFFF) << (8 * ((bits >> 24) - 3))


def block_subsidy(height: int) -> int:
    halvings = height // HALVING_INTERVAL_REGTEST
    return 0 if halvings >= 64 else (50 * 100_000_000) >> halvings


@dataclass
class BlockHeader:
    """80 bytes: version:i32 | prev:32 | merkle:32 | time:u32 | bits:u32 | nonce:u32."""

    version: int
    prev_hash: str
    merkle_root: bytes
    time: int
    bits: int = REGTEST_BITS
    nonce: int = 0

    def serialize(self) -> bytes:
        return (
            self.version.to_bytes(4, "little", signed=True)
            + bytes.fromhex(self.prev_hash)[::-1]
            + self.merkle_root
            + self.time.to_bytes(4, "little")
            + self.bits.to_bytes(4, "little")
            + self.nonce.to_bytes(4, "little")
        )

    @classmethod
    def parse(cls, r: Reader) -> BlockHeader:
        return cls(r.i32(), r.read(32)[::-1].hex(), r.read(32), r.u32(), r.u32(), r.u32())

    @property
    def hash(self) -> str:
        return hash256(self.serialize())[::-1].hex()

    def solve(self) -> None:
        """Grind the nonce until the hash meets the target (about 2 tries on regtest)."""
        target = bits_to_target(self.bits)
        prefix = self.serialize()[:76]
        for nonce in range(1 << 32):
            h = hash256(prefix + nonce.to_bytes(4, "little"))
            if int.from_bytes(h, "little") <= target:
                self.nonce = nonce
                return
        raise RuntimeError("nonce space exhausted")  # pragma: no cover


@dataclass
class Block:
    header: BlockHeader
    txs: list[Tx] = field(default_factory=list)

    def serialize(self) -> bytes:
        return (
            self.header.serialize()
            + ser_compact_size(len(self.txs))
            + b"".join(t.serialize() for t in self.txs)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Block:
        r = Reader(data)
        header = BlockHeader.parse(r)
        n = r.compact_size()
        if n > len(data):
            raise DecodeError("tx count exceeds data")
        txs = [Tx.parse(r) for _ in range(n)]
        if not r.at_end():
            raise DecodeError("trailing bytes after block")
        return cls(header, txs)

    @property
    def hash(self) -> str:
        return self.header.hash

    @property
    def weight(self) -> int:
        return len(self.serialize()) + 3 * (
            80
            + len(ser_compact_size(len(self.txs)))
            + sum(len(t.serialize(with_witness=False)) for t in self.txs)
        )


def merkle_root(hashes: list[bytes]) -> bytes:
    """Bitcoin's merkle root over internal-order hashes (last one duplicated on odd levels)."""
    if not hashes:
        return b"\x00" * 32
    level = list(hashes)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [hash256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def witness_commitment(txs: list[Tx]) -> bytes:
    """BIP-141: hash256(witness merkle root || reserved value), coinbase wtxid = 0."""
    wtxids = [b"\x00" * 32] + [bytes.fromhex(t.wtxid)[::-1] for t in txs[1:]]
    return hash256(merkle_root(wtxids) + WITNESS_RESERVED_VALUE)


def coinbase_tx(height: int, reward: int, payout_script: bytes, extra: bytes = b"") -> Tx:
    """A coinbase paying `reward` to `payout_script`, height pushed per BIP-34.

    Heights 1..16 are pushed as OP_1..OP_16, which makes the scriptSig one
    byte; consensus wants 2..100 bytes, so a padding push follows.
    """
    script_sig = push_int(height) + push_data(extra or b"\x00")
    cb_in = TxIn(OutPoint("00" * 32, 0xFFFFFFFF), script_sig, 0xFFFFFFFF)
    return Tx(version=2, vin=[cb_in], vout=[TxOut(reward, payout_script)], locktime=0)


def build_block(
    prev_hash: str,
    height: int,
    time: int,
    txs: list[Tx],
    fees: int,
    payout_script: bytes,
    extra: bytes = b"",
) -> Block:
    """Assemble and solve a block; adds the witness commitment when any tx has a witness."""
    cb = coinbase_tx(height, block_subsidy(height) + fees, payout_script, extra)
    all_txs = [cb, *txs]
    if any(t.has_witness() for t in txs):
        cb.vin[0].witness = [WITNESS_RESERVED_VALUE]
        commitment = WITNESS_COMMITMENT_HEADER + witness_commitment(all_txs)
        cb.vout.append(TxOut(0, bytes([Op.OP_RETURN, 0x24]) + commitment))
    root = merkle_root([bytes.fromhex(t.txid)[::-1] for t in all_txs])
    block = Block(BlockHeader(0x20000000, prev_hash, root, time), all_txs)
    block.header.solve()
    return block
