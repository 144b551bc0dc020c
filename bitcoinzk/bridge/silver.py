"""The bridge's view of Silver settlement: finalized batches and exit claims, read
from the EVM.

A signer pays a withdrawal only because the rollup contract says its batch is
proven and final, never because the sequencer says so. This reader trusts the
contract's events and the calldata of the transactions that emitted them
(decoded and checked by bitcoinzk.da.evm), and counts a batch only once its
commit transaction has the configured confirmations.

After exodus (docs/exit.md) the contract also records one exit claim per account
(`ExitClaimed`: the account's balance at the last committed root, proven by the
exit circuit, and where to pay it). Each is owed like a withdrawal, under the id
`exit:<account>`, once its claim transaction has the same confirmations.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bitcoinzk.bridge.payout import (
    BatchWithdrawalId,
    ExitWithdrawalId,
    FinalizedBatch,
    FinalizedDeposit,
    FinalizedWithdrawal,
    WithdrawalId,
)
from bitcoinzk.da.evm import EvmBatchReader, PublishedBatch, RollupData, RollupEvent
from bitcoinzk.spec.params import MAX_SCRIPT_PUBKEY, RECORD_BYTES, ChainParams
from bitcoinzk.spec.types import OP_DEPOSIT

log = logging.getLogger(__name__)

EXIT_EVENT = "ExitClaimed"


class _FinalityClient(Protocol):
    def is_final(self, tx_hash: bytes) -> bool: ...


class _Rollup(RollupData, Protocol):
    """What the bridge reads of the Rollup: its data (`EvmBatchReader`) and finality."""

    @property
    def client(self) -> _FinalityClient: ...


def finalized_batch(batch: PublishedBatch) -> FinalizedBatch:
    deposits = tuple(
        FinalizedDeposit(op.pubkey.to_bytes(), op.amount, op.txid.hex(), op.vout)
        for op in batch.pubdata.ops()
        if op.op == OP_DEPOSIT and op.pubkey is not None
    )
    withdrawals = tuple(
        FinalizedWithdrawal(BatchWithdrawalId(batch.batch_number, i), w.amount, w.script_pubkey)
        for i, w in enumerate(batch.withdrawals)
    )
    return FinalizedBatch(batch.batch_number, deposits, withdrawals)


def record_script_pubkey(record: bytes) -> bytes | None:
    """The script_pubkey of a 35-byte withdrawal record (len:u8 || script, zero-padded);
    None if the record is not one."""
    if len(record) != RECORD_BYTES or not 1 <= record[0] <= MAX_SCRIPT_PUBKEY:
        return None
    spk, padding = record[1 : 1 + record[0]], record[1 + record[0] :]
    return None if any(padding) else bytes(spk)


def exit_claim(event: RollupEvent) -> FinalizedWithdrawal | None:
    """The withdrawal an `ExitClaimed` event owes; None (logged) for a malformed record,
    which the contract never emits: paying a script nobody can spend would burn it."""
    account, amount = int(event.args["account"]), int(event.args["amount"])
    spk = record_script_pubkey(bytes(event.args["record"]))
    if spk is None:
        log.error("exit claim of account %d has a malformed record: not paid", account)
        return None
    return FinalizedWithdrawal(ExitWithdrawalId(account), amount, spk)


class SilverSettlementReader:
    def __init__(self, rollup: _Rollup, params: ChainParams) -> None:
        self.rollup = rollup
        self.reader = EvmBatchReader(rollup, params)

    def finalized_batches(self) -> list[FinalizedBatch]:
        out = []
        for batch in self.reader.batches():
            if not self.rollup.client.is_final(batch.tx_hash):
                break  # batches finalise in order
            out.append(finalized_batch(batch))
        return out

    def finalized_exits(self) -> list[FinalizedWithdrawal]:
        """Every exit claim whose transaction is final, in the order claimed.

        Read from the contract's events alone. A claim is owed once, named by its
        account (`ExitWithdrawalId`), so a claim mined again after an EVM reorg is the
        same withdrawal; should two final events ever name one account (the contract
        refuses a second claim), the first stands."""
        out: dict[WithdrawalId, FinalizedWithdrawal] = {}
        for event in self.rollup.events():
            if event.name != EXIT_EVENT or not self.rollup.client.is_final(event.tx_hash):
                continue
            claim = exit_claim(event)
            if claim is None:
                continue
            if claim.id in out:
                if out[claim.id] != claim:
                    log.critical("two exit claims for %s: paying the first only", claim.id)
                continue
            out[claim.id] = claim
        return list(out.values())
