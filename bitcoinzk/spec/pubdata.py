"""Pubdata: what a block publishes so anyone can rebuild the state.

Byte layouts (docs/protocol.md, "Pubdata"); all fields big-endian.

Chunk, 10 bytes = 80 bits, one per slot, most significant bit first:

    TRANSFER, TRANSFER_NEW  op:3 | fee:5 (Float5) | from:24 | to:24 | amount:24 (Float24)
    DEPOSIT                 op:3 | amount_hi:29 | to:24 | amount_lo:24
                            (amount:53 = amount_hi:29 || amount_lo:24; `to` sits
                            where a transfer's does, so the circuit reads one field)
    WITHDRAW                op:3 | fee:5 (Float5) | from:24 | amount:48
    NOOP                    all zero

Record, 35 bytes, one per DEPOSIT, TRANSFER_NEW and WITHDRAW, in slot order:

    DEPOSIT, TRANSFER_NEW  key:32 (PublicKey.to_bytes, circomlib packPoint)  zeros:3
    WITHDRAW               len:1  script_pubkey:len  zeros (to 35)
    (and both FORCED ops)

Outpoint, 36 bytes, one per DEPOSIT, in slot order: txid:32 (RPC order) vout:4.
The circuit hashes chunks and records; the outpoints enter the public input
only through their SHA-256 (audit metadata the circuit never reads).

A plain transfer is 10 bytes, the smallest of the rollups we compare with
(Hermez 14, zkSync Lite 20, Loopring 22).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bitcoinzk.crypto.eddsa import PublicKey
from bitcoinzk.spec.floats import FLOAT5, FLOAT24
from bitcoinzk.spec.params import (
    CHUNK_BYTES,
    MAX_SCRIPT_PUBKEY,
    OUTPOINT_BYTES,
    RECORD_BYTES,
    ChainParams,
)
from bitcoinzk.spec.types import (
    FORCED_DIGEST_BITS,
    OP_DEPOSIT,
    OP_FORCED_REJECTED,
    OP_FORCED_WITHDRAW,
    OP_NOOP,
    OP_TRANSFER,
    OP_TRANSFER_NEW,
    OP_WITHDRAW,
    Deposit,
    ForcedWithdraw,
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
        """(chunk, record or None); a deposit's outpoint is `outpoint_bytes()`."""
        return _pack(self)

    def outpoint_bytes(self) -> bytes | None:
        """txid:32 || vout:u32 for a DEPOSIT (its entry in the outpoints section), else None."""
        if self.op != OP_DEPOSIT:
            return None
        if len(self.txid) != 32 or not 0 <= self.vout < 2**32:
            raise PubdataError("deposit outpoint is malformed")
        return self.txid + self.vout.to_bytes(4, "big")


WITHDRAW_SHAPED = (OP_WITHDRAW, OP_FORCED_WITHDRAW, OP_FORCED_REJECTED)
"""Ops with the WITHDRAW chunk and record layout."""
PAYOUT_OPS = (OP_WITHDRAW, OP_FORCED_WITHDRAW)
"""Ops the bridge pays on Bitcoin once their batch is final."""
DEPOSIT_AMOUNT_BITS = 53
WITHDRAW_AMOUNT_BITS = 48
_U24 = (1 << 24) - 1


def _chunk(op: int, fee: int, sender: int, recipient: int, amount_f24: int) -> bytes:
    value = (op << 77) | (FLOAT5.encode(fee) << 72) | (sender << 48) | (recipient << 24)
    return (value | amount_f24).to_bytes(CHUNK_BYTES, "big")


def _key_record(pubkey: PublicKey) -> bytes:
    return _pad(pubkey.to_bytes())


def _pad(record: bytes) -> bytes:
    if len(record) > RECORD_BYTES:
        raise PubdataError(f"record longer than {RECORD_BYTES} bytes")
    return record + bytes(RECORD_BYTES - len(record))


def _check_index(value: int) -> None:
    if not 0 <= value <= _U24:
        raise PubdataError(f"account index {value} is not 24-bit")


