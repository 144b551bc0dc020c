"""Chain parameters and protocol limits (docs/protocol.md, "Chain parameters")."""

from __future__ import annotations

from dataclasses import dataclass

MAX_SATS = 21_000_000 * 100_000_000
"""No amount or balance ever exceeds the whole Bitcoin supply, so no sum of two
can wrap the field: the circuit range-checks every value against this."""

MAX_NONCE = 2**32 - 1
MIN_WITHDRAWAL = 1_000
"""Below this the Bitcoin payout would be dust once the bridge's fee share is taken."""

MAX_TREE_DEPTH = 24
"""Account indices are 24-bit in pubdata."""

MAX_SCRIPT_PUBKEY = 34
"""P2TR, P2WSH, P2WPKH, P2PKH, P2SH and witness programs of up to 32 bytes: with its
length byte a script fits a 35-byte record (and two field elements when signed)."""

MAX_WITHDRAWAL = 2**48 - 1
"""A withdrawal's exact amount is 48 bits of its chunk (docs/protocol.md, "Pubdata")."""

CHUNK_BYTES = 10
RECORD_BYTES = 35
OUTPOINT_BYTES = 36
"""A deposit's Bitcoin outpoint, txid:32 || vout:u32, in the pubdata's outpoints section."""


@dataclass(frozen=True)
class ChainParams:
    """What every node, the circuit and the settlement contract agree on."""

    chain_id: int = 1337
    tree_depth: int = MAX_TREE_DEPTH
    block_slots: int = 64
    block_records: int = 4
    fee_account: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.chain_id < 2**32:
            raise ValueError("chain_id must be a u32")
        if not 1 <= self.tree_depth <= MAX_TREE_DEPTH:
            raise ValueError(f"tree_depth must be in 1..{MAX_TREE_DEPTH}")
        if self.block_slots < 1 or self.block_records < 1:
            raise ValueError("a block needs at least one slot and one record")
        if not 0 <= self.fee_account < 2**self.tree_depth:
            raise ValueError("fee_account is outside the tree")

    @property
    def capacity(self) -> int:
        return 1 << self.tree_depth
