"""How the bridge reads and writes Bitcoin: one small interface, two backends.

`NodeChain` wraps the embedded `RegtestNode`; `RpcChain` wraps `BitcoinRPC`
(bitcoind with `-txindex`, or the embedded node over HTTP).  Each signer holds
its own instance: its view of Bitcoin is its own, not the coordinator's.
"""

from __future__ import annotations

from typing import Protocol

from ..bitcoin.regtest import RegtestNode
from ..bitcoin.rpc_client import BitcoinRPC, BitcoinRpcError, to_sats
from ..bitcoin.tx import OutPoint, Tx, TxOut


class BitcoinChain(Protocol):
    def utxo(self, op: OutPoint) -> TxOut | None:
        """The output if it is unspent on the best chain (confirmed)."""
        ...

    def find_output(self, op: OutPoint) -> tuple[TxOut, int] | None:
        """The output (spent or not) and its confirmations; None if not confirmed."""
        ...

    def broadcast(self, tx: Tx) -> str: ...


class NodeChain:
    def __init__(self, node: RegtestNode) -> None:
        self.node = node

    def utxo(self, op: OutPoint) -> TxOut | None:
        coin = self.node.get_coin(op)
        return None if coin is None else coin.output

    def find_output(self, op: OutPoint) -> tuple[TxOut, int] | None:
        found = self.node.get_tx(op.txid)
        if found is None or found.block_hash is None or op.vout >= len(found.tx.vout):
            return None
        return found.tx.vout[op.vout], self.node.confirmations(found.block_hash)

    def broadcast(self, tx: Tx) -> str:
        return self.node.send_raw_transaction(tx)


class RpcChain:
    def __init__(self, rpc: BitcoinRPC) -> None:
        self.rpc = rpc

    def utxo(self, op: OutPoint) -> TxOut | None:
        out = self.rpc.get_txout(op, include_mempool=False)
        if out is None:
            return None
        return TxOut(to_sats(out["value"]), bytes.fromhex(out["scriptPubKey"]["hex"]))

    def find_output(self, op: OutPoint) -> tuple[TxOut, int] | None:
        try:
            d = self.rpc.call("getrawtransaction", op.txid, True)
        except BitcoinRpcError:
            return None
        conf = int(d.get("confirmations", 0))
        if conf < 1 or op.vout >= len(d["vout"]):
            return None
        v = d["vout"][op.vout]
        return TxOut(to_sats(v["value"]), bytes.fromhex(v["scriptPubKey"]["hex"])), conf

    def broadcast(self, tx: Tx) -> str:
        return self.rpc.send_transaction(tx)
