"""Who pays the bridge's Bitcoin fees: the user whose money moves, never the reserves.

Every credited deposit and every paid withdrawal is charged a flat fee, known
in advance (`bzk_getDepositAddress` shows both), that covers its share of the
sweep or payout transaction in the worst case the bridge allows:

- `deposit_fee`: a whole sweep of this one deposit through the k-of-n leaf (the
  most expensive input), so a sweep of m deposits, which costs
  overhead + m inputs, never costs more than the m fees charged;
- `withdrawal_fee`: a whole payout of this one withdrawal (the longest output
  Layer-2 allows) spending up to `PAYOUT_INPUTS_PER_WITHDRAWAL` reserve outputs
  through the k-of-n leaf, plus the change.

A deposit of V is credited V - deposit_fee on Layer-2; a withdrawal of W burnt
on Layer-2 is paid W - withdrawal_fee on Bitcoin.  The coordinator never builds,
and no signer signs, a sweep or payout whose fee exceeds what its deposits or
withdrawals were charged, so the reserves always cover every Layer-2 balance;
the difference (charged - paid) is the bridge's surplus, recorded per
transaction in the store's `ledger`, so Bitcoin, Layer-2 and reserves reconcile
to the satoshi: reserves = Layer-2 supply + burnt-but-unpaid withdrawals + surplus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..bitcoin.tx import OutPoint, Tx, TxIn, TxOut
from ..spec.params import MAX_SCRIPT_PUBKEY
from .signers import SignerSet

PAYOUT_INPUTS_PER_WITHDRAWAL = 2
"""Reserve outputs a payout may spend per withdrawal it pays. Sweeps leave the
reserves in a few large outputs, so one is the common case; two leaves room
for a payout that also needs the previous payout's change."""

MAX_SWEEP_INPUTS = 200
"""Deposits per sweep: keeps the input count's varint at one byte (the fee
bound above counts on it) and the transaction far below standardness limits."""

DEPOSIT_TREE_DEPTH = 1  # two leaves: k-of-n and refund
MAIN_TREE_DEPTH = 0  # one leaf: k-of-n


def script_path_witness(signer_set: SignerSet, depth: int) -> list[bytes]:
    """The largest witness of a bridge input: k signatures, n - k empty slots,
    the k-of-n leaf and a control block for a tree of `depth`."""
    k, n = signer_set.threshold, signer_set.n
    return [
        *([b"\x00" * 64] * k),
        *([b""] * (n - k)),
        signer_set.multisig_leaf().script,
        b"\x00" * (33 + 32 * depth),
    ]


DEFAULT_FEE_RATE = 2.0
"""sat/vB of sweeps and payouts (`[bridge] payout_fee_rate`): regtest's relay floor is 1."""


def fee_for(fee_rate: float, vsize: int) -> int:
    return math.ceil(fee_rate * vsize)


@dataclass(frozen=True)
class FeePolicy:
    """The sat/vB the bridge pays, and what it charges users for it."""

    fee_rate: float = DEFAULT_FEE_RATE

    def __post_init__(self) -> None:
        if not 0 < self.fee_rate <= 10_000:
            raise ValueError("fee rate must be in (0, 10000] sat/vB")

    def deposit_fee(self, signer_set: SignerSet) -> int:
        main = signer_set.main_output().script_pubkey
        dummy = OutPoint("00" * 32, 0)
        tx = Tx(
            2,
            [TxIn(dummy, witness=script_path_witness(signer_set, DEPOSIT_TREE_DEPTH))],
            [TxOut(0, main)],
        )
        return fee_for(self.fee_rate, tx.vsize)

    def withdrawal_fee(self, signer_set: SignerSet) -> int:
        main = signer_set.main_output().script_pubkey
        witness = script_path_witness(signer_set, MAIN_TREE_DEPTH)
        inputs = [
            TxIn(OutPoint("00" * 32, i), witness=list(witness))
            for i in range(PAYOUT_INPUTS_PER_WITHDRAWAL)
        ]
        longest = TxOut(0, b"\x00" * MAX_SCRIPT_PUBKEY)
        tx = Tx(2, inputs, [longest, TxOut(0, main)])
        return fee_for(self.fee_rate, tx.vsize)

    def describe(self, signer_set: SignerSet) -> dict[str, object]:
        return {
            "fee_rate": self.fee_rate,
            "deposit_fee": self.deposit_fee(signer_set),
            "withdrawal_fee": self.withdrawal_fee(signer_set),
        }
