"""What a published batch commits to, computed from its pubdata alone.

The settlement contract computes the same two values on-chain (Rollup.vy), and
anyone holding the batch data can recompute them: the bridge to check the
withdrawals it pays, a full node to check the data it downloaded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bitcoinzk.spec.params import RECORD_BYTES, ChainParams
from bitcoinzk.spec.pubdata import (
    PAYOUT_OPS,
    WITHDRAW_AMOUNT_BITS,
    BlockPubdata,
    public_input_preimage,
)

AMOUNT_BYTES = WITHDRAW_AMOUNT_BITS // 8
WITHDRAWAL_BYTES = AMOUNT_BYTES + RECORD_BYTES
"""amount:6 (the WITHDRAW chunk's last 6 bytes) || len:u8 || script_pubkey, zero-padded to
41 (the WITHDRAW record): what the contract hashes per withdrawal."""


@dataclass(frozen=True)
class PublishedWithdrawal:
    """A payout the bridge owes on Bitcoin once its batch is final."""

    sender: int
    amount: int
    script_pubkey: bytes

    def entry(self) -> bytes:
        spk = self.script_pubkey
        raw = self.amount.to_bytes(AMOUNT_BYTES, "big") + bytes([len(spk)]) + spk
        return raw + bytes(WITHDRAWAL_BYTES - len(raw))


def withdrawals(pubdata: BlockPubdata) -> list[PublishedWithdrawal]:
    """The batch's withdrawals in slot order, executed forced ones included (raises
    PubdataError on bad data)."""
    return [
        PublishedWithdrawal(op.sender, op.amount, op.script_pubkey)
        for op in pubdata.ops()
        if op.op in PAYOUT_OPS
    ]


def withdrawals_hash(items: list[PublishedWithdrawal]) -> bytes:
    """h_0 = 0^32, h_(k+1) = sha256(h_k || amount:6 || record:35): what Rollup.vy stores.

    A chain, not a Merkle tree: the bridge pays a batch's withdrawals together,
    so it never needs to prove one alone, and a chain costs one SHA-256 call per
    withdrawal on-chain with no buffer.
    """
    h = bytes(32)
    for item in items:
        h = hashlib.sha256(h + item.entry()).digest()
    return h


def batch_hash(
    params: ChainParams, block_number: int, old_root: int, new_root: int, pubdata: BlockPubdata
) -> bytes:
    """The full SHA-256 of the public-input preimage (the public input is its low 253 bits)."""
    return hashlib.sha256(
        public_input_preimage(params, block_number, old_root, new_root, pubdata)
    ).digest()
