"""Deposit addresses: P2TR outputs that commit to their Layer-2 recipient.

Tree, two leaves, internal key = the signers' MuSig2 aggregate:
  0. the signers' k-of-n `OP_CHECKSIGADD` leaf;
  1. the refund leaf
     `<recipient:32> OP_DROP <timelock> OP_CHECKSEQUENCEVERIFY OP_DROP <refund_key> OP_CHECKSIG`.
The recipient (the 32-byte packed BabyJubJub public key) sits in the refund
leaf, so it is part of the output key: an output paying this address cannot be
credited to anybody else (the tBTC v2 idea).  The depositor reveals
(recipient, refund key, timelock) to the bridge (`bzk_getDepositAddress`),
and every signer can recompute the address from that reveal alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..bitcoin.script import Op, TapLeaf, TaprootOutput, address_from_script, push_data, push_int
from ..bitcoin.tx import OutPoint, Tx, TxIn, TxOut
from ..crypto.eddsa import EdDSAError, PublicKey
from .signers import SignerKey, SignerSet

DEFAULT_REFUND_TIMELOCK = 144  # blocks; must exceed the crediting depth by a wide margin
MULTISIG_LEAF = 0
REFUND_LEAF = 1


class DepositError(ValueError):
    pass


@dataclass(frozen=True)
class DepositReveal:
    """What a depositor tells the bridge about its deposit address."""

    recipient: bytes  # Layer-2 public key, 32 bytes packed (bitcoinzk.crypto.eddsa.PublicKey)
    refund_key: bytes  # depositor's x-only key
    timelock: int = DEFAULT_REFUND_TIMELOCK  # relative, in blocks (BIP-68/112)

    def __post_init__(self) -> None:
        if len(self.recipient) != 32 or len(self.refund_key) != 32:
            raise DepositError("recipient and refund key must be 32 bytes")
        if not 1 <= self.timelock <= 0xFFFF:
            raise DepositError("timelock must be 1..65535 blocks")
        try:  # an address for a key nobody can use would lock the deposit on Layer 2
            PublicKey.from_bytes(self.recipient)
        except EdDSAError as e:
            raise DepositError(f"recipient is not a BabyJubJub public key: {e}") from e

    def refund_leaf(self) -> TapLeaf:
        return TapLeaf(
            push_data(self.recipient)
            + bytes([Op.OP_DROP])
            + push_int(self.timelock)
            + bytes([Op.OP_CHECKSEQUENCEVERIFY, Op.OP_DROP])
            + push_data(self.refund_key)
            + bytes([Op.OP_CHECKSIG])
        )

    def output(self, signer_set: SignerSet) -> TaprootOutput:
        return TaprootOutput(
            signer_set.aggregate_key, (signer_set.multisig_leaf(), self.refund_leaf())
        )

    def script_pubkey(self, signer_set: SignerSet) -> bytes:
        return self.output(signer_set).script_pubkey

    def address(self, signer_set: SignerSet, network: str = "regtest") -> str:
        addr = address_from_script(self.script_pubkey(signer_set), network)
        assert addr is not None
        return addr


def refund_transaction(
    reveal: DepositReveal,
    signer_set: SignerSet,
    deposit: OutPoint,
    amount: int,
    refund_key: SignerKey,
    to_script: bytes,
    fee: int,
    sequence: int | None = None,
) -> Tx:
    """The depositor's refund through leaf 1, valid once the deposit has `timelock`
    confirmations (nSequence = timelock, version 2 for BIP-68)."""
    out = reveal.output(signer_set)
    spent = TxOut(amount, out.script_pubkey)
    seq = reveal.timelock if sequence is None else sequence
    tx = Tx(2, [TxIn(deposit, sequence=seq)], [TxOut(amount - fee, to_script)])
    leaf = out.leaves[REFUND_LEAF]
    sighash = tx.sighash_taproot(0, [spent], leaf_script=leaf.script)
    tx.vin[0].witness = [
        refund_key.sign_schnorr(sighash),
        leaf.script,
        out.control_block(REFUND_LEAF),
    ]
    return tx
