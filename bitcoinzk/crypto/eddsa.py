"""
EdDSA over BabyJubJub with Poseidon, byte-for-byte compatible with circomlibjs
``eddsa.signPoseidon`` / ``verifyPoseidon`` and circomlib ``EdDSAPoseidonVerifier``.

Signing (circomlibjs)::

    h  = BLAKE-512(seed)                      # 64 bytes
    s  = prune(h[0:32]) as little-endian int  # clear 3 low bits, clear bit 255, set bit 254
    A  = (s >> 3) * B8
    r  = BLAKE-512(h[32:64] || msg as 32 bytes LE) mod l
    R8 = r * B8
    hm = Poseidon(R8x, R8y, Ax, Ay, msg)
    S  = (r + hm * s) mod l

Verification is the circuit's relation, exactly::

    S < l,  x(8A) != 0,  S * B8 == R8 + (8 * hm) * A

Note this is *not* the fully cofactored ``8*S*B8 == 8*R8 + 8*hm*A``: the circuit
multiplies only ``A`` by 8, so a signature whose ``R8`` carries a small-order
component satisfies the cofactored equation but cannot be proven. Accepting it
would let a key owner get an unprovable transaction into a block. We therefore
also reject points off the curve (the circuit does not check this, but no honest
signer produces them) and coordinates/messages outside the field.

:func:`verify_batch` answers exactly like :func:`verify`. With the C extension
loaded (see :mod:`.poseidon`) it simply verifies each item natively (~20x faster
than the pure-Python batch). Without it, it checks every item's ``R8`` is in the
prime subgroup, then a random linear combination of all equations with one
multi-scalar multiplication, and bisects on failure (equal to :func:`verify` up to
a 2^-128 chance from its random coefficients).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from gmpy2 import mpz

from . import babyjub as bj
from .blake512 import blake512
from .poseidon import FIELD_MODULUS, NATIVE, native_install, poseidon

SEED_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
BATCH_COEFFICIENT_BITS = 128


class EdDSAError(ValueError):
    """Base class for EdDSA encoding errors."""


class InvalidSeedError(EdDSAError):
    """Raised when a private key seed is not exactly 32 bytes."""


class InvalidPublicKeyError(EdDSAError):
    """Raised when a public key is not a point on BabyJubJub (or not canonically encoded)."""


class InvalidSignatureEncodingError(EdDSAError):
    """Raised when signature bytes are malformed (length, R8 encoding, S >= l)."""


class InvalidMessageError(EdDSAError):
    """Raised when the message is not a field element (0 <= msg < r)."""


def _check_msg(msg: int) -> None:
    if isinstance(msg, bool) or not isinstance(msg, int) or not 0 <= msg < FIELD_MODULUS:
        raise InvalidMessageError("message must be an int in [0, r)")


@dataclass(frozen=True)
class PublicKey:
    """``A = (s >> 3) * B8`` as affine coordinates; always a curve point."""

    x: int
    y: int

    def __post_init__(self) -> None:
        if not bj.is_on_curve((self.x, self.y)):
            raise InvalidPublicKeyError("public key is not on BabyJubJub")

    def to_bytes(self) -> bytes:
        """circomlib ``packPoint`` (32 bytes)."""
        return bj.pack((self.x, self.y))

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicKey:
        try:
            return cls(*bj.unpack(data))
        except bj.BabyJubError as e:
            raise InvalidPublicKeyError(str(e)) from e

    def hex(self) -> str:
        return self.to_bytes().hex()

    @classmethod
    def from_hex(cls, text: str) -> PublicKey:
        try:
            return cls.from_bytes(bytes.fromhex(text))
        except ValueError as e:
            raise InvalidPublicKeyError(str(e)) from e


@dataclass(frozen=True)
class Signature:
    """
    ``(R8, S)``. Construction does not validate: verification must be able to
    see (and reject) any values, including off-curve ``R8`` or ``S >= l``.
    Decoding from bytes is strict.
    """

    r8x: int
    r8y: int
    s: int

    def to_bytes(self) -> bytes:
        """circomlibjs ``packSignature``: packed R8 (32) || S little-endian (32)."""
        return bj.pack((self.r8x, self.r8y)) + self.s.to_bytes(32, "little")

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        if len(data) != SIGNATURE_SIZE:
            raise InvalidSignatureEncodingError(f"signature must be 64 bytes, got {len(data)}")
        try:
            r8x, r8y = bj.unpack(data[:32])
        except bj.BabyJubError as e:
            raise InvalidSignatureEncodingError(f"bad R8: {e}") from e
        s = int.from_bytes(data[32:], "little")
        if s >= bj.L:
            raise InvalidSignatureEncodingError("S >= l")
        return cls(r8x, r8y, s)

    def hex(self) -> str:
        return self.to_bytes().hex()

    @classmethod
    def from_hex(cls, text: str) -> Signature:
        try:
            return cls.from_bytes(bytes.fromhex(text))
        except ValueError as e:
            raise InvalidSignatureEncodingError(str(e)) from e


def _prune(h: bytes) -> int:
    b = bytearray(h[:32])
    b[0] &= 0xF8
    b[31] &= 0x7F
    b[31] |= 0x40
    return int.from_bytes(b, "little")


class PrivateKey:
    """A 32-byte seed, expanded with BLAKE-512 exactly as circomlibjs does."""

    __slots__ = ("_prefix", "_public", "_s", "_seed")

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes | bytearray) or len(seed) != SEED_SIZE:
            raise InvalidSeedError("private key seed must be 32 bytes")
        self._seed = bytes(seed)
        h = blake512(self._seed)
        self._s = _prune(h)
        self._prefix = h[32:]
        self._public: PublicKey | None = None

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(secrets.token_bytes(SEED_SIZE))

    @property
    def seed(self) -> bytes:
        return self._seed

    def hex(self) -> str:
        return self._seed.hex()

    @classmethod
    def from_hex(cls, text: str) -> PrivateKey:
        try:
            return cls(bytes.fromhex(text))
        except ValueError as e:
            raise InvalidSeedError(str(e)) from e

    def __repr__(self) -> str:  # never print the seed
        return f"PrivateKey(public={self.public_key().hex()})"

    def public_key(self) -> PublicKey:
        if self._public is None:
            self._public = PublicKey(*bj.base8_mul(self._s >> 3))
        return self._public

    def sign(self, msg: int) -> Signature:
        """circomlibjs ``signPoseidon(seed, msg)``; ``msg`` must be a field element."""
        _check_msg(msg)
        a = self.public_key()
        r = int.from_bytes(blake512(self._prefix + msg.to_bytes(32, "little")), "little") % bj.L
        r8x, r8y = bj.base8_mul(r)
        hm = poseidon([r8x, r8y, a.x, a.y, msg])
        return Signature(r8x, r8y, (r + hm * self._s) % bj.L)


# --- verification ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    """One item's per-signature work, shared by single and batch verification."""

    r8: bj.Ext
    a8: bj.Ext
    hm: int
    s: int


