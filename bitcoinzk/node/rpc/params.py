"""The parameters and result shapes of the Layer-2 JSON-RPC API, shared by the node and the
full node so that both parse and answer alike (docs/rpc.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bitcoinzk.crypto.eddsa import PublicKey
from bitcoinzk.node.rpc.jsonrpc import INVALID_PARAMS, JsonRpcError
from bitcoinzk.sequencer.store import Store, StoredBlock
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.state import State

MAX_NUMBER = 2**63 - 1
"""Block and batch numbers are SQLite integers: anything larger cannot name one."""


def parse_hash(value: Any) -> bytes:
    if not isinstance(value, str):
        raise JsonRpcError(INVALID_PARAMS, "hash must be a hex string")
    text = value[2:] if value.startswith("0x") else value
    # bytes.fromhex would also take spaces between the digits: a hash is 64 digits exactly.
    if len(text) != 64 or not all(c in "0123456789abcdefABCDEF" for c in text):
        raise JsonRpcError(INVALID_PARAMS, "hash must be 32 bytes as 64 hex digits, 0x optional")
    return bytes.fromhex(text)


def parse_number(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise JsonRpcError(INVALID_PARAMS, f"{what} must be an integer")
    if not 0 <= value <= MAX_NUMBER:
        raise JsonRpcError(INVALID_PARAMS, f"{what} must be in 0..{MAX_NUMBER}")
    return value


def block_query(number: Any, full: Any, head: int) -> tuple[int, bool]:
    """bzk_getBlock's parameters: a block number or "latest", and a bool."""
    if number == "latest":
        number = head
    if isinstance(number, str):
        raise JsonRpcError(INVALID_PARAMS, "number must be an integer or 'latest'")
    number = parse_number(number, "number")
    if not isinstance(full, bool):
        raise JsonRpcError(INVALID_PARAMS, "full must be a bool")
    return number, full


def account_index(
    account: Any, capacity: int, index_of: Callable[[PublicKey], int | None]
) -> int | None:
    """An RPC account parameter (a leaf index or a public key hex) as a leaf index."""
    if isinstance(account, int) and not isinstance(account, bool):
        if not 0 <= account < capacity:
            raise JsonRpcError(INVALID_PARAMS, "account index outside the tree")
        return account
    if isinstance(account, str):
        try:
            pubkey = PublicKey.from_hex(account)
        except Exception:
            raise JsonRpcError(
                INVALID_PARAMS, "account must be an index or a public key hex"
            ) from None
        return index_of(pubkey)
    raise JsonRpcError(INVALID_PARAMS, "account must be an index or a public key hex")


def account_json(state: State, index: int) -> dict[str, Any] | None:
    """`bzk_getAccount`'s result: the account at `index` with its leaf and Merkle path
    under the state's root; None if there is no account there. Its `pending_nonce` is the
    account's nonce: a node with a mempool puts the next free one there."""
    acct = state.get(index)
    if acct is None:
        return None
    proof = state.proof(index)
    return {
        "index": index,
        **acct.to_json(),
        "pending_nonce": acct.nonce,
        "leaf": hex(proof.leaf),
        "root": hex(state.root),
        "siblings": [hex(s) for s in proof.siblings],
    }


def chain_fields(params: ChainParams, genesis: Genesis, store: Store) -> dict[str, Any]:
    """What bzk_chainInfo says of the chain itself, before the serving node's state."""
    return {
        "chain_id": params.chain_id,
        "tree_depth": params.tree_depth,
        "block_slots": params.block_slots,
        "block_records": params.block_records,
        "fee_account": params.fee_account,
        "operator": genesis.operator.hex(),
        "genesis_root": store.get_meta("genesis_root"),
    }


def block_json(block: StoredBlock, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number": block.number,
        "old_root": hex(block.old_root),
        "new_root": hex(block.new_root),
        "timestamp": block.timestamp,
        "tx_count": len(block.ops),
        "fees": block.fees,
        "pubdata": "0x" + block.pubdata.hex(),
        "public_input": hex(block.public_input),
    }
    if full:
        out["ops"] = block.ops
    return out
