"""Accounts and operations, with their signed messages and JSON forms.

Field names and message layouts follow docs/protocol.md; the circuit hashes
exactly the same `message()` values.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from bitcoinzk.crypto.eddsa import PrivateKey, PublicKey, Signature
from bitcoinzk.crypto.mimc import multi_mimc7
from bitcoinzk.crypto.poseidon import poseidon
from bitcoinzk.spec.errors import MalformedOperation
from bitcoinzk.spec.params import MAX_SCRIPT_PUBKEY, RECORD_BYTES

OP_NOOP = 0
OP_DEPOSIT = 1
OP_TRANSFER = 2
OP_TRANSFER_NEW = 3
OP_WITHDRAW = 4
OP_FORCED_WITHDRAW = 5
"""A forced withdrawal from the contract's queue, executed: paid like OP_WITHDRAW."""
OP_FORCED_REJECTED = 6
"""A forced withdrawal from the contract's queue that breaks a rule: no state change."""


@dataclass(frozen=True)
class Account:
    pubkey: PublicKey
    balance: int = 0
    nonce: int = 0

    def leaf(self) -> int:
        return poseidon([self.pubkey.x, self.pubkey.y, self.balance, self.nonce])

    def to_json(self) -> dict[str, Any]:
        return {"pubkey": self.pubkey.hex(), "balance": self.balance, "nonce": self.nonce}


def script_pubkey_fields(script_pubkey: bytes) -> tuple[int, int]:
    """(spk_hi, spk_lo): `dest35 = len || script || zero padding` (35 bytes, the WITHDRAW
    record) as two field elements, `int(dest35[0:17])` and `int(dest35[17:35])`."""
    if len(script_pubkey) > MAX_SCRIPT_PUBKEY:
        raise MalformedOperation(f"script_pubkey longer than {MAX_SCRIPT_PUBKEY} bytes")
    dest = bytes([len(script_pubkey)]) + script_pubkey
    dest = dest + bytes(RECORD_BYTES - len(dest))
    return int.from_bytes(dest[:17], "big"), int.from_bytes(dest[17:RECORD_BYTES], "big")


@dataclass(frozen=True)
class Deposit:
    """BTC that arrived on Bitcoin, credited by the bridge; never signed by a user."""

    recipient: int
    pubkey: PublicKey
    amount: int
    txid: bytes
    vout: int

    @property
    def outpoint(self) -> str:
        return f"{self.txid.hex()}:{self.vout}"

    def tx_hash(self) -> bytes:
        # A deposit is identified by the Bitcoin output that paid it, nothing else.
        return hashlib.sha256(b"bzk-deposit" + self.txid + self.vout.to_bytes(4, "big")).digest()

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "deposit",
            "recipient": self.recipient,
            "pubkey": self.pubkey.hex(),
            "amount": self.amount,
            "txid": self.txid.hex(),
            "vout": self.vout,
        }


@dataclass(frozen=True)
class Transfer:
    """A payment to a public key; the sequencer resolves (or creates) its index."""

    sender: int
    recipient: int
    recipient_pubkey: PublicKey
    amount: int
    fee: int
    nonce: int
    signature: Signature | None = None

    def message(self, chain_id: int) -> int:
        return poseidon(
            [
                OP_TRANSFER,
                chain_id,
                self.sender,
                self.recipient_pubkey.x,
                self.recipient_pubkey.y,
                self.amount,
                self.fee,
                self.nonce,
            ]
        )

    def signed(self, key: PrivateKey, chain_id: int) -> Transfer:
        return replace(self, signature=key.sign(self.message(chain_id)))

    def tx_hash(self, chain_id: int) -> bytes:
        return self.message(chain_id).to_bytes(32, "big")

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "transfer",
            "sender": self.sender,
            "recipient": self.recipient,
            "recipient_pubkey": self.recipient_pubkey.hex(),
            "amount": self.amount,
            "fee": self.fee,
            "nonce": self.nonce,
            "signature": self.signature.hex() if self.signature else None,
        }


@dataclass(frozen=True)
class Withdraw:
    """Leave Layer-2: debit here, paid to `script_pubkey` on Bitcoin once final."""

    sender: int
    script_pubkey: bytes
    amount: int
    fee: int
    nonce: int
    signature: Signature | None = None

    def message(self, chain_id: int) -> int:
        spk_hi, spk_lo = script_pubkey_fields(self.script_pubkey)
        return poseidon(
            [OP_WITHDRAW, chain_id, self.sender, spk_hi, spk_lo, self.amount, self.fee, self.nonce]
        )

    def signed(self, key: PrivateKey, chain_id: int) -> Withdraw:
        return replace(self, signature=key.sign(self.message(chain_id)))

    def tx_hash(self, chain_id: int) -> bytes:
        return self.message(chain_id).to_bytes(32, "big")

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "withdraw",
            "sender": self.sender,
            "script_pubkey": self.script_pubkey.hex(),
            "amount": self.amount,
            "fee": self.fee,
            "nonce": self.nonce,
            "signature": self.signature.hex() if self.signature else None,
        }


FORCED_DIGEST_BITS = 128