def _pack(p: PubdataOp) -> tuple[bytes, bytes | None]:
    _check_index(p.sender)
    _check_index(p.recipient)
    if p.op == OP_NOOP:
        return NOOP_CHUNK, None
    if p.op == OP_DEPOSIT:
        if p.pubkey is None:
            raise PubdataError("a deposit needs the recipient's key")
        if not 0 <= p.amount < 1 << DEPOSIT_AMOUNT_BITS:
            raise PubdataError(f"deposit amount {p.amount} does not fit {DEPOSIT_AMOUNT_BITS} bits")
        amount_hi, amount_lo = p.amount >> 24, p.amount & _U24
        value = (OP_DEPOSIT << 77) | (amount_hi << 48) | (p.recipient << 24) | amount_lo
        return value.to_bytes(CHUNK_BYTES, "big"), _key_record(p.pubkey)
    if p.op == OP_TRANSFER:
        return _chunk(OP_TRANSFER, p.fee, p.sender, p.recipient, FLOAT24.encode(p.amount)), None
    if p.op == OP_TRANSFER_NEW:
        if p.pubkey is None:
            raise PubdataError("TRANSFER_NEW needs the recipient's key")
        chunk = _chunk(OP_TRANSFER_NEW, p.fee, p.sender, p.recipient, FLOAT24.encode(p.amount))
        return chunk, _key_record(p.pubkey)
    if p.op in WITHDRAW_SHAPED:
        spk = p.script_pubkey
        if not 0 <= p.amount < 1 << WITHDRAW_AMOUNT_BITS:
            raise PubdataError(f"withdrawal amount {p.amount} does not fit 48 bits")
        if not 1 <= len(spk) <= MAX_SCRIPT_PUBKEY:
            raise PubdataError(f"script_pubkey must be 1..{MAX_SCRIPT_PUBKEY} bytes")
        value = (p.op << 77) | (FLOAT5.encode(p.fee) << 72) | (p.sender << 48) | p.amount
        return value.to_bytes(CHUNK_BYTES, "big"), _pad(bytes([len(spk)]) + spk)
    raise PubdataError(f"unknown op {p.op}")


def pubdata_op(op: Operation, creates_account: bool) -> PubdataOp:
    """The published form of an operation the STF has applied (a ForcedWithdraw: executed;
    `forced_rejected` gives the published form of a rejected one)."""
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
    if isinstance(op, Withdraw | ForcedWithdraw):
        return PubdataOp(
            OP_WITHDRAW if isinstance(op, Withdraw) else OP_FORCED_WITHDRAW,
            sender=op.sender,
            amount=op.amount,
            fee=op.fee,
            script_pubkey=op.script_pubkey,
        )
    raise PubdataError(f"not an operation: {op!r}")


def forced_rejected(op: ForcedWithdraw) -> PubdataOp:
    """A forced request that breaks a rule: published with the WITHDRAW layout, no effect."""
    return PubdataOp(
        OP_FORCED_REJECTED,
        sender=op.sender,
        amount=op.amount,
        fee=op.fee,
        script_pubkey=op.script_pubkey,
    )


def _read_key(record: bytes) -> PublicKey:
    if any(record[32:]):
        raise PubdataError("key record has non-zero padding")
    try:
        return PublicKey.from_bytes(record[:32])
    except Exception as exc:
        raise PubdataError(f"bad public key in record: {exc}") from None


def decode_op(chunk: bytes, record: bytes | None, outpoint: bytes | None = None) -> PubdataOp:
    """One slot back from its chunk, its record (DEPOSIT, TRANSFER_NEW, WITHDRAW) and its
    outpoint (DEPOSIT); raises PubdataError for anything that is not a canonical encoding."""
    if len(chunk) != CHUNK_BYTES:
        raise PubdataError("chunk must be 10 bytes")
    value = int.from_bytes(chunk, "big")
    op = value >> 77
    if needs_record(op):
        if record is None or len(record) != RECORD_BYTES:
            raise PubdataError(f"op {op} needs a {RECORD_BYTES}-byte record")
    elif record is not None:
        raise PubdataError(f"op {op} has no record")
    if op == OP_DEPOSIT:
        assert record is not None
        if outpoint is None or len(outpoint) != OUTPOINT_BYTES:
            raise PubdataError(f"a deposit needs a {OUTPOINT_BYTES}-byte outpoint")
        return PubdataOp(
            OP_DEPOSIT,
            recipient=(value >> 24) & _U24,
            amount=(((value >> 48) & ((1 << (DEPOSIT_AMOUNT_BITS - 24)) - 1)) << 24)
            | (value & _U24),
            pubkey=_read_key(record),
            txid=outpoint[:32],
            vout=int.from_bytes(outpoint[32:36], "big"),
        )
    if outpoint is not None:
        raise PubdataError(f"op {op} has no outpoint")
    fee_f5 = (value >> 72) & 0x1F
    if not FLOAT5.is_canonical(fee_f5):
        raise PubdataError("non-canonical float encoding")
    fee = FLOAT5.decode(fee_f5)
    sender = (value >> 48) & _U24
    if op in (OP_TRANSFER, OP_TRANSFER_NEW):
        amount_f24 = value & _U24
        if not FLOAT24.is_canonical(amount_f24):
            raise PubdataError("non-canonical float encoding")
        return PubdataOp(
            op,
            sender=sender,
            recipient=(value >> 24) & _U24,
            amount=FLOAT24.decode(amount_f24),
            fee=fee,
            pubkey=_read_key(record) if record is not None else None,
        )
    if op in WITHDRAW_SHAPED:
        assert record is not None
        length = record[0]
        if not 1 <= length <= MAX_SCRIPT_PUBKEY or any(record[1 + length :]):
            raise PubdataError("withdraw record has a bad script length or padding")
        return PubdataOp(
            op,
            sender=sender,
            amount=value & ((1 << WITHDRAW_AMOUNT_BITS) - 1),
            fee=fee,
            script_pubkey=record[1 : 1 + length],
        )
    if op == OP_NOOP and value == 0:
        return PubdataOp(OP_NOOP)
    raise PubdataError(f"invalid chunk {chunk.hex()}")


