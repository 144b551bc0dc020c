"""The bridge's view of Silver settlement: finalized batches, read from the EVM.

A signer pays a withdrawal only because the rollup contract says its batch is
proven and final, never because the sequencer says so. This reader trusts the
contract's events and the calldata of the transactions that emitted them
(decoded and checked by bitcoinzk.da.evm), and counts a batch only once its
commit transaction has the configured confirmations.
"""

from __future__ import annotations

from typing import Protocol

from bitcoinzk.bridge.payout import (
    BatchWithdrawalId,
    FinalizedBatch,
    FinalizedDeposit,
    Withdrawal,
)
from bitcoinzk.da.evm import EvmBatchReader, PublishedBatch
from bitcoinzk.l2.params import ChainParams
from bitcoinzk.l2.types import OP_DEPOSIT


class _FinalityClient(Protocol):
    def is_final(self, tx_hash: bytes) -> bool: ...


class _Rollup(Protocol):
    @property
    def client(self) -> _FinalityClient: ...


def finalized_batch(batch: PublishedBatch) -> FinalizedBatch:
    deposits = tuple(
        FinalizedDeposit(op.pubkey.to_bytes(), op.amount, op.txid.hex(), op.vout)
        for op in batch.pubdata.ops()
        if op.op == OP_DEPOSIT and op.pubkey is not None
    )
    withdrawals = tuple(
        Withdrawal(BatchWithdrawalId(batch.batch_number, i), w.amount, w.script_pubkey)
        for i, w in enumerate(batch.withdrawals)
    )
    return FinalizedBatch(batch.batch_number, deposits, withdrawals)


class SilverSettlementReader:
    def __init__(self, rollup: _Rollup, params: ChainParams) -> None:
        self.rollup = rollup
        self.reader = EvmBatchReader(rollup, params)  # type: ignore[arg-type]

    def finalized_batches(self) -> list[FinalizedBatch]:
        out = []
        for batch in self.reader.batches():
            if not self.rollup.client.is_final(batch.tx_hash):
                break  # batches finalise in order
            out.append(finalized_batch(batch))
        return out
