"""Commitments to values that Bitcoin Script can check: the prover signs in Python,
tapscript verifies, libbitcoinkernel decides.

Two schemes, both hash-based (Script has no way to check a signature over
arbitrary data, but it can hash):

- **Hashlock bit commitments** (BitVM1).  Per bit, two secret 20-byte
  preimages `p0`, `p1`; the commitment is `HASH160(p0), HASH160(p1)`.
  Revealing `p_b` commits to bit `b`.  Revealing both is equivocation.
- **Winternitz one-time signatures** (BitVM2).  An `n`-bit message is cut into
  `w`-bit digits, each signed by a hash chain of length `d = 2^w - 1`:
  `sig_i = H^{v_i}(sk_i)`, public key `pk_i = H^d(sk_i)`.  A checksum
  `C = sum(d - v_i)`, itself signed in digits, stops anyone who has a signature
  from raising a digit (hashing further along its chain), because that lowers
  the checksum, and lowering a checksum digit means inverting HASH160.

The witness for a Winternitz signature carries each digit's value next to its
chain element, as BitVM2 does: the script checks both and leaves the digits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bitcoinzk.bitcoin.opcodes import Op, Script, drop

HASH_BYTES = 20


def hash160(data: bytes) -> bytes:
    """RIPEMD160(SHA256(data)): what OP_HASH160 computes."""
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def _derive(seed: bytes, *labels: int) -> bytes:
    material = seed + b"".join(x.to_bytes(4, "big") for x in labels)
    return hashlib.sha256(b"bitcoinzk/bitvm/" + material).digest()[:HASH_BYTES]


def script_num_bytes(n: int) -> bytes:
    """A small non-negative number as a witness element (minimal CScriptNum)."""
    if n == 0:
        return b""
    return n.to_bytes((n.bit_length() + 8) // 8, "little")


# --- BitVM1 hashlock bit commitments --------------------------------------------------


@dataclass(frozen=True)
class BitCommitment:
    """The public side of one bit commitment: HASH160 of each preimage."""

    hash0: bytes
    hash1: bytes

    def hash_for(self, bit: int) -> bytes:
        return self.hash1 if bit else self.hash0

    def open_script(self) -> Script:
        """Consumes a preimage, fails unless it opens this commitment, leaves the bit.

        stack: <preimage>  ->  <bit>
        """
        return Script(
            Op.OP_HASH160,
            Op.OP_DUP,
            self.hash1,
            Op.OP_EQUAL,
            Op.OP_DUP,
            Op.OP_ROT,
            self.hash0,
            Op.OP_EQUAL,
            Op.OP_BOOLOR,
            Op.OP_VERIFY,
        )

    def open_as_script(self, bit: int) -> Script:
        """Consumes a preimage, fails unless it opens this commitment *to `bit`*."""
        return Script(Op.OP_HASH160, self.hash_for(bit), Op.OP_EQUALVERIFY)


@dataclass(frozen=True)
class BitSecret:
    """The prover's side: both preimages."""

    preimage0: bytes
    preimage1: bytes

    @classmethod
    def derive(cls, seed: bytes, index: int) -> BitSecret:
        return cls(_derive(seed, 1, index, 0), _derive(seed, 1, index, 1))

    @property
    def public(self) -> BitCommitment:
        return BitCommitment(hash160(self.preimage0), hash160(self.preimage1))

    def reveal(self, bit: int) -> bytes:
        return self.preimage1 if bit else self.preimage0


def bit_from_preimage(commitment: BitCommitment, preimage: bytes) -> int | None:
    """Which bit a revealed preimage opens, or None (how a challenger reads the chain)."""
    h = hash160(preimage)
    if h == commitment.hash0:
        return 0
    if h == commitment.hash1:
        return 1
    return None


# --- BitVM2 Winternitz one-time signatures --------------------------------------------


