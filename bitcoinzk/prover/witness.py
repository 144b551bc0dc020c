"""Circuit inputs from an STF trace.

The STF (`bitcoinzk.spec.stf.apply_block`) returns a `BlockTrace`: per slot the op,
its pubdata, and the sender-side then receiver-side `LeafUpdate` with the Merkle
siblings valid at that moment (7 per level of the 8-ary tree); then the fee
account's update. This module maps
that, field by field, onto the inputs of `BatchCircuit(B, E, D)`
(circuits/batch.circom). It decides nothing: every rule is the circuit's to
check, so a trace the STF would reject yields inputs the circuit rejects.

Unused slots are NOOPs (all-zero chunk, nothing changes); an unused side of a
slot is a disabled update with zero inputs; unused records are zero.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from bitcoinzk.prover.circuit import RECORD_BITS, CircuitShape
from bitcoinzk.prover.public_input import CHUNK_BYTES, RECORD_BYTES, public_input
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.stf import BlockTrace, LeafUpdate, SlotTrace
from bitcoinzk.spec.types import Account, Deposit, ForcedWithdraw

CircuitInputs = dict[str, object]


class WitnessBuildError(ValueError):
    """The trace does not fit the circuit (too many slots or records, wrong depth)."""


@dataclass(frozen=True)
class BlockData:
    """What the public input commits to, in the order the circuit hashes it."""

    chain_id: int
    block_number: int
    old_root: int
    new_root: int
    fee_account: int
    outpoints_digest: bytes
    chunks: tuple[bytes, ...]
    records: tuple[bytes, ...]
    record_x: tuple[int, ...]
    """Per record, the x of the key it packs (0 for a withdrawal): a witness, not data."""
    forced_digest: int = 0

    def public_input(self, shape: CircuitShape) -> int:
        return public_input(
            shape,
            self.chain_id,
            self.block_number,
            self.old_root,
            self.new_root,
            self.fee_account,
            self.outpoints_digest,
            self.chunks,
            self.records,
            self.forced_digest,
        )


def block_data(trace: BlockTrace, params: ChainParams) -> BlockData:
    chunks: list[bytes] = []
    records: list[bytes] = []
    record_x: list[int] = []
    outpoints: list[bytes] = []
    for slot in trace.slots:
        p = slot.pubdata
        chunk, record = p.encode()
        chunks.append(chunk)
        if record is not None:
            records.append(record)
            # only key records (DEPOSIT, TRANSFER_NEW) carry a pubkey
            record_x.append(p.pubkey.x if p.pubkey is not None else 0)
        outpoint = p.outpoint_bytes()
        if outpoint is not None:
            outpoints.append(outpoint)
    return BlockData(
        params.chain_id,
        trace.block_number,
        trace.old_root,
        trace.new_root,
        params.fee_account,
        hashlib.sha256(b"".join(outpoints)).digest(),
        tuple(chunks),
        tuple(records),
        tuple(record_x),
        trace.slots[0].op.digest()
        if trace.slots and isinstance(trace.slots[0].op, ForcedWithdraw)
        else 0,
    )


def bytes_to_bits(data: bytes) -> list[int]:
    """Most significant bit of each byte first, as SHA-256 reads them."""
    return [(byte >> (7 - i)) & 1 for byte in data for i in range(8)]


def chunk_fields(chunk: bytes) -> tuple[int, int, int, int, int]:
    """The raw fields (op:3, f:5, a:24, b:24, c:24) of a 10-byte chunk; what each holds
    depends on the op (docs/protocol.md, "Pubdata"), which is the circuit's to check."""
    if len(chunk) != CHUNK_BYTES:
        raise WitnessBuildError("a chunk is 10 bytes")
    v = int.from_bytes(chunk, "big")
    return v >> 77, (v >> 72) & 0x1F, (v >> 48) & 0xFFFFFF, (v >> 24) & 0xFFFFFF, v & 0xFFFFFF


def _children(update: LeafUpdate, depth: int) -> list[list[int]]:
    return _children_of(update.index, update.siblings, depth)


def _children_of(index: int, siblings: tuple[int, ...], depth: int) -> list[list[int]]:
    """Per level, the parent's 8 children: the 7 siblings with a 0 at the path's own
    position (the circuit puts the node being written there; it never reads the 0)."""
    levels = depth // 3
    if len(siblings) != 7 * levels:
        raise WitnessBuildError(f"{len(siblings)} siblings for a depth-{depth} circuit")
    out = []
    for k in range(levels):
        sibs = list(siblings[7 * k : 7 * k + 7])
        p = (index >> (3 * k)) & 7
        out.append([*sibs[:p], 0, *sibs[p:]])
    return out


