"""EdDSA-Poseidon: circomlibjs vectors, round trips, rejections, batch == single."""

import pickle
import random
from concurrent.futures import ProcessPoolExecutor

import pytest

from bitcoinzk.crypto import babyjub as bj
from bitcoinzk.crypto.eddsa import (
    InvalidMessageError,
    InvalidPublicKeyError,
    InvalidSeedError,
    InvalidSignatureEncodingError,
    PrivateKey,
    PublicKey,
    Signature,
    verify,
    verify_batch,
    verify_batch_bytes,
)
from bitcoinzk.crypto.poseidon import FIELD_MODULUS
from tests.crypto.helpers import order8_point

SEED = bytes.fromhex("0001020304050607080900010203040506070809000102030405060708090001")

# circomlibjs test/eddsa.js, "Sign (using Poseidon) a single 10 bytes from 0 to 9":
#   msg = Scalar.fromRprLE("000102030405060708090000"), prvKey = SEED
#   pubKey = (13277427435165878497778222415993513565335242147425444199013288855685581939618,
#             13622229784656158136036771217484571176836296686641868549125388198837476602820)
#   R8 = (11384336176656855268977457483345535180380036354188103142384839473266348197733,
#         15383486972088797283337779941324724402501462225528836549661220478783371668959)
#   S = 1672775540645840396591609181675628451599263765380031905495115170613215233181
#   packSignature = "dfedb4315d3f2eb4de2d3c510d7a987dcab67089c8ace06308827bf5bcbe02a2"
#                   "9d043ece562a8f82bfc0adb640c0107a7d3a27c1c7c1a6179a0da73de5c1b203"
# (circomlib's test/eddsaposeidon.js signs msg 1234 with the same key but asserts no values.)
VEC_MSG = int.from_bytes(bytes.fromhex("000102030405060708090000"), "little")
VEC_A = (
    13277427435165878497778222415993513565335242147425444199013288855685581939618,
    13622229784656158136036771217484571176836296686641868549125388198837476602820,
)
VEC_R8 = (
    11384336176656855268977457483345535180380036354188103142384839473266348197733,
    15383486972088797283337779941324724402501462225528836549661220478783371668959,
)
VEC_S = 1672775540645840396591609181675628451599263765380031905495115170613215233181
VEC_PACKED = (
    "dfedb4315d3f2eb4de2d3c510d7a987dcab67089c8ace06308827bf5bcbe02a2"
    "9d043ece562a8f82bfc0adb640c0107a7d3a27c1c7c1a6179a0da73de5c1b203"
)


@pytest.fixture(scope="module")
def key():
    return PrivateKey(SEED)


def test_circomlibjs_vector(key):
    pub = key.public_key()
    assert (pub.x, pub.y) == VEC_A
    sig = key.sign(VEC_MSG)
    assert (sig.r8x, sig.r8y, sig.s) == (*VEC_R8, VEC_S)
    assert sig.hex() == VEC_PACKED
    assert Signature.from_hex(VEC_PACKED) == sig
    assert verify(pub, VEC_MSG, sig)


def test_serialisation_roundtrips(key):
    pub = key.public_key()
    assert PublicKey.from_bytes(pub.to_bytes()) == pub
    assert PublicKey.from_hex(pub.hex()) == pub
    assert PrivateKey.from_hex(key.hex()).public_key() == pub
    sig = key.sign(1234)
    assert Signature.from_bytes(sig.to_bytes()) == sig
    assert len(sig.to_bytes()) == 64
    assert SEED.hex() not in repr(key)


def test_roundtrip_random_keys():
    rng = random.Random(3)
    for _ in range(5):
        k = PrivateKey(rng.randbytes(32))
        m = rng.randrange(FIELD_MODULUS)
        s = k.sign(m)
        assert verify(k.public_key(), m, s)
    assert verify(PrivateKey.generate().public_key(), 0, PrivateKey.generate().sign(0)) is False


def test_tampering_rejected(key):
    pub = key.public_key()
    sig = key.sign(1234)
    other = PrivateKey(bytes(32)).public_key()
    assert verify(pub, 1234, sig)
    assert not verify(pub, 1235, sig)
    assert not verify(other, 1234, sig)
    assert not verify(pub, 1234, Signature(sig.r8x, sig.r8y, (sig.s + 1) % bj.L))
    r8 = bj.add((sig.r8x, sig.r8y), bj.B8)
    assert not verify(pub, 1234, Signature(*r8, sig.s))