@dataclass(frozen=True)
class WinternitzParams:
    """`n_bits` of message in `digit_bits`-bit digits, plus checksum digits."""

    n_bits: int
    digit_bits: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.digit_bits <= 8 or self.n_bits < 1:
            raise ValueError("digit_bits must be 1..8 and n_bits positive")

    @property
    def d(self) -> int:
        """Largest digit value, and the length of each hash chain."""
        return (1 << self.digit_bits) - 1

    @property
    def n_message(self) -> int:
        return -(-self.n_bits // self.digit_bits)

    @property
    def n_checksum(self) -> int:
        max_sum, n = self.n_message * self.d, 0
        while max_sum:
            max_sum >>= self.digit_bits
            n += 1
        return n

    @property
    def n_digits(self) -> int:
        return self.n_message + self.n_checksum

    def digits(self, value: int) -> list[int]:
        """Message digits, most significant first, then checksum digits, least
        significant first (the order of the signature and of the script)."""
        if not 0 <= value < 1 << self.n_bits:
            raise ValueError(f"value does not fit {self.n_bits} bits")
        w, mask = self.digit_bits, self.d
        msg = [(value >> (w * i)) & mask for i in reversed(range(self.n_message))]
        checksum = sum(self.d - v for v in msg)
        return msg + [(checksum >> (w * j)) & mask for j in range(self.n_checksum)]


@dataclass(frozen=True)
class WinternitzPublicKey:
    params: WinternitzParams
    keys: tuple[bytes, ...]  # one chain end per digit

    def verify_script(self) -> Script:
        """Verify a signature and leave the message digits, most significant on top.

        stack in:  <sig_{N-1}> <v_{N-1}> ... <sig_0> <v_0>      (v_0 on top)
        stack out: <m_{n-1}> ... <m_0>                           (m_0, most significant, on top)
        """
        p = self.params
        parts: list[Script] = []
        for key in self.keys:
            parts.append(
                Script(
                    Op.OP_DUP,
                    0,
                    p.d + 1,
                    Op.OP_WITHIN,
                    Op.OP_VERIFY,  # 0 <= v <= d
                    Op.OP_DUP,
                    Op.OP_TOALTSTACK,
                    Op.OP_TOALTSTACK,
                )
            )
            parts.append(Script(Op.OP_DUP, Op.OP_HASH160) * p.d)  # sig, H(sig), .., H^d(sig)
            # the item at depth v is H^(d-v)(sig), which is the key for an honest digit
            parts.append(Script(Op.OP_FROMALTSTACK, Op.OP_PICK, key, Op.OP_EQUALVERIFY))
            parts.append(drop(p.d + 1))
        # checksum: the most significant checksum digit comes off the altstack first
        parts.append(Script(Op.OP_FROMALTSTACK))
        for _ in range(p.n_checksum - 1):
            shift = Script(Op.OP_DUP, Op.OP_ADD) * p.digit_bits
            parts.append(shift + Script(Op.OP_FROMALTSTACK, Op.OP_ADD))
        # C + sum(m_i) must be n*d; keep each m_i under the running sum
        for _ in range(p.n_message):
            parts.append(Script(Op.OP_FROMALTSTACK, Op.OP_DUP, Op.OP_ROT, Op.OP_ADD))
        parts.append(Script(p.n_message * p.d, Op.OP_NUMEQUALVERIFY))
        return Script.join(parts)

    def digits_to_number_script(self) -> Script:
        """After `verify_script`: fold the message digits into one number (n_bits <= 31)."""
        p = self.params
        if p.n_bits > 31:
            raise ValueError("script numbers hold 31 bits")
        # stack: m_{n-1} .. m_1 m_0 (top); Horner from the top: acc = acc * 2^w + next
        step = Script(Op.OP_DUP, Op.OP_ADD) * p.digit_bits + Script(Op.OP_ADD)
        return step * (p.n_message - 1)


@dataclass(frozen=True)
class WinternitzSecret:
    params: WinternitzParams
    secrets: tuple[bytes, ...]

    @classmethod
    def derive(cls, params: WinternitzParams, seed: bytes, index: int = 0) -> WinternitzSecret:
        return cls(params, tuple(_derive(seed, 2, index, i) for i in range(params.n_digits)))

    @property
    def public(self) -> WinternitzPublicKey:
        return WinternitzPublicKey(
            self.params, tuple(_chain(s, self.params.d) for s in self.secrets)
        )

    def sign(self, value: int) -> list[bytes]:
        """Witness elements, bottom of the stack first (see `verify_script`)."""
        digits = self.params.digits(value)
        out: list[bytes] = []
        for secret, v in reversed(list(zip(self.secrets, digits, strict=True))):
            out += [_chain(secret, v), script_num_bytes(v)]
        return out


def _chain(value: bytes, steps: int) -> bytes:
    for _ in range(steps):
        value = hash160(value)
    return value


def winternitz_signature_bytes(params: WinternitzParams) -> int:
    """Witness bytes of one signature: chain elements, digit values and length prefixes."""
    sig = WinternitzSecret(params, tuple(bytes(HASH_BYTES) for _ in range(params.n_digits)))
    return sum(1 + len(x) for x in sig.sign((1 << params.n_bits) - 1))
