"""A small BIP-32/BIP-86 Taproot wallet: key-path P2TR, coin selection, fee rate, signing.

Keys follow BIP-86 (`m/86'/coin'/account'/change/index`, single-key P2TR
with no script tree).  Signatures are BIP-340 Schnorr through `coincurve`
(libsecp256k1), thousands per second.  The wallet only builds and signs:
the node's mempool and the kernel decide whether the result is valid.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

import coincurve
from embit import bip32

from .index import Coin
from .policy import COINBASE_MATURITY, dust_threshold
from .script import p2tr_script, tweak_pubkey, tweak_seckey
from .tx import OutPoint, Tx, TxIn, TxOut

SEQUENCE_RBF_DISABLED = 0xFFFFFFFD  # allows nLockTime, signals no replacement


class WalletError(Exception):
    pass


class InsufficientFunds(WalletError):
    pass


class CoinSource(Protocol):
    """Where the wallet reads its coins: the embedded node implements this."""

    def coins_for_script(self, spk: bytes) -> list[Coin]: ...

    def height(self) -> int: ...

    def spent_in_mempool(self, op: OutPoint) -> bool: ...


@dataclass(frozen=True)
class TaprootKey:
    """A BIP-86 key: internal x-only key, tweaked output key and its spending secret."""

    path: str
    internal_key: bytes
    output_key: bytes
    tweaked_secret: bytes

    @classmethod
    def from_secret(cls, secret: bytes, path: str = "") -> TaprootKey:
        internal = coincurve.PublicKey.from_secret(secret).format()[1:]
        return cls(path, internal, tweak_pubkey(internal, None)[0], tweak_seckey(secret, None))

    @property
    def script_pubkey(self) -> bytes:
        return p2tr_script(self.output_key)

    def sign(self, sighash: bytes) -> bytes:
        return coincurve.PrivateKey(self.tweaked_secret).sign_schnorr(sighash, os.urandom(32))


def estimate_vsize(n_inputs: int, outputs: list[TxOut]) -> int:
    """Exact vsize of a key-path-only P2TR spend (Schnorr signatures are always 64 bytes)."""
    dummy = Tx(
        2, [TxIn(OutPoint("00" * 32, i), witness=[b"\x00" * 64]) for i in range(n_inputs)], outputs
    )
    return dummy.vsize


def sign_keypath(tx: Tx, spent: list[TxOut], keys: dict[int, TaprootKey]) -> None:
    """Fill the witness of each input in `keys` with a SIGHASH_DEFAULT key-path signature."""
    for i, key in keys.items():
        tx.vin[i].witness = [key.sign(tx.sighash_taproot(i, spent))]


class BitcoinWallet:
    def __init__(self, master: bip32.HDKey, network: str = "regtest", lookahead: int = 20) -> None:
        self.network = network
        coin_type = 0 if network in ("main", "mainnet") else 1
        self.account = master.derive(f"m/86h/{coin_type}h/0h")
        self.account_path = f"m/86'/{coin_type}'/0'"
        self.keys: dict[bytes, TaprootKey] = {}
        self.next_index = {0: 0, 1: 0}
        for change in (0, 1):
            for i in range(lookahead):
                self._derive(change, i)

    @classmethod
    def from_seed(cls, seed: bytes, network: str = "regtest", lookahead: int = 20) -> BitcoinWallet:
        return cls(bip32.HDKey.from_seed(seed), network, lookahead)

    def _derive(self, change: int, index: int) -> TaprootKey:
        child = self.account.derive([change, index])
        key = TaprootKey.from_secret(child.key.secret, f"{self.account_path}/{change}/{index}")
        self.keys[key.script_pubkey] = key
        return key

    def new_key(self, change: bool = False) -> TaprootKey:
        branch = int(change)
        key = self._derive(branch, self.next_index[branch])
        self.next_index[branch] += 1
        return key

    def coins(self, source: CoinSource, min_conf: int = 1) -> list[Coin]:
        """Spendable coins: confirmed enough, and coinbases past maturity."""
        tip = source.height()
        out = []
        for spk in self.keys:
            for c in source.coins_for_script(spk):
                if tip - c.height + 1 < min_conf:
                    continue
                if c.coinbase and tip + 1 - c.height < COINBASE_MATURITY:
                    continue
                if source.spent_in_mempool(c.outpoint):
                    continue
                out.append(c)
        return out

    def balance(self, source: CoinSource) -> int:
        return sum(c.output.value for c in self.coins(source))

    def create_transaction(
        self,
        outputs: list[TxOut],
        fee_rate: float,
        source: CoinSource,
        exclude: set[OutPoint] | None = None,
        locktime: int = 0,
    ) -> Tx:
        """Pay `outputs` at `fee_rate` sat/vB; largest coins first, change back to us
        unless it would be dust (then it goes to the fee)."""
        available = sorted(
            (c for c in self.coins(source) if not exclude or c.outpoint not in exclude),
            key=lambda c: -c.output.value,
        )
        target = sum(o.value for o in outputs)
        change_key = self.new_key(change=True)
        change = TxOut(0, change_key.script_pubkey)
        chosen: list[Coin] = []
        for coin in available:
            chosen.append(coin)
            total = sum(c.output.value for c in chosen)
            fee_with_change = int(
                fee_rate * estimate_vsize(len(chosen), [*outputs, change]) + 0.999
            )
            fee_without = int(fee_rate * estimate_vsize(len(chosen), outputs) + 0.999)
            if total >= target + fee_with_change + dust_threshold(change):
                change.value = total - target - fee_with_change
                return self._sign([*outputs, change], chosen, locktime)
            if total >= target + fee_without:
                return self._sign(list(outputs), chosen, locktime)
        raise InsufficientFunds(
            f"need {target} sats plus fee, have {sum(c.output.value for c in available)}"
        )

    def _sign(self, outputs: list[TxOut], coins: list[Coin], locktime: int) -> Tx:
        tx = Tx(
            2, [TxIn(c.outpoint, sequence=SEQUENCE_RBF_DISABLED) for c in coins], outputs, locktime
        )
        spent = [c.output for c in coins]
        sign_keypath(tx, spent, {i: self.keys[c.output.script_pubkey] for i, c in enumerate(coins)})
        return tx
