"""Pubdata: what a block publishes so anyone can rebuild the state.

Byte layouts (docs/protocol.md, "Pubdata"); all fields big-endian.

Chunk, 10 bytes = 80 bits, one per slot, most significant bit first:

    op:3 | fee:5 (Float5) | from:24 | to:24 | amount:24 (Float24)

Record, 108 bytes, one per DEPOSIT, TRANSFER_NEW and WITHDRAW, in slot order:

    DEPOSIT       amount:8  ax:32  ay:32  txid:32  vout:4
    TRANSFER_NEW  ax:32  ay:32  zeros:44
    WITHDRAW      amount:8  len:1  script_pubkey:len  zeros (to 108)

A plain transfer is 10 bytes, the smallest of the rollups we compare with
(Hermez 14, zkSync Lite 20, Loopring 22).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bitcoinzk.crypto.eddsa import PublicKey
from bitcoinzk.l2.floats import FLOAT5, FLOAT24
from bitcoinzk.l2.params import CHUNK_BYTES, MAX_SCRIPT_PUBKEY, RECORD_BYTES, ChainParams
from bitcoinzk.l2.types import (
    OP_DEPOSIT,
    OP_NOOP,
    OP_TRANSFER,
    OP_TRANSFER_NEW,
    OP_WITHDRAW,
    Deposit,
    Operation,
    Transfer,
    Withdraw,
)

PUBLIC_INPUT_BITS = 253
NOOP_CHUNK = bytes(CHUNK_BYTES)


class PubdataError(ValueError):
    """Bytes that are not a valid pubdata encoding (hostile or corrupt data)."""


@dataclass(frozen=True)
class PubdataOp:
    """An operation as published: everything needed to re-apply it, no signature."""

    op: int
    sender: int = 0
    recipient: int = 0
    amount: int = 0
    fee: int = 0
    pubkey: PublicKey | None = None
    txid: bytes = b""
    vout: int = 0
    script_pubkey: bytes = b""

    def encode(self) -> tuple[bytes, bytes | None]:
        return _pack(self)


def _chunk(op: int, fee: int, sender: int, recipient: int, amount_f24: int) -> bytes:
    value = (op << 77) | (FLOAT5.encode(fee) << 72) | (sender << 48) | (recipient << 24)
    return (value | amount_f24).to_bytes(CHUNK_BYTES, "big")


def _key_bytes(pubkey: PublicKey) -> bytes:
    return pubkey.x.to_bytes(32, "big") + pubkey.y.to_bytes(32, "big")


def _pad(record: bytes) -> bytes:
    assert len(record) <= RECORD_BYTES
    return record + bytes(RECORD_BYTES - len(record))


def _pack(p: PubdataOp) -> tuple[bytes, bytes | None]:
    if p.op == OP_NOOP:
        return NOOP_CHUNK, None
    if p.op == OP_DEPOSIT:
        assert p.pubkey is not None
        record = (
            p.amount.to_bytes(8, "big") + _key_bytes(p.pubkey) + p.txid + p.vout.to_bytes(4, "big")
        )
        return _chunk(OP_DEPOSIT, 0, 0, p.recipient, 0), _pad(record)
    if p.op == OP_TRANSFER:
        return _chunk(OP_TRANSFER, p.fee, p.sender, p.recipient, FLOAT24.encode(p.amount)), None
    if p.op == OP_TRANSFER_NEW:
        assert p.pubkey is not None
        chunk = _chunk(OP_TRANSFER_NEW, p.fee, p.sender, p.recipient, FLOAT24.encode(p.amount))
        return chunk, _pad(_key_bytes(p.pubkey))
    if p.op == OP_WITHDRAW:
        spk = p.script_pubkey
        record = p.amount.to_bytes(8, "big") + bytes([len(spk)]) + spk
        return _chunk(OP_WITHDRAW, p.fee, p.sender, 0, 0), _pad(record)
    raise PubdataError(f"unknown op {p.op}")


def pubdata_op(op: Operation, creates_account: bool) -> PubdataOp:
    """The published form of an operation the STF has applied."""
    if isinstance(op, Deposit):
        return PubdataOp(
            OP_DEPOSIT,
            recipient=op.recipient,
            amount=op.amount,
            pubkey=op.pubkey,
            txid=op.txid,
            vout=op.vout,
        )
    if isinstance(op, Transfer):
        return PubdataOp(
            OP_TRANSFER_NEW if creates_account else OP_TRANSFER,
            sender=op.sender,
            recipient=op.recipient,
            amount=op.amount,
            fee=op.fee,
            pubkey=op.recipient_pubkey if creates_account else None,
        )
    if isinstance(op, Withdraw):
        return PubdataOp(
            OP_WITHDRAW,
            sender=op.sender,
            amount=op.amount,
            fee=op.fee,
            script_pubkey=op.script_pubkey,
        )
    raise PubdataError(f"not an operation: {op!r}")


def _read_key(raw: bytes) -> PublicKey:
    try:
        return PublicKey(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"))
    except Exception as exc:
        raise PubdataError(f"bad public key in record: {exc}") from None


def decode_op(chunk: bytes, record: bytes | None) -> PubdataOp:
    if len(chunk) != CHUNK_BYTES:
        raise PubdataError("chunk must be 10 bytes")
    value = int.from_bytes(chunk, "big")
    op = value >> 77
    fee = FLOAT5.decode((value >> 72) & 0x1F)
    sender = (value >> 48) & 0xFFFFFF
    recipient = (value >> 24) & 0xFFFFFF
    amount_f24 = value & 0xFFFFFF
    if not FLOAT5.is_canonical((value >> 72) & 0x1F) or not FLOAT24.is_canonical(amount_f24):
        raise PubdataError("non-canonical float encoding")
    if op in (OP_DEPOSIT, OP_TRANSFER_NEW, OP_WITHDRAW):
        if record is None or len(record) != RECORD_BYTES:
            raise PubdataError(f"op {op} needs a {RECORD_BYTES}-byte record")
    if op == OP_DEPOSIT:
        assert record is not None
        if fee or sender or amount_f24:
            raise PubdataError("deposit chunk has non-zero unused fields")
        return PubdataOp(
            OP_DEPOSIT,
            recipient=recipient,
            amount=int.from_bytes(record[0:8], "big"),
            pubkey=_read_key(record[8:72]),
            txid=record[72:104],
            vout=int.from_bytes(record[104:108], "big"),
        )
    if op in (OP_TRANSFER, OP_TRANSFER_NEW):
        pubkey = None
        if op == OP_TRANSFER_NEW:
            assert record is not None
            if any(record[64:]):
                raise PubdataError("TRANSFER_NEW record has non-zero padding")
            pubkey = _read_key(record[0:64])
        return PubdataOp(
            op,
            sender=sender,
            recipient=recipient,
            amount=FLOAT24.decode(amount_f24),
            fee=fee,
            pubkey=pubkey,
        )
    if op == OP_WITHDRAW:
        assert record is not None
        if recipient or amount_f24:
            raise PubdataError("withdraw chunk has non-zero unused fields")
        length = record[8]
        if not 1 <= length <= MAX_SCRIPT_PUBKEY or any(record[9 + length :]):
            raise PubdataError("withdraw record has a bad script length or padding")
        return PubdataOp(
            OP_WITHDRAW,
            sender=sender,
            amount=int.from_bytes(record[0:8], "big"),
            fee=fee,
            script_pubkey=record[9 : 9 + length],
        )
    if op == OP_NOOP and value == 0:
        return PubdataOp(OP_NOOP)
    raise PubdataError(f"invalid chunk {chunk.hex()}")


def needs_record(op: int) -> bool:
    return op in (OP_DEPOSIT, OP_TRANSFER_NEW, OP_WITHDRAW)


@dataclass(frozen=True)
class BlockPubdata:
    """The used chunks and records of one block, as published (no padding)."""

    chunks: bytes
    records: bytes

    def ops(self) -> list[PubdataOp]:
        if len(self.chunks) % CHUNK_BYTES or len(self.records) % RECORD_BYTES:
            raise PubdataError("pubdata lengths are not whole chunks and records")
        out: list[PubdataOp] = []
        r = 0
        for c in range(0, len(self.chunks), CHUNK_BYTES):
            chunk = self.chunks[c : c + CHUNK_BYTES]
            record = None
            if needs_record(chunk[0] >> 5):
                if r + RECORD_BYTES > len(self.records):
                    raise PubdataError("missing record")
                record = self.records[r : r + RECORD_BYTES]
                r += RECORD_BYTES
            decoded = decode_op(chunk, record)
            if decoded.op == OP_NOOP:
                raise PubdataError("NOOP inside published pubdata")
            out.append(decoded)
        if r != len(self.records):
            raise PubdataError("unused records")
        return out

    @classmethod
    def from_ops(cls, ops: list[PubdataOp]) -> BlockPubdata:
        chunks, records = [], []
        for p in ops:
            chunk, record = p.encode()
            chunks.append(chunk)
            if record is not None:
                records.append(record)
        return cls(b"".join(chunks), b"".join(records))

    def to_bytes(self) -> bytes:
        """Self-delimiting form for DA: u16 chunk count, u16 record count, then the data."""
        n_chunks = len(self.chunks) // CHUNK_BYTES
        n_records = len(self.records) // RECORD_BYTES
        return (
            n_chunks.to_bytes(2, "big") + n_records.to_bytes(2, "big") + self.chunks + self.records
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> BlockPubdata:
        if len(raw) < 4:
            raise PubdataError("pubdata shorter than its header")
        n_chunks = int.from_bytes(raw[0:2], "big")
        n_records = int.from_bytes(raw[2:4], "big")
        end = 4 + n_chunks * CHUNK_BYTES
        if len(raw) != end + n_records * RECORD_BYTES:
            raise PubdataError("pubdata length does not match its header")
        return cls(raw[4:end], raw[end:])


def public_input_preimage(
    params: ChainParams, block_number: int, old_root: int, new_root: int, pubdata: BlockPubdata
) -> bytes:
    """Everything the proof binds, padded to the circuit's fixed size."""
    n_chunks = len(pubdata.chunks) // CHUNK_BYTES
    n_records = len(pubdata.records) // RECORD_BYTES
    if n_chunks > params.block_slots or n_records > params.block_records:
        raise PubdataError("pubdata larger than the circuit's slots")
    return b"".join(
        [
            params.chain_id.to_bytes(4, "big"),
            block_number.to_bytes(8, "big"),
            old_root.to_bytes(32, "big"),
            new_root.to_bytes(32, "big"),
            params.fee_account.to_bytes(3, "big"),
            pubdata.chunks,
            bytes((params.block_slots - n_chunks) * CHUNK_BYTES),
            pubdata.records,
            bytes((params.block_records - n_records) * RECORD_BYTES),
        ]
    )


def public_input(
    params: ChainParams, block_number: int, old_root: int, new_root: int, pubdata: BlockPubdata
) -> int:
    """SHA-256 of the preimage cut to 253 bits: one field element, one public input."""
    digest = hashlib.sha256(
        public_input_preimage(params, block_number, old_root, new_root, pubdata)
    ).digest()
    return int.from_bytes(digest, "big") & ((1 << PUBLIC_INPUT_BITS) - 1)