def _prepare(pub: PublicKey, msg: int, sig: Signature) -> _Prepared | None:
    """Cheap checks and the hash; ``None`` if the item is already invalid."""
    try:
        if not isinstance(msg, int) or isinstance(msg, bool) or not 0 <= msg < FIELD_MODULUS:
            return None
        if not isinstance(sig.s, int) or not 0 <= sig.s < bj.L:
            return None
        if not bj.is_on_curve((sig.r8x, sig.r8y)) or not bj.is_on_curve((pub.x, pub.y)):
            return None
        a8 = bj.ext_double(bj.ext_double(bj.ext_double(bj.to_ext((pub.x, pub.y)))))
        if a8[0] % bj._P == 0:  # 8A is (0, 1) or (0, -1): the circuit's IsZero(dbl3.x) check
            return None
        hm = poseidon([sig.r8x, sig.r8y, pub.x, pub.y, msg])
        return _Prepared(bj.to_ext((sig.r8x, sig.r8y)), a8, hm, sig.s)
    except (TypeError, ValueError, AttributeError):
        return None


def _check_single(p: _Prepared) -> bool:
    right = bj.ext_add(p.r8, bj.ext_mul(p.a8, p.hm))
    return bj.ext_eq(bj.base8_mul_ext(p.s), right)


def _verify_native(pub: PublicKey, msg: int, sig: Signature) -> bool | None:
    """:func:`verify` in C for plain-int fields; ``None`` if the Python path must decide."""
    if NATIVE is None:
        return None
    try:
        args = (pub.x, pub.y, msg, sig.r8x, sig.r8y, sig.s)
    except AttributeError:
        return None
    if not all(type(v) is int for v in args):
        return None
    try:
        return NATIVE.eddsa_verify(*args)
    except LookupError:  # Poseidon(5) constants not yet handed to the extension
        native_install(6)
        return NATIVE.eddsa_verify(*args)


def verify(pub: PublicKey, msg: int, sig: Signature) -> bool:
    """True iff ``sig`` is a valid EdDSA-Poseidon signature of ``msg`` by ``pub``. Never raises."""
    fast = _verify_native(pub, msg, sig)
    if fast is not None:
        return fast
    p = _prepare(pub, msg, sig)
    return p is not None and _check_single(p)