@dataclass(frozen=True)
class ForcedWithdraw:
    """A withdrawal the user queued on the Rollup contract because the sequencer ignored it.

    The fields and signature are those of a `Withdraw` (the same signed message); `index`
    is the request's position in the contract's queue. A block processes it in slot 0,
    executed if every withdrawal rule holds, else rejected (docs/protocol.md,
    "Forced withdrawals")."""

    index: int
    sender: int
    script_pubkey: bytes
    amount: int
    fee: int
    nonce: int
    signature: Signature

    def as_withdraw(self) -> Withdraw:
        return Withdraw(
            self.sender, self.script_pubkey, self.amount, self.fee, self.nonce, self.signature
        )

    def message(self, chain_id: int) -> int:
        return self.as_withdraw().message(chain_id)

    def digest(self) -> int:
        """What the contract stores and the circuit recomputes: MultiMiMC7(meta, spk_hi,
        spk_lo, R8x, R8y, S) cut to 128 bits, meta = from | amount<<24 | fee<<72 | nonce<<85."""
        spk_hi, spk_lo = script_pubkey_fields(self.script_pubkey)
        meta = self.sender | self.amount << 24 | self.fee << 72 | self.nonce << 85
        sig = self.signature
        full = multi_mimc7([meta, spk_hi, spk_lo, sig.r8x, sig.r8y, sig.s])
        return full & ((1 << FORCED_DIGEST_BITS) - 1)

    def tx_hash(self, chain_id: int) -> bytes:
        return hashlib.sha256(b"bzk-forced" + self.index.to_bytes(8, "big")).digest()

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "forced_withdraw",
            "index": self.index,
            "sender": self.sender,
            "script_pubkey": self.script_pubkey.hex(),
            "amount": self.amount,
            "fee": self.fee,
            "nonce": self.nonce,
            "signature": self.signature.hex(),
        }


Operation = Deposit | Transfer | Withdraw | ForcedWithdraw
UserOperation = Transfer | Withdraw


def op_hash(op: Operation, chain_id: int) -> bytes:
    if isinstance(op, Deposit):
        return op.tx_hash()
    return op.tx_hash(chain_id)


# --- JSON decoding: strict, because this is where hostile input arrives ---------


def _int(obj: dict[str, Any], key: str, lo: int = 0, hi: int = 2**64 - 1) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedOperation(f"'{key}' must be an integer")
    if not lo <= value <= hi:
        raise MalformedOperation(f"'{key}' must be in {lo}..{hi}")
    return value


def _hex(obj: dict[str, Any], key: str, size: int | None = None, max_size: int = 1024) -> bytes:
    value = obj.get(key)
    if not isinstance(value, str):
        raise MalformedOperation(f"'{key}' must be a hex string")
    text = value[2:] if value.startswith("0x") else value
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise MalformedOperation(f"'{key}' is not valid hex") from None
    if size is not None and len(raw) != size:
        raise MalformedOperation(f"'{key}' must be {size} bytes")
    if len(raw) > max_size:
        raise MalformedOperation(f"'{key}' is too long")
    return raw


def _pubkey(obj: dict[str, Any], key: str) -> PublicKey:
    try:
        return PublicKey.from_bytes(_hex(obj, key, 32))
    except MalformedOperation:
        raise
    except Exception:
        raise MalformedOperation(f"'{key}' is not a valid BabyJubJub public key") from None


def _signature(obj: dict[str, Any]) -> Signature:
    try:
        return Signature.from_bytes(_hex(obj, "signature", 64))
    except MalformedOperation:
        raise
    except Exception:
        raise MalformedOperation("'signature' is not a valid EdDSA signature") from None


def user_op_from_json(obj: Any) -> UserOperation:
    """Parse a user-submitted operation. Deposits are refused: only the bridge makes them."""
    if not isinstance(obj, dict):
        raise MalformedOperation("transaction must be a JSON object")
    kind = obj.get("type")
    if kind == "transfer":
        return Transfer(
            sender=_int(obj, "sender", hi=2**24 - 1),
            recipient=_int(obj, "recipient", hi=2**24 - 1) if "recipient" in obj else 0,
            recipient_pubkey=_pubkey(obj, "recipient_pubkey"),
            amount=_int(obj, "amount"),
            fee=_int(obj, "fee"),
            nonce=_int(obj, "nonce"),
            signature=_signature(obj),
        )
    if kind == "withdraw":
        return Withdraw(
            sender=_int(obj, "sender", hi=2**24 - 1),
            script_pubkey=_hex(obj, "script_pubkey", max_size=MAX_SCRIPT_PUBKEY),
            amount=_int(obj, "amount"),
            fee=_int(obj, "fee"),
            nonce=_int(obj, "nonce"),
            signature=_signature(obj),
        )
    if kind == "deposit":
        raise MalformedOperation("deposits are created by the bridge, not submitted")
    raise MalformedOperation("'type' must be 'transfer' or 'withdraw'")


def op_from_json(obj: dict[str, Any]) -> Operation:
    """Parse any operation, deposits included (for the store and trusted callers)."""
    if obj.get("type") == "forced_withdraw":
        # the contract accepted only R8 on the curve and S < l: the strict decoding holds
        return ForcedWithdraw(
            index=_int(obj, "index"),
            sender=_int(obj, "sender", hi=2**24 - 1),
            script_pubkey=_hex(obj, "script_pubkey", max_size=MAX_SCRIPT_PUBKEY),
            amount=_int(obj, "amount"),
            fee=_int(obj, "fee"),
            nonce=_int(obj, "nonce"),
            signature=_signature(obj),
        )
    if obj.get("type") == "deposit":
        return Deposit(
            recipient=_int(obj, "recipient", hi=2**24 - 1),
            pubkey=_pubkey(obj, "pubkey"),
            amount=_int(obj, "amount"),
            txid=_hex(obj, "txid", 32),
            vout=_int(obj, "vout", hi=2**32 - 1),
        )
    return user_op_from_json(obj)
