"""The genesis state: the operator's fee account, plus devnet-only allocations.

A production chain starts with the fee account alone: BTC enters only through
deposits. A devnet may fund development accounts directly in the genesis tree
so a user can try transfers before wiring up Bitcoin; anyone rebuilding the
state from DA must then start from the same genesis file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bitcoinzk.crypto.eddsa import PublicKey
from bitcoinzk.spec.params import MAX_SATS, ChainParams
from bitcoinzk.spec.state import State
from bitcoinzk.spec.types import Account


@dataclass(frozen=True)
class Genesis:
    params: ChainParams
    operator: PublicKey
    allocations: tuple[tuple[PublicKey, int], ...] = field(default_factory=tuple)

    def state(self) -> State:
        state = State(self.params.tree_depth)
        state.put(self.params.fee_account, Account(self.operator))
        index = 0
        for pubkey, balance in self.allocations:
            if not 0 < balance <= MAX_SATS:
                raise ValueError(f"genesis balance {balance} out of range")
            while index == self.params.fee_account or state.get(index) is not None:
                index += 1
            state.put(index, Account(pubkey, balance))
        return state

    def to_json(self) -> dict[str, Any]:
        p = self.params
        return {
            "chain_id": p.chain_id,
            "tree_depth": p.tree_depth,
            "block_slots": p.block_slots,
            "block_records": p.block_records,
            "fee_account": p.fee_account,
            "operator": self.operator.hex(),
            "allocations": [[k.hex(), b] for k, b in self.allocations],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Genesis:
        params = ChainParams(
            chain_id=obj["chain_id"],
            tree_depth=obj["tree_depth"],
            block_slots=obj["block_slots"],
            block_records=obj["block_records"],
            fee_account=obj["fee_account"],
        )
        allocations = tuple((PublicKey.from_hex(k), int(b)) for k, b in obj["allocations"])
        return cls(params, PublicKey.from_hex(obj["operator"]), allocations)