def _msm(points: Sequence[bj.Ext], scalars: Sequence[int]) -> bj.Ext:
    """``sum k_i * P_i`` by Pippenger's bucket method (scalars must be >= 0)."""
    n = len(points)
    if n == 0:
        return bj.ZERO
    bits = max(k.bit_length() for k in scalars)
    c = 4 if n < 32 else 5 if n < 128 else 6 if n < 512 else 7 if n < 2048 else 8
    mask = (1 << c) - 1
    windows = (bits + c - 1) // c
    acc = bj.ZERO
    for w in range(windows - 1, -1, -1):
        for _ in range(c):
            acc = bj.ext_double(acc)
        buckets: list[bj.Ext | None] = [None] * (mask + 1)
        shift = w * c
        for pt, k in zip(points, scalars, strict=True):
            d = (k >> shift) & mask
            if d:
                b = buckets[d]
                buckets[d] = pt if b is None else bj.ext_add(b, pt)
        running = bj.ZERO
        total = bj.ZERO
        for d in range(mask, 0, -1):
            b = buckets[d]
            if b is not None:
                running = bj.ext_add(running, b)
            total = bj.ext_add(total, running)
        acc = bj.ext_add(acc, total)
    return acc


def _batch_ok(items: Sequence[_Prepared]) -> bool:
    """
    Random linear combination ``sum z_i (S_i B8 - R8_i - hm_i 8A_i) == 0``.

    Sound only because every ``R8_i`` was checked to lie in the prime subgroup
    (and ``8A_i`` always does), so a false item survives with probability 2^-128.
    """
    if not items:
        return True
    s_total = 0
    pts: list[bj.Ext] = []
    ks: list[int] = []
    for it in items:
        z = secrets.randbits(BATCH_COEFFICIENT_BITS) | 1
        s_total += z * it.s
        pts.append(bj.ext_neg(it.r8))
        ks.append(z)
        pts.append(bj.ext_neg(it.a8))
        ks.append(z * it.hm % bj.L)
    total = bj.ext_add(bj.base8_mul_ext(s_total % bj.L), _msm(pts, ks))
    return bj.ext_is_zero(total)


def _resolve(items: Sequence[tuple[int, _Prepared]], out: list[bool]) -> None:
    """Mark ``items`` valid if their batch holds; otherwise bisect down to singles."""
    if not items:
        return
    if len(items) <= 2:
        for i, p in items:
            out[i] = _check_single(p)
        return
    if _batch_ok([p for _, p in items]):
        for i, _ in items:
            out[i] = True
        return
    mid = len(items) // 2
    _resolve(items[:mid], out)
    _resolve(items[mid:], out)


def verify_batch(items: Sequence[tuple[PublicKey, int, Signature]]) -> list[bool]:
    """
    Verify many signatures; element ``i`` of the result equals ``verify(*items[i])``.

    Each ``R8`` is first checked to be in the prime-order subgroup (the circuit's
    equation implies it, and the linear combination is only sound for such
    points); then one random linear combination is checked with a multi-scalar
    multiplication. If it fails, halves are checked recursively.
    """
    if NATIVE is not None:
        return [verify(pub, msg, sig) for pub, msg, sig in items]
    out = [False] * len(items)
    ready: list[tuple[int, _Prepared]] = []
    for i, (pub, msg, sig) in enumerate(items):
        p = _prepare(pub, msg, sig)
        if p is not None and bj.ext_is_zero(bj.ext_mul(p.r8, bj.L)):
            ready.append((i, p))
    _resolve(ready, out)
    return out


def verify_batch_bytes(items: Sequence[tuple[bytes, int, bytes]]) -> list[bool]:
    """
    :func:`verify_batch` over ``(packed public key, msg, packed signature)``.

    A top-level function over bytes and ints so it pickles cheaply into a
    ``ProcessPoolExecutor``: split a block's signatures into one chunk per core.
    Undecodable keys or signatures verify as False.
    """
    decoded: list[tuple[PublicKey, int, Signature] | None] = []
    for pk, msg, sig in items:
        try:
            decoded.append((PublicKey.from_bytes(pk), msg, Signature.from_bytes(sig)))
        except (EdDSAError, TypeError):
            decoded.append(None)
    good = [d for d in decoded if d is not None]
    results = iter(verify_batch(good))
    return [next(results) if d is not None else False for d in decoded]


__all__ = [
    "PUBLIC_KEY_SIZE",
    "SEED_SIZE",
    "SIGNATURE_SIZE",
    "EdDSAError",
    "InvalidMessageError",
    "InvalidPublicKeyError",
    "InvalidSeedError",
    "InvalidSignatureEncodingError",
    "PrivateKey",
    "PublicKey",
    "Signature",
    "verify",
    "verify_batch",
    "verify_batch_bytes",
]

_ = mpz
