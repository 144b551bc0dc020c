"""Run tapscripts through libbitcoinkernel: many leaf spends in one regtest block.

A block holds one funding transaction (the wallet pays one P2TR output per leaf,
the leaf being the output's only script) and one transaction spending all of
them by the script path.  The block goes straight to the kernel (no mempool:
leaves this large are not standard, and the point is consensus); the verdict is
whether the tip moved (`process_block` returns normally for blocks that fail
while connecting).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.script import NUMS_H, TapLeaf, TaprootOutput
from bitcoinzk.bitcoin.tx import OutPoint, Tx, TxIn, TxOut
from bitcoinzk.bitcoin.wallet import BitcoinWallet

MAX_BLOCK_WEIGHT = 4_000_000
BLOCK_WEIGHT_BUDGET = 3_900_000
"""What the spends of one block may weigh (room for the coinbase and funding tx)."""

OUTPUT_VALUE = 1_000


@dataclass(frozen=True)
class Spend:
    """One script-path spend: the leaf and the witness items below it (bottom first)."""

    script: bytes
    witness: tuple[bytes, ...]

    @property
    def weight(self) -> int:
        """Witness weight units of the input (script, items, control block, prefixes)."""
        items = [*self.witness, self.script, bytes(33)]
        return sum(len(x) + _varint_len(len(x)) for x in items) + 1 + 41 * 4


def _varint_len(n: int) -> int:
    return 1 if n < 0xFD else 3 if n <= 0xFFFF else 5


def run_spends(node: RegtestNode, wallet: BitcoinWallet, spends: Sequence[Spend]) -> bool:
    """Fund and spend every leaf in one block; True if the kernel connected it."""
    outputs = [TaprootOutput(NUMS_H, (TapLeaf(s.script),)) for s in spends]
    fund = wallet.create_transaction(
        [TxOut(OUTPUT_VALUE, o.script_pubkey) for o in outputs], 1, node
    )
    # the wallet keeps the order of our outputs (change comes last); two spends of the
    # same leaf get outputs of their own
    if [o.script_pubkey for o in fund.vout[: len(outputs)]] != [o.script_pubkey for o in outputs]:
        raise AssertionError("funding outputs out of order")
    ins = [TxIn(OutPoint(fund.txid, i)) for i in range(len(outputs))]
    spend = Tx(2, ins, [TxOut(OUTPUT_VALUE * len(spends), wallet.new_key().script_pubkey)])
    for txin, s, o in zip(spend.vin, spends, outputs, strict=True):
        txin.witness = [*s.witness, s.script, o.control_block(0)]
    tip = node.tip_hash()
    result = node.submit_block(node.build_block([fund, spend]))
    return result.connected and node.tip_hash() != tip


def run_all(node: RegtestNode, wallet: BitcoinWallet, spends: Sequence[Spend]) -> int:
    """Run `spends` in as few blocks as fit the block weight; returns the number of
    blocks.  Raises `AssertionError` naming the first block the kernel refused."""
    blocks: list[list[Spend]] = [[]]
    weight = 0
    for s in spends:
        if s.weight > BLOCK_WEIGHT_BUDGET:
            raise ValueError(f"a spend of {s.weight} WU does not fit a block")
        if weight + s.weight > BLOCK_WEIGHT_BUDGET:
            blocks.append([])
            weight = 0
        blocks[-1].append(s)
        weight += s.weight
    for k, group in enumerate(blocks):
        if not run_spends(node, wallet, group):
            raise AssertionError(f"block {k} of {len(blocks)} refused by the kernel")
    return len(blocks)