def _no_children(depth: int) -> list[list[int]]:
    return [[0] * 8 for _ in range(depth // 3)]


def _account_fields(account: Account) -> tuple[int, int, int, int]:
    return account.pubkey.x, account.pubkey.y, account.balance, account.nonce


def empty_inputs(shape: CircuitShape) -> dict[str, Any]:
    """All-NOOP inputs (before the header and fee account are filled in)."""
    b, e, d = shape.slots, shape.records, shape.depth
    zeros = [0] * b
    no_digest = [0] * 256
    return {
        "public_input": 0,
        "chain_id": 0,
        "block_number": 0,
        "old_root": 0,
        "fee_account": 0,
        "outpoints_digest": no_digest,
        "op": list(zeros),
        "chunk_f": list(zeros),
        "chunk_a": list(zeros),
        "chunk_b": list(zeros),
        "chunk_c": list(zeros),
        "sender_ax": list(zeros),
        "sender_ay": list(zeros),
        "sender_balance": list(zeros),
        "sender_nonce": list(zeros),
        "sender_children": [_no_children(d) for _ in range(b)],
        "sig_r8x": list(zeros),
        "sig_r8y": list(zeros),
        "sig_s": list(zeros),
        "receiver_empty": list(zeros),
        "receiver_ax": list(zeros),
        "receiver_ay": list(zeros),
        "receiver_balance": list(zeros),
        "receiver_nonce": list(zeros),
        "receiver_children": [_no_children(d) for _ in range(b)],
        "records": [[0] * RECORD_BITS for _ in range(e)],
        "record_x": [0] * e,
        "fee_ax": 0,
        "fee_ay": 0,
        "fee_balance": 0,
        "fee_nonce": 0,
        "fee_children": _no_children(d),
        "forced_nonce": 0,
        "forced_sender_empty": 0,
    }


def _set(inputs: dict[str, Any], name: str, s: int, value: object) -> None:
    column = inputs[name]
    assert isinstance(column, list)
    column[s] = value


def _fill_slot(inputs: dict[str, Any], s: int, slot: SlotTrace, depth: int) -> None:
    chunk, _ = slot.pubdata.encode()
    op, f, a, b, c = chunk_fields(chunk)
    _set(inputs, "op", s, op)
    _set(inputs, "chunk_f", s, f)
    _set(inputs, "chunk_a", s, a)
    _set(inputs, "chunk_b", s, b)
    _set(inputs, "chunk_c", s, c)

    if slot.sender is not None:
        if slot.sender.old is None:
            raise WitnessBuildError(f"slot {s}: a sender-side update without a sender")
        ax, ay, balance, nonce = _account_fields(slot.sender.old)
        _set(inputs, "sender_ax", s, ax)
        _set(inputs, "sender_ay", s, ay)
        _set(inputs, "sender_balance", s, balance)
        _set(inputs, "sender_nonce", s, nonce)
        _set(inputs, "sender_children", s, _children(slot.sender, depth))
        if isinstance(slot.op, Deposit) or slot.op.signature is None:
            raise WitnessBuildError(f"slot {s}: a signed operation without a signature")
        sig = slot.op.signature
        _set(inputs, "sig_r8x", s, sig.r8x)
        _set(inputs, "sig_r8y", s, sig.r8y)
        _set(inputs, "sig_s", s, sig.s)

    if slot.rejected is not None:
        # a rejected forced request: the sender leaf it read (if in the tree) and its signature
        assert isinstance(slot.op, ForcedWithdraw)
        read = slot.read
        if read is not None:
            _set(inputs, "sender_children", s, _children_of(read.index, read.siblings, depth))
            if read.account is None:
                inputs["forced_sender_empty"] = 1
            else:
                ax, ay, balance, nonce = _account_fields(read.account)
                _set(inputs, "sender_ax", s, ax)
                _set(inputs, "sender_ay", s, ay)
                _set(inputs, "sender_balance", s, balance)
                _set(inputs, "sender_nonce", s, nonce)
        sig = slot.op.signature
        _set(inputs, "sig_r8x", s, sig.r8x)
        _set(inputs, "sig_r8y", s, sig.r8y)
        _set(inputs, "sig_s", s, sig.s)
    if isinstance(slot.op, ForcedWithdraw):
        inputs["forced_nonce"] = slot.op.nonce

    if slot.receiver is not None:
        old = slot.receiver.old
        if old is None:
            _set(inputs, "receiver_empty", s, 1)
            _set(inputs, "receiver_ax", s, slot.receiver.new.pubkey.x)
            _set(inputs, "receiver_ay", s, slot.receiver.new.pubkey.y)
        else:
            ax, ay, balance, nonce = _account_fields(old)
            _set(inputs, "receiver_ax", s, ax)
            _set(inputs, "receiver_ay", s, ay)
            _set(inputs, "receiver_balance", s, balance)
            _set(inputs, "receiver_nonce", s, nonce)
        _set(inputs, "receiver_children", s, _children(slot.receiver, depth))


def build_inputs(trace: BlockTrace, params: ChainParams) -> CircuitInputs:
    """The circuit inputs proving `trace` (public input included)."""
    shape = CircuitShape.of(params)
    data = block_data(trace, params)
    if len(trace.slots) > shape.slots:
        raise WitnessBuildError(f"{len(trace.slots)} slots, the circuit has {shape.slots}")
    if len(data.records) > shape.records:
        raise WitnessBuildError(f"{len(data.records)} records, the circuit has {shape.records}")

    inputs = empty_inputs(shape)
    inputs["public_input"] = data.public_input(shape)
    inputs["chain_id"] = data.chain_id
    inputs["block_number"] = data.block_number
    inputs["old_root"] = data.old_root
    inputs["fee_account"] = data.fee_account
    inputs["outpoints_digest"] = bytes_to_bits(data.outpoints_digest)

    for s, slot in enumerate(trace.slots):
        _fill_slot(inputs, s, slot, shape.depth)
    rows: list[object] = []
    for record in data.records:
        if len(record) != RECORD_BYTES:
            raise WitnessBuildError(f"a record is {RECORD_BYTES} bytes")
        rows.append(bytes_to_bits(record))
    rows += [[0] * RECORD_BITS for _ in range(shape.records - len(data.records))]
    inputs["records"] = rows
    inputs["record_x"] = [*data.record_x, *[0] * (shape.records - len(data.records))]

    fee = trace.fee
    if fee.old is None:
        raise WitnessBuildError("the fee account does not exist")
    ax, ay, balance, nonce = _account_fields(fee.old)
    inputs["fee_ax"] = ax
    inputs["fee_ay"] = ay
    inputs["fee_balance"] = balance
    inputs["fee_nonce"] = nonce
    inputs["fee_children"] = _children(fee, shape.depth)
    return dict(inputs)
