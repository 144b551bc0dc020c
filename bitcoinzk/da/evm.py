"""Reading batches back from an EVM settlement chain, trusting nothing but the chain.

A full node (or an auditor) needs only the Rollup's address: its events say
which transactions committed batches, and each such transaction's calldata is
the batch data. `EvmBatchReader` decodes that calldata, checks it against what
the contract stored (batch hash, withdrawals hash, roots), and `replay` applies
it to the genesis state with the STF itself, so the state it rebuilds is the
one the proofs were about, root for root.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bitcoinzk.crypto.eddsa import PublicKey, Signature
from bitcoinzk.da.batch import PublishedWithdrawal, batch_hash, withdrawals, withdrawals_hash
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.pubdata import BlockPubdata, PubdataError, PubdataOp
from bitcoinzk.spec.state import State
from bitcoinzk.spec.stf import apply_block
from bitcoinzk.spec.types import (
    OP_DEPOSIT,
    OP_FORCED_REJECTED,
    OP_FORCED_WITHDRAW,
    OP_TRANSFER,
    OP_TRANSFER_NEW,
    OP_WITHDRAW,
    Deposit,
    ForcedWithdraw,
    Operation,
    Transfer,
    Withdraw,
)


class DataUnavailable(Exception):
    """The chain's data does not match what the contract committed to."""


class ReplayMismatch(DataUnavailable):
    """Replaying the published data does not reproduce the committed root."""


class RollupEvent(Protocol):
    # read-only: the settlement layer's Event is a frozen dataclass
    @property
    def name(self) -> str: ...
    @property
    def args(self) -> dict[str, Any]: ...
    @property
    def tx_hash(self) -> bytes: ...
    @property
    def block_number(self) -> int: ...


class RollupData(Protocol):
    """What the reader needs of bitcoinzk.settlement.evm.rollup.Rollup (da/ sits below it)."""

    def events(
        self, from_block: int | None = None, to_block: int | None = None
    ) -> Sequence[RollupEvent]: ...

    def transaction_input(self, tx_hash: bytes) -> bytes: ...

    def decode_commit(self, calldata: bytes, index: int = 0) -> tuple[bytes, int, bytes]: ...


REQUESTED_EVENT = "ForcedWithdrawalRequested"
PROCESSED_EVENT = "ForcedWithdrawalProcessed"


def forced_from_event(args: dict[str, Any]) -> ForcedWithdraw:
    """A queued forced withdrawal back from its ForcedWithdrawalRequested event."""
    return ForcedWithdraw(
        index=int(args["index"]),
        sender=int(args["account"]),
        script_pubkey=bytes(args["script_pubkey"]),
        amount=int(args["amount"]),
        fee=int(args["fee"]),
        nonce=int(args["nonce"]),
        signature=Signature(int(args["r8x"]), int(args["r8y"]), int(args["s"])),
    )


@dataclass(frozen=True)
class PublishedBatch:
    """One committed batch as recovered from events and calldata."""

    batch_number: int
    old_root: int
    new_root: int
    pubdata: BlockPubdata
    proof: bytes
    batch_hash: bytes
    withdrawals_hash: bytes
    withdrawals: tuple[PublishedWithdrawal, ...]
    tx_hash: bytes
    block_number: int
    forced: ForcedWithdraw | None = None
    """The queued request slot 0 processed (from the contract's events), if any."""


def _operations(
    state: State, ops: list[PubdataOp], forced: ForcedWithdraw | None = None
) -> list[Operation]:
    """Published ops back into STF operations; nonces and known keys come from the state.

    Signatures are not published (the proof already checked them), so the
    replay runs the STF with check_signatures=False and every other rule on; a forced
    withdrawal is the request the contract queued, signature included (the STF decides
    from it whether it is executed or rejected).
    """
    out: list[Operation] = []
    nonces: dict[int, int] = {}
    keys: dict[int, PublicKey] = {}
    for p in ops:
        if p.op in (OP_FORCED_WITHDRAW, OP_FORCED_REJECTED):
            if forced is None:
                raise ReplayMismatch("a forced op without its queued request")
            out.append(forced)
            if p.op == OP_FORCED_WITHDRAW:
                nonces[forced.sender] = forced.nonce + 1
            continue
        if p.op == OP_DEPOSIT:
            assert p.pubkey is not None
            out.append(Deposit(p.recipient, p.pubkey, p.amount, p.txid, p.vout))
            keys.setdefault(p.recipient, p.pubkey)
            continue
        sender = state.get(p.sender)
        if sender is None:
            raise ReplayMismatch(f"published op spends from empty account {p.sender}")
        nonce = nonces.get(p.sender, sender.nonce)
        nonces[p.sender] = nonce + 1
        if p.op in (OP_TRANSFER, OP_TRANSFER_NEW):
            if p.pubkey is not None:
                key = p.pubkey
                keys.setdefault(p.recipient, key)
            else:
                known = state.get(p.recipient)
                if known is not None:
                    key = known.pubkey
                elif p.recipient in keys:
                    key = keys[p.recipient]
                else:
                    raise ReplayMismatch(f"TRANSFER to empty account {p.recipient}")
            out.append(Transfer(p.sender, p.recipient, key, p.amount, p.fee, nonce))
        elif p.op == OP_WITHDRAW:
            out.append(Withdraw(p.sender, p.script_pubkey, p.amount, p.fee, nonce))
        else:
            raise ReplayMismatch(f"unexpected op {p.op} in published data")
    return out


