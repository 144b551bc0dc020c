"""Circuit inputs from an STF trace.

The STF (`bitcoinzk.l2.stf.apply_block`) returns a `BlockTrace`: per slot the op,
its pubdata, and the sender-side then receiver-side `LeafUpdate` with the Merkle
siblings valid at that moment; then the fee account's update. This module maps
that, field by field, onto the inputs of `BatchCircuit(B, E, D)`
(circuits/batch.circom). It decides nothing: every rule is the circuit's to
check, so a trace the STF would reject yields inputs the circuit rejects.

Unused slots are NOOPs (all-zero chunk, nothing changes); an unused side of a
slot is a disabled update with zero inputs; unused records are zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bitcoinzk.l2.params import ChainParams
from bitcoinzk.l2.stf import BlockTrace, LeafUpdate, SlotTrace
from bitcoinzk.l2.types import Account, Deposit
from bitcoinzk.prover.circuit import RECORD_BITS, CircuitShape
from bitcoinzk.prover.public_input import CHUNK_BYTES, RECORD_BYTES, public_input

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
    chunks: tuple[bytes, ...]
    records: tuple[bytes, ...]

    def public_input(self, shape: CircuitShape) -> int:
        return public_input(
            shape,
            self.chain_id,
            self.block_number,
            self.old_root,
            self.new_root,
            self.fee_account,
            self.chunks,
            self.records,
        )


def block_data(trace: BlockTrace, params: ChainParams) -> BlockData:
    chunks: list[bytes] = []
    records: list[bytes] = []
    for slot in trace.slots:
        chunk, record = slot.pubdata.encode()
        chunks.append(chunk)
        if record is not None:
            records.append(record)
    return BlockData(
        params.chain_id,
        trace.block_number,
        trace.old_root,
        trace.new_root,
        params.fee_account,
        tuple(chunks),
        tuple(records),
    )


def bytes_to_bits(data: bytes) -> list[int]:
    """Most significant bit of each byte first, as SHA-256 reads them."""
    return [(byte >> (7 - i)) & 1 for byte in data for i in range(8)]


def chunk_fields(chunk: bytes) -> tuple[int, int, int, int, int]:
    """(op, fee Float5, from, to, amount Float24) of a 10-byte chunk."""
    if len(chunk) != CHUNK_BYTES:
        raise WitnessBuildError("a chunk is 10 bytes")
    v = int.from_bytes(chunk, "big")
    return v >> 77, (v >> 72) & 0x1F, (v >> 48) & 0xFFFFFF, (v >> 24) & 0xFFFFFF, v & 0xFFFFFF


def _siblings(update: LeafUpdate, depth: int) -> list[int]:
    if len(update.siblings) != depth:
        raise WitnessBuildError(f"{len(update.siblings)} siblings for a depth-{depth} circuit")
    return list(update.siblings)


def _account_fields(account: Account) -> tuple[int, int, int, int]:
    return account.pubkey.x, account.pubkey.y, account.balance, account.nonce


def empty_inputs(shape: CircuitShape) -> dict[str, Any]:
    """All-NOOP inputs (before the header and fee account are filled in)."""
    b, e, d = shape.slots, shape.records, shape.depth
    zeros = [0] * b
    return {
        "public_input": 0,
        "chain_id": 0,
        "block_number": 0,
        "old_root": 0,
        "fee_account": 0,
        "op": list(zeros),
        "fee": list(zeros),
        "amount": list(zeros),
        "from": list(zeros),
        "to": list(zeros),
        "sender_ax": list(zeros),
        "sender_ay": list(zeros),
        "sender_balance": list(zeros),
        "sender_nonce": list(zeros),
        "sender_siblings": [[0] * d for _ in range(b)],
        "sig_r8x": list(zeros),
        "sig_r8y": list(zeros),
        "sig_s": list(zeros),
        "receiver_empty": list(zeros),
        "receiver_ax": list(zeros),
        "receiver_ay": list(zeros),
        "receiver_balance": list(zeros),
        "receiver_nonce": list(zeros),
        "receiver_siblings": [[0] * d for _ in range(b)],
        "records": [[0] * RECORD_BITS for _ in range(e)],
        "fee_ax": 0,
        "fee_ay": 0,
        "fee_balance": 0,
        "fee_nonce": 0,
        "fee_siblings": [0] * d,
    }


def _set(inputs: dict[str, Any], name: str, s: int, value: object) -> None:
    column = inputs[name]
    assert isinstance(column, list)
    column[s] = value


def _fill_slot(inputs: dict[str, Any], s: int, slot: SlotTrace, depth: int) -> None:
    chunk, _ = slot.pubdata.encode()
    op, fee_f, sender, recipient, amount_f = chunk_fields(chunk)
    _set(inputs, "op", s, op)
    _set(inputs, "fee", s, fee_f)
    _set(inputs, "from", s, sender)
    _set(inputs, "to", s, recipient)
    _set(inputs, "amount", s, amount_f)

    if slot.sender is not None:
        if slot.sender.old is None:
            raise WitnessBuildError(f"slot {s}: a sender-side update without a sender")
        ax, ay, balance, nonce = _account_fields(slot.sender.old)
        _set(inputs, "sender_ax", s, ax)
        _set(inputs, "sender_ay", s, ay)
        _set(inputs, "sender_balance", s, balance)
        _set(inputs, "sender_nonce", s, nonce)
        _set(inputs, "sender_siblings", s, _siblings(slot.sender, depth))
        if isinstance(slot.op, Deposit) or slot.op.signature is None:
            raise WitnessBuildError(f"slot {s}: a signed operation without a signature")
        sig = slot.op.signature
        _set(inputs, "sig_r8x", s, sig.r8x)
        _set(inputs, "sig_r8y", s, sig.r8y)
        _set(inputs, "sig_s", s, sig.s)

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
        _set(inputs, "receiver_siblings", s, _siblings(slot.receiver, depth))


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

    for s, slot in enumerate(trace.slots):
        _fill_slot(inputs, s, slot, shape.depth)
    rows: list[object] = []
    for record in data.records:
        if len(record) != RECORD_BYTES:
            raise WitnessBuildError("a record is 108 bytes")
        rows.append(bytes_to_bits(record))
    rows += [[0] * RECORD_BITS for _ in range(shape.records - len(data.records))]
    inputs["records"] = rows

    fee = trace.fee
    if fee.old is None:
        raise WitnessBuildError("the fee account does not exist")
    ax, ay, balance, nonce = _account_fields(fee.old)
    inputs["fee_ax"] = ax
    inputs["fee_ay"] = ay
    inputs["fee_balance"] = balance
    inputs["fee_nonce"] = nonce
    inputs["fee_siblings"] = _siblings(fee, shape.depth)
    return dict(inputs)