def needs_record(op: int) -> bool:
    return op in (OP_DEPOSIT, OP_TRANSFER_NEW, *WITHDRAW_SHAPED)


def count_deposits(chunks: bytes) -> int:
    """DEPOSIT chunks among `chunks`: each has one entry in the outpoints section."""
    return sum(1 for c in range(0, len(chunks), CHUNK_BYTES) if chunks[c] >> 5 == OP_DEPOSIT)


@dataclass(frozen=True)
class BlockPubdata:
    """The used chunks, records and deposit outpoints of one block, as published (no padding).

    `forced_digest`: when slot 0 is a forced op, the digest of the contract's queued request
    it processed (`ForcedWithdraw.digest`). It is not in the published bytes: the contract
    reads it from its own storage, and a reader from the ForcedWithdrawalRequested event."""

    chunks: bytes
    records: bytes
    outpoints: bytes = b""
    forced_digest: int = 0

    def ops(self) -> list[PubdataOp]:
        if (
            len(self.chunks) % CHUNK_BYTES
            or len(self.records) % RECORD_BYTES
            or len(self.outpoints) % OUTPOINT_BYTES
        ):
            raise PubdataError("pubdata lengths are not whole chunks, records and outpoints")
        out: list[PubdataOp] = []
        r = o = 0
        for c in range(0, len(self.chunks), CHUNK_BYTES):
            chunk = self.chunks[c : c + CHUNK_BYTES]
            op = chunk[0] >> 5
            record: bytes | None = None
            outpoint: bytes | None = None
            if needs_record(op):
                if r + RECORD_BYTES > len(self.records):
                    raise PubdataError("missing record")
                record = self.records[r : r + RECORD_BYTES]
                r += RECORD_BYTES
            if op == OP_DEPOSIT:
                if o + OUTPOINT_BYTES > len(self.outpoints):
                    raise PubdataError("missing deposit outpoint")
                outpoint = self.outpoints[o : o + OUTPOINT_BYTES]
                o += OUTPOINT_BYTES
            decoded = decode_op(chunk, record, outpoint)
            if decoded.op == OP_NOOP:
                raise PubdataError("NOOP inside published pubdata")
            if c > 0 and decoded.op in (OP_FORCED_WITHDRAW, OP_FORCED_REJECTED):
                raise PubdataError("a forced op outside slot 0")
            out.append(decoded)
        if r != len(self.records):
            raise PubdataError("unused records")
        if o != len(self.outpoints):
            raise PubdataError("unused deposit outpoints")
        return out

    @property
    def forced(self) -> bool:
        """Whether slot 0 processes the contract's oldest queued forced withdrawal."""
        return len(self.chunks) > 0 and self.chunks[0] >> 5 in (
            OP_FORCED_WITHDRAW,
            OP_FORCED_REJECTED,
        )

    @classmethod
    def from_ops(cls, ops: list[PubdataOp], forced_digest: int = 0) -> BlockPubdata:
        chunks, records, outpoints = [], [], []
        for p in ops:
            chunk, record = p.encode()
            chunks.append(chunk)
            if record is not None:
                records.append(record)
            outpoint = p.outpoint_bytes()
            if outpoint is not None:
                outpoints.append(outpoint)
        return cls(b"".join(chunks), b"".join(records), b"".join(outpoints), forced_digest)

    def to_bytes(self) -> bytes:
        """Self-delimiting form for DA and calldata:
        n_chunks:u16 || n_records:u16 || chunks || records || outpoints (36 per DEPOSIT)."""
        n_chunks = len(self.chunks) // CHUNK_BYTES
        n_records = len(self.records) // RECORD_BYTES
        return b"".join(
            [
                n_chunks.to_bytes(2, "big"),
                n_records.to_bytes(2, "big"),
                self.chunks,
                self.records,
                self.outpoints,
            ]
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> BlockPubdata:
        if len(raw) < 4:
            raise PubdataError("pubdata shorter than its header")
        n_chunks = int.from_bytes(raw[0:2], "big")
        n_records = int.from_bytes(raw[2:4], "big")
        chunks_end = 4 + n_chunks * CHUNK_BYTES
        records_end = chunks_end + n_records * RECORD_BYTES
        if len(raw) < records_end:
            raise PubdataError("pubdata shorter than its header says")
        chunks = raw[4:chunks_end]
        if len(raw) != records_end + OUTPOINT_BYTES * count_deposits(chunks):
            raise PubdataError("outpoints do not match the block's deposits")
        return cls(chunks, raw[chunks_end:records_end], raw[records_end:])


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
            pubdata.forced_digest.to_bytes(FORCED_DIGEST_BITS // 8, "big"),
            hashlib.sha256(pubdata.outpoints).digest(),
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