def replay_block(state: State, params: ChainParams, batch: PublishedBatch) -> State:
    """Apply one published batch with the STF; the result must hit its committed root."""
    return replay_operations(state, params, batch)[0]


def replay_operations(
    state: State, params: ChainParams, batch: PublishedBatch
) -> tuple[State, list[Operation]]:
    """`replay_block`, also returning the operations as the STF applied them (a full
    node stores them as the block's transactions). `state` is not modified: the result
    is a fork of it."""
    if state.root != batch.old_root:
        raise ReplayMismatch(f"batch {batch.batch_number} starts from another root")
    try:
        ops = _operations(state, batch.pubdata.ops(), batch.forced)
        result = apply_block(state, params, batch.batch_number, ops, check_signatures=False)
    except (PubdataError, ValueError) as exc:
        raise ReplayMismatch(f"batch {batch.batch_number} does not apply: {exc}") from None
    except Exception as exc:  # an STF rule (typed InvalidOperation subclasses)
        raise ReplayMismatch(f"batch {batch.batch_number} breaks a rule: {exc!r}") from None
    if result.pubdata != batch.pubdata:
        raise ReplayMismatch(f"batch {batch.batch_number}: re-encoded pubdata differs")
    if result.trace.new_root != batch.new_root:
        raise ReplayMismatch(f"batch {batch.batch_number}: replay gives another root")
    return result.state, ops


class EvmBatchReader:
    """Batches of one Rollup deployment, from its events and calldata alone."""

    def __init__(self, rollup: RollupData, params: ChainParams) -> None:
        self.rollup = rollup
        self.params = params

    def batches(self, from_block: int | None = None) -> Iterator[PublishedBatch]:
        # One transaction may commit several batches: the i-th BatchCommitted event of a
        # transaction is the i-th batch of its calldata.
        # A batch's ForcedWithdrawalProcessed event comes before its BatchCommitted, and
        # the request's ForcedWithdrawalRequested before both.
        tx = b""
        index = 0
        requests: dict[int, ForcedWithdraw] = {}
        processed: dict[int, int] = {}
        for event in self.rollup.events(from_block):
            if event.name == REQUESTED_EVENT:
                request = forced_from_event(event.args)
                requests[request.index] = request
            elif event.name == PROCESSED_EVENT:
                processed[int(event.args["batch_number"])] = int(event.args["index"])
            if event.name != "BatchCommitted":
                continue
            index = index + 1 if event.tx_hash == tx else 0
            tx = event.tx_hash
            at = processed.get(int(event.args["batch_number"]))
            yield self.decode(event, index, None if at is None else requests.get(at))

    def decode(
        self, event: RollupEvent, index: int = 0, forced: ForcedWithdraw | None = None
    ) -> PublishedBatch:
        """The batch of `event`, the `index`-th batch its transaction commits; `forced`:
        the queued request it processed (its ForcedWithdrawalProcessed event's)."""
        a = event.args
        number, old_root, new_root = (
            int(str(a[k])) for k in ("batch_number", "old_root", "new_root")
        )
        calldata = self.rollup.transaction_input(event.tx_hash)
        try:
            batch_data, call_root, proof = self.rollup.decode_commit(calldata, index)
            pubdata = BlockPubdata.from_bytes(batch_data)
            items = withdrawals(pubdata)
        except (ValueError, PubdataError) as exc:
            raise DataUnavailable(f"batch {number}: calldata does not decode: {exc}") from None
        if pubdata.forced:
            if forced is None:
                raise DataUnavailable(f"batch {number}: processes a forced withdrawal not read")
            pubdata = replace(pubdata, forced_digest=forced.digest())
        elif forced is not None:
            raise DataUnavailable(f"batch {number}: the contract says it processed a request")
        if call_root != new_root:
            raise DataUnavailable(f"batch {number}: calldata root differs from the event")
        digest = batch_hash(self.params, number, old_root, new_root, pubdata)
        if digest != a["batch_hash"]:
            raise DataUnavailable(f"batch {number}: calldata does not hash to the committed batch")
        w_hash = withdrawals_hash(items)
        if w_hash != a["withdrawals_hash"] or len(items) != a["withdrawals"]:
            raise DataUnavailable(f"batch {number}: withdrawals differ from the committed hash")
        return PublishedBatch(
            number,
            old_root,
            new_root,
            pubdata,
            proof,
            digest,
            w_hash,
            tuple(items),
            event.tx_hash,
            event.block_number,
            forced if pubdata.forced else None,
        )

    def rebuild(self, genesis: State) -> State:
        """The current Layer-2 state, rebuilt from genesis and the chain's data alone."""
        state = genesis
        expected = 1
        for batch in self.batches():
            if batch.batch_number != expected:
                raise DataUnavailable(f"batch {expected} missing from the chain's events")
            state = replay_block(state, self.params, batch)
            expected += 1
        return state
