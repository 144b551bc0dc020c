"""A bitcoind-compatible node over JSON-RPC: the embedded `RegtestNode`'s counterpart.

`RemoteBitcoin` offers what the devnet and its scenario read from the embedded
node (`height`, `get_tx`, `confirmations`, `send_raw_transaction`, `mine`, and
the wallet's `CoinSource`) on top of `BitcoinRPC`, with bitcoind's result
shapes.  Needs `-txindex` for `get_tx` of confirmed transactions not in the
mempool, and a chain where `generatetoaddress` works (regtest) for `mine`.
"""

from __future__ import annotations

from .index import Coin, TxLookup
from .rpc_client import BitcoinRPC, BitcoinRpcError
from .script import BURN_SCRIPT, address_from_script
from .tx import OutPoint, Tx

RPC_INVALID_ADDRESS_OR_KEY = -5  # bitcoind: no such transaction / block

# getblockchaininfo's "chain" -> the network names of `script.hrp_for`
NETWORKS = {"main": "main", "test": "test", "testnet4": "test", "signet": "signet"}


class RemoteBitcoin:
    """`RemoteBitcoin(BitcoinRPC("http://user:pass@127.0.0.1:18443/"))`."""

    def __init__(self, rpc: BitcoinRPC) -> None:
        self.rpc = rpc
        chain = str(rpc.call("getblockchaininfo")["chain"])
        self.network = NETWORKS.get(chain, "regtest")

    def close(self) -> None:
        """Nothing to release: one HTTP connection per call."""

    def height(self) -> int:
        return self.rpc.getblockcount()

    def confirmations(self, block_hash: str) -> int:
        """Bitcoin Core's meaning: tip height - block height + 1, or -1 off the active chain."""
        return int(self.rpc.call("getblockheader", block_hash, True)["confirmations"])

    def get_tx(self, txid: str) -> TxLookup | None:
        try:
            d = self.rpc.call("getrawtransaction", txid, True)
        except BitcoinRpcError as e:
            if e.code == RPC_INVALID_ADDRESS_OR_KEY:
                return None
            raise
        tx = Tx.from_hex(d["hex"])
        block_hash = d.get("blockhash")
        if block_hash is None:
            return TxLookup(tx, None, None)
        height = int(self.rpc.call("getblockheader", block_hash, True)["height"])
        return TxLookup(tx, str(block_hash), height)

    def send_raw_transaction(self, tx: Tx) -> str:
        return self.rpc.send_transaction(tx)

    def mine(self, n: int = 1, payout_script: bytes = BURN_SCRIPT) -> list[str]:
        """`generatetoaddress`: regtest (or a chain whose difficulty lets the node mine)."""
        address = address_from_script(payout_script, self.network)
        if address is None:
            raise ValueError("mining pays a segwit output only")
        return self.rpc.generate_to_address(n, address)

    # --- the wallet's CoinSource ---------------------------------------------------------

    def coins_for_script(self, spk: bytes) -> list[Coin]:
        """Confirmed unspent outputs paying `spk` (`scantxoutset`: the UTXO set, no wallet)."""
        return [Coin(c.outpoint, c.output, c.height, c.coinbase) for c in self.rpc.scan_script(spk)]

    def spent_in_mempool(self, op: OutPoint) -> bool:
        """A confirmed coin that `gettxout` no longer returns with the mempool included."""
        return self.rpc.get_txout(op, include_mempool=True) is None
