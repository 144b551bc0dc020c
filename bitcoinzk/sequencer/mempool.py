"""Pending user operations and the state they imply.

Admission checks what the STF will check, against the committed state plus
every pending operation of the same sender: the next nonce and the balance
left after pending spends. Signatures are checked before admission (in
batches, by the node). Incoming pending credits are not counted: a payment is
spendable once it is in a block.

Selection is fair: highest fee first, then earliest arrival, while each
sender's operations stay in nonce order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from bitcoinzk.spec.errors import InsufficientBalance, InvalidOperation, SelfTransfer, WrongNonce
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.state import State
from bitcoinzk.spec.stf import check_transfer_amounts, check_withdraw_fields, existing_sender
from bitcoinzk.spec.types import Transfer, UserOperation


class AlreadyKnown(InvalidOperation):
    code = -32020


class FeeTooLow(InvalidOperation):
    code = -32021


class MempoolFull(InvalidOperation):
    code = -32022


@dataclass
class Entry:
    seq: int
    tx_hash: bytes
    op: UserOperation
    received: float


@dataclass
class L2Mempool:
    params: ChainParams
    min_fee: int = 1
    max_size: int = 200_000
    entries: dict[bytes, Entry] = field(default_factory=dict)
    by_sender: dict[int, dict[int, Entry]] = field(default_factory=dict)
    spend: dict[int, int] = field(default_factory=dict)
    _seq: int = 0

    def __len__(self) -> int:
        return len(self.entries)

    def pending_nonce(self, state: State, sender: int) -> int:
        account = state.get(sender)
        base = account.nonce if account else 0
        return base + len(self.by_sender.get(sender, {}))

    def check(self, state: State, op: UserOperation, tx_hash: bytes) -> None:
        """Raise the reason `op` cannot be admitted; change nothing."""
        if tx_hash in self.entries:
            raise AlreadyKnown("transaction already in the mempool")
        if len(self.entries) >= self.max_size:
            raise MempoolFull("mempool is full, try again later")
        sender = existing_sender(state, self.params, op.sender)
        if isinstance(op, Transfer):
            # The recipient's index is the sequencer's to resolve, from its key.
            if state.index_of(op.recipient_pubkey) == op.sender:
                raise SelfTransfer("sender and recipient are the same account")
            check_transfer_amounts(op)
        else:
            check_withdraw_fields(op)
        if op.fee < self.min_fee:
            raise FeeTooLow(f"fee {op.fee} below the minimum {self.min_fee}")
        expected = self.pending_nonce(state, op.sender)
        if op.nonce != expected:
            raise WrongNonce(
                f"nonce {op.nonce}, expected {expected}"
                + (" (already used: replay?)" if op.nonce < expected else "")
            )
        available = sender.balance - self.spend.get(op.sender, 0)
        if op.amount + op.fee > available:
            raise InsufficientBalance(
                f"needs {op.amount + op.fee} sats, {available} available after pending spends"
            )

    def add(
        self, op: UserOperation, tx_hash: bytes, received: float, seq: int | None = None
    ) -> Entry:
        if seq is None:
            self._seq += 1
            seq = self._seq
        else:
            self._seq = max(self._seq, seq)
        entry = Entry(seq, tx_hash, op, received)
        self.entries[tx_hash] = entry
        self.by_sender.setdefault(op.sender, {})[op.nonce] = entry
        self.spend[op.sender] = self.spend.get(op.sender, 0) + op.amount + op.fee
        return entry

    def remove(self, tx_hash: bytes) -> None:
        entry = self.entries.pop(tx_hash, None)
        if entry is None:
            return
        op = entry.op
        queue = self.by_sender.get(op.sender, {})
        queue.pop(op.nonce, None)
        if not queue:
            self.by_sender.pop(op.sender, None)
        left = self.spend.get(op.sender, 0) - op.amount - op.fee
        if left > 0:
            self.spend[op.sender] = left
        else:
            self.spend.pop(op.sender, None)

    def drop_sender_from(self, sender: int, nonce: int) -> list[Entry]:
        """Remove `sender`'s operations from `nonce` on (they can no longer apply)."""
        dropped = [e for n, e in self.by_sender.get(sender, {}).items() if n >= nonce]
        for entry in dropped:
            self.remove(entry.tx_hash)
        return dropped

    def ordered(self, limit: int | None = None) -> list[Entry]:
        """Entries in inclusion order: fee, then arrival, each sender in nonce order.

        A sender's queue is already in nonce order (admission only takes the next
        nonce), so only each queue's head competes: O(senders + limit log senders).
        """
        limit = len(self.entries) if limit is None else limit
        queues = {s: iter(q.values()) for s, q in self.by_sender.items()}
        heap: list[tuple[int, int, int, Entry]] = []
        for sender, queue in queues.items():
            head = next(queue)
            heap.append((-head.op.fee, head.seq, sender, head))
        heapq.heapify(heap)
        out: list[Entry] = []
        while heap and len(out) < limit:
            _, _, sender, entry = heapq.heappop(heap)
            out.append(entry)
            nxt = next(queues[sender], None)
            if nxt is not None:
                heapq.heappush(heap, (-nxt.op.fee, nxt.seq, sender, nxt))
        return out
