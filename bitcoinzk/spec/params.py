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

TREE_ARITY = 8
"""The account tree is 8-ary: a node is ``Poseidon`` of its 8 children. In the
Groth16 circuit a path then costs 8 x Poseidon(8) = 8 x 402 constraints at depth
24 instead of 24 x Poseidon(2) = 24 x 240 for a binary tree."""

LEVEL_BITS = 3
"""Index bits consumed per tree level (``2**LEVEL_BITS == TREE_ARITY``): the child
position at level ``k`` is ``(index >> 3k) & 7``."""

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
        if not (
            LEVEL_BITS <= self.tree_depth <= MAX_TREE_DEPTH and self.tree_depth % LEVEL_BITS == 0
        ):
            raise ValueError(
                f"tree_depth must be a multiple of {LEVEL_BITS} in {LEVEL_BITS}..{MAX_TREE_DEPTH} "
                f"(the account tree is {TREE_ARITY}-ary), got {self.tree_depth}"
            )
        if self.block_slots < 1 or self.block_records < 1:
            raise ValueError("a block needs at least one slot and one record")
        if not 0 <= self.fee_account < 2**self.tree_depth:
            raise ValueError("fee_account is outside the tree")

    @property
    def capacity(self) -> int:
        return 1 << self.tree_depth

    @property
    def levels(self) -> int:
        """Levels of the 8-ary account tree above the leaves (``tree_depth // 3``)."""
        return self.tree_depth // LEVEL_BITS