def test_s_out_of_range_rejected(key):
    pub = key.public_key()
    sig = key.sign(1234)
    # S + l satisfies S*B8 (B8 has order l) but the circuit's CompConstant rejects it.
    assert not verify(pub, 1234, Signature(sig.r8x, sig.r8y, sig.s + bj.L))
    with pytest.raises(InvalidSignatureEncodingError):
        Signature.from_bytes(sig.to_bytes()[:32] + (sig.s + bj.L).to_bytes(32, "little"))


def test_off_curve_and_bad_inputs_rejected(key):
    pub = key.public_key()
    sig = key.sign(1234)
    assert not verify(pub, 1234, Signature(sig.r8x, (sig.r8y + 1) % bj.P, sig.s))
    assert not verify(pub, 1234, Signature(sig.r8x + bj.P, sig.r8y, sig.s))
    assert not verify(pub, FIELD_MODULUS + 1234, sig)
    assert not verify(pub, -1, sig)
    assert not verify(pub, "1234", sig)  # type: ignore[arg-type]
    with pytest.raises(InvalidPublicKeyError):
        PublicKey(1, 2)
    with pytest.raises(InvalidSeedError):
        PrivateKey(b"short")
    with pytest.raises(InvalidMessageError):
        key.sign(FIELD_MODULUS)


def test_small_order_components(key):
    """Signatures the cofactored equation accepts but the circuit does not."""
    t8 = order8_point()
    pub = key.public_key()
    msg = 77
    # A key owner crafts R8' = r*B8 + T (T of order 2, 4 or 8) and signs consistently.
    bad = []
    for t in (t8, bj.mul(t8, 2), bj.mul(t8, 4)):
        r = 424242
        r8 = bj.add(bj.base8_mul(r), t)
        from bitcoinzk.crypto.poseidon import poseidon

        hm = poseidon([r8[0], r8[1], pub.x, pub.y, msg])
        sig = Signature(r8[0], r8[1], (r + hm * key._s) % bj.L)
        assert not verify(pub, msg, sig)
        bad.append((pub, msg, sig))
    # Public key with a torsion component still verifies (the circuit uses only 8A)...
    # ...but a small-order public key (8A == 0) is rejected like the circuit's IsZero check.
    small = PublicKey(*t8)
    assert not verify(small, msg, Signature(*bj.B8, 1))
    good = [(pub, m, key.sign(m)) for m in range(6)]
    items = good[:3] + bad + good[3:]
    assert verify_batch(items) == [verify(*it) for it in items]


def test_batch_equals_individual(key):
    rng = random.Random(11)
    keys = [PrivateKey(rng.randbytes(32)) for _ in range(4)]
    items = []
    for i in range(40):
        k = keys[i % 4]
        m = rng.randrange(FIELD_MODULUS)
        items.append((k.public_key(), m, k.sign(m)))
    assert verify_batch(items) == [True] * 40
    # Corrupt a few in different ways.
    pub, m, s = items[3]
    items[3] = (pub, m + 1, s)
    pub, m, s = items[17]
    items[17] = (pub, m, Signature(s.r8x, s.r8y, (s.s + 1) % bj.L))
    pub, m, s = items[18]
    items[18] = (
        keys[0].public_key() if pub != keys[0].public_key() else keys[1].public_key(),
        m,
        s,
    )
    pub, m, s = items[39]
    items[39] = (pub, m, Signature(s.r8x, s.r8y, s.s + bj.L))
    expected = [verify(*it) for it in items]
    assert expected.count(False) == 4
    assert verify_batch(items) == expected
    assert verify_batch([]) == []


def test_batch_bytes_in_process_pool(key):
    items = [(key.public_key().to_bytes(), m, key.sign(m).to_bytes()) for m in range(8)]
    items[5] = (items[5][0], 999, items[5][2])
    items.append((b"\xff" * 32, 1, b"\x00" * 64))
    pickle.dumps(verify_batch_bytes)
    with ProcessPoolExecutor(max_workers=2) as pool:
        chunks = [items[:4], items[4:]]
        results = [r for chunk in pool.map(verify_batch_bytes, chunks) for r in chunk]
    assert results == [True] * 5 + [False] + [True] * 2 + [False]
