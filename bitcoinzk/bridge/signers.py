"""The bridge's signer set: n keys, threshold k, MuSig2 key path and a k-of-n leaf.

Every bridge output is P2TR with internal key = MuSig2 (BIP-327) aggregate of
all n signers, so the common case (everyone online) spends with one 64-byte
signature.  A `OP_CHECKSIGADD` leaf lets any k of them spend when some are
offline.  Aggregation, nonces and partial signatures come from `btclib_ecc`
(libsecp256k1 bindings); single BIP-340 signatures from `coincurve`.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import coincurve
from btclib_ecc.ecc import musig2

from ..bitcoin.script import Op, TapLeaf, TaprootOutput, push_data, push_int, taproot_tweak
from ..keyfile import load_key_file, save_key_file


class SignerSetError(ValueError):
    pass


@dataclass(frozen=True)
class SignerSet:
    """Public description of the federation: sorted compressed keys and threshold."""

    pubkeys: tuple[bytes, ...]
    threshold: int

    def __post_init__(self) -> None:
        n = len(self.pubkeys)
        if not 1 <= self.threshold <= n:
            raise SignerSetError(f"threshold {self.threshold} not in 1..{n}")
        if len(set(self.pubkeys)) != n or any(len(p) != 33 for p in self.pubkeys):
            raise SignerSetError("keys must be distinct 33-byte compressed points")
        if list(self.pubkeys) != musig2.key_sort(list(self.pubkeys)):
            raise SignerSetError("keys must be sorted (BIP-327 KeySort)")

    @classmethod
    def of(cls, pubkeys: list[bytes], threshold: int) -> SignerSet:
        return cls(tuple(musig2.key_sort(pubkeys)), threshold)

    @property
    def n(self) -> int:
        return len(self.pubkeys)

    @property
    def xonly_keys(self) -> list[bytes]:
        return [p[1:] for p in self.pubkeys]

    @property
    def aggregate_key(self) -> bytes:
        """The x-only MuSig2 aggregate of all n keys: every bridge output's internal key."""
        return musig2.key_agg(list(self.pubkeys)).x_only_pub_key

    def multisig_leaf(self) -> TapLeaf:
        """`<P1> CHECKSIG <P2> CHECKSIGADD ... <Pn> CHECKSIGADD <k> NUMEQUAL` (BIP-342 style)."""
        script = b""
        for i, key in enumerate(self.xonly_keys):
            script += push_data(key) + bytes([Op.OP_CHECKSIG if i == 0 else Op.OP_CHECKSIGADD])
        return TapLeaf(script + push_int(self.threshold) + bytes([Op.OP_NUMEQUAL]))

    def main_output(self) -> TaprootOutput:
        """The bridge's own UTXO (change of payouts, swept deposits)."""
        return TaprootOutput(self.aggregate_key, (self.multisig_leaf(),))

    def multisig_witness(
        self, sigs: dict[bytes, bytes], output: TaprootOutput, leaf: int
    ) -> list[bytes]:
        """Witness for the k-of-n leaf: signatures for keys P_n..P_1 (empty for absent ones),
        then the script and the control block."""
        if sum(1 for k in self.pubkeys if k in sigs) < self.threshold:
            raise SignerSetError("not enough signatures for the threshold")
        stack = [sigs.get(k, b"") for k in reversed(self.pubkeys)]
        return [*stack, output.leaves[leaf].script, output.control_block(leaf)]

    def to_json(self) -> str:
        return json.dumps({"threshold": self.threshold, "pubkeys": [p.hex() for p in self.pubkeys]})

    @classmethod
    def from_json(cls, text: str) -> SignerSet:
        d = json.loads(text)
        return cls.of([bytes.fromhex(p) for p in d["pubkeys"]], int(d["threshold"]))


@dataclass(frozen=True)
class SignerKey:
    """One signer's secret. Lives in its own file, readable by its owner only."""

    secret: bytes

    @property
    def pubkey(self) -> bytes:
        return coincurve.PublicKey.from_secret(self.secret).format()

    @classmethod
    def generate(cls) -> SignerKey:
        return cls(secrets.token_bytes(32))

    def save(self, path: Path) -> None:
        save_key_file(path, "secret", self.secret, self.pubkey.hex(), replace=True)

    @classmethod
    def load(cls, path: Path) -> SignerKey:
        return cls(load_key_file(path, "secret", lambda s: cls(s).pubkey.hex()))

    def sign_schnorr(self, msg: bytes) -> bytes:
        return coincurve.PrivateKey(self.secret).sign_schnorr(msg, secrets.token_bytes(32))


# --- MuSig2 rounds, one object per signer and session ------------------------------------


@dataclass
class NonceCommitment:
    """Round 1 of one signer for one message: the secret nonce never leaves this object."""

    key: SignerKey
    msg: bytes
    sec_nonce: bytearray
    pub_nonce: bytes

    @classmethod
    def create(cls, key: SignerKey, signer_set: SignerSet, msg: bytes) -> NonceCommitment:
        sec, pub = musig2.nonce_gen(
            int.from_bytes(key.secret, "big"), key.pubkey, signer_set.aggregate_key, msg
        )
        return cls(key, msg, sec, pub)

    def partial_sign(self, session: musig2.SessionContext) -> bytes:
        """Round 2. The secret nonce is zeroed by `musig2.sign`: a second call fails."""
        if session.msg != self.msg:
            raise SignerSetError("session message differs from the committed one")
        return musig2.sign(self.sec_nonce, int.from_bytes(self.key.secret, "big"), session)


def keypath_session(
    signer_set: SignerSet, merkle_root: bytes | None, msg: bytes, pub_nonces: list[bytes]
) -> musig2.SessionContext:
    """The session every signer agrees on: aggregate nonce, keys, Taproot tweak, message."""
    tweak = taproot_tweak(signer_set.aggregate_key, merkle_root)
    agg_nonce = musig2.nonce_agg(pub_nonces)
    return musig2.SessionContext(agg_nonce, list(signer_set.pubkeys), [tweak], [True], msg)


def aggregate(partials: list[bytes], session: musig2.SessionContext) -> bytes:
    """The final BIP-340 signature under the tweaked output key."""
    sig: bytes = musig2.partial_sig_agg(partials, session).serialize()
    return sig
