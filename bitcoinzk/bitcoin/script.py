"""Script building, Taproot (BIP-341) output construction and addresses.

Only construction lives here.  Whether a script is satisfied is decided by
libbitcoinkernel's script verifier (`Kernel.verify_input`) and by block
connection, never by an interpreter of ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import coincurve
from embit import bech32

from .encoding import ser_bytes, tagged_hash


class Op(IntEnum):
    """Every opcode the project writes, in Bitcoin Script and in the BitVM programs
    alike (names and values as in Bitcoin Core's script.h)."""

    OP_0 = 0x00
    OP_PUSHDATA1 = 0x4C
    OP_PUSHDATA2 = 0x4D
    OP_PUSHDATA4 = 0x4E
    OP_1NEGATE = 0x4F
    OP_1 = 0x51
    OP_2 = 0x52
    OP_16 = 0x60
    OP_NOP = 0x61
    OP_IF = 0x63
    OP_NOTIF = 0x64
    OP_ELSE = 0x67
    OP_ENDIF = 0x68
    OP_VERIFY = 0x69
    OP_RETURN = 0x6A
    OP_TOALTSTACK = 0x6B
    OP_FROMALTSTACK = 0x6C
    OP_2DROP = 0x6D
    OP_2DUP = 0x6E
    OP_3DUP = 0x6F
    OP_2OVER = 0x70
    OP_2SWAP = 0x72
    OP_IFDUP = 0x73
    OP_DEPTH = 0x74
    OP_DROP = 0x75
    OP_DUP = 0x76
    OP_NIP = 0x77
    OP_OVER = 0x78
    OP_PICK = 0x79
    OP_ROLL = 0x7A
    OP_ROT = 0x7B
    OP_SWAP = 0x7C
    OP_TUCK = 0x7D
    OP_SIZE = 0x82
    OP_EQUAL = 0x87
    OP_EQUALVERIFY = 0x88
    OP_1ADD = 0x8B
    OP_1SUB = 0x8C
    OP_NEGATE = 0x8F
    OP_ABS = 0x90
    OP_NOT = 0x91
    OP_0NOTEQUAL = 0x92
    OP_ADD = 0x93
    OP_SUB = 0x94
    OP_BOOLAND = 0x9A
    OP_BOOLOR = 0x9B
    OP_NUMEQUAL = 0x9C
    OP_NUMEQUALVERIFY = 0x9D
    OP_NUMNOTEQUAL = 0x9E
    OP_LESSTHAN = 0x9F
    OP_GREATERTHAN = 0xA0
    OP_LESSTHANOREQUAL = 0xA1
    OP_GREATERTHANOREQUAL = 0xA2
    OP_MIN = 0xA3
    OP_MAX = 0xA4
    OP_WITHIN = 0xA5
    OP_RIPEMD160 = 0xA6
    OP_SHA1 = 0xA7
    OP_SHA256 = 0xA8
    OP_HASH160 = 0xA9
    OP_HASH256 = 0xAA
    OP_CODESEPARATOR = 0xAB
    OP_CHECKSIG = 0xAC
    OP_CHECKSIGVERIFY = 0xAD
    OP_CHECKLOCKTIMEVERIFY = 0xB1
    OP_CHECKSEQUENCEVERIFY = 0xB2
    OP_CHECKSIGADD = 0xBA


TAPROOT_LEAF_VERSION = 0xC0
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
# BIP-341's NUMS point H: nobody knows its discrete log, so a key path on it is unspendable.
NUMS_H = bytes.fromhex("50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0")


class AddressError(ValueError):
    """An address that does not decode for the expected network."""


def push_data(data: bytes) -> bytes:
    """Minimal push of `data` (BIP-62 minimal encoding, as policy requires)."""
    n = len(data)
    if n == 0:
        return bytes([Op.OP_0])
    if n == 1 and 1 <= data[0] <= 16:
        return bytes([Op.OP_1 + data[0] - 1])
    if n < Op.OP_PUSHDATA1:
        return bytes([n]) + data
    if n <= 0xFF:
        return bytes([Op.OP_PUSHDATA1, n]) + data
    return bytes([Op.OP_PUSHDATA2]) + n.to_bytes(2, "little") + data


def push_int(n: int) -> bytes:
    """Minimal push of a script number (CScriptNum)."""
    if n == 0:
        return bytes([Op.OP_0])
    if n == -1:
        return bytes([Op.OP_1NEGATE])
    if 1 <= n <= 16:
        return bytes([Op.OP_1 + n - 1])
    return push_data(script_num(n))


def script_num(n: int) -> bytes:
    """CScriptNum encoding: little-endian magnitude, sign bit in the top byte."""
    if n == 0:
        return b""
    neg, mag = n < 0, abs(n)
    out = bytearray()
    while mag:
        out.append(mag & 0xFF)
        mag >>= 8
    if out[-1] & 0x80:
        out.append(0x80 if neg else 0)
    elif neg:
        out[-1] |= 0x80
    return bytes(out)


def p2tr_script(output_key: bytes) -> bytes:
    return bytes([Op.OP_1, 32]) + output_key


BURN_SCRIPT = p2tr_script(NUMS_H)
"""An unspendable P2TR output (key path on the NUMS point, no script path) for coinbases
and test outputs nobody needs to spend."""


def op_return_script(data: bytes) -> bytes:
    return bytes([Op.OP_RETURN]) + push_data(data)


def tapleaf_hash(script: bytes, leaf_version: int = TAPROOT_LEAF_VERSION) -> bytes:
    return tagged_hash("TapLeaf", bytes([leaf_version]) + ser_bytes(script))


def tapbranch_hash(a: bytes, b: bytes) -> bytes:
    return tagged_hash("TapBranch", min(a, b) + max(a, b))


def taproot_tweak(internal_key: bytes, merkle_root: bytes | None) -> bytes:
    return tagged_hash("TapTweak", internal_key + (merkle_root or b""))


def tweak_pubkey(internal_key: bytes, merkle_root: bytes | None) -> tuple[bytes, int]:
    """Output key Q = P + t*G and its y parity (needed in control blocks)."""
    key = coincurve.PublicKeyXOnly(internal_key)
    key.tweak_add(taproot_tweak(internal_key, merkle_root))
    return key.format(), int(key.parity)


def tweak_seckey(seckey: bytes, merkle_root: bytes | None) -> bytes:
    """The secret key for Q: negate d if P has odd y, then add the tweak (BIP-341)."""
    d = int.from_bytes(seckey, "big")
    pub = coincurve.PublicKey.from_secret(seckey).format()
    if pub[0] == 3:
        d = SECP256K1_N - d
    t = int.from_bytes(taproot_tweak(pub[1:], merkle_root), "big")
    return ((d + t) % SECP256K1_N).to_bytes(32, "big")


@dataclass(frozen=True)
class TapLeaf:
    script: bytes
    version: int = TAPROOT_LEAF_VERSION

    @property
    def hash(self) -> bytes:
        return tapleaf_hash(self.script, self.version)


@dataclass(frozen=True)
class TaprootOutput:
    """A P2TR output: internal key plus a list of leaves in a balanced tree.

    Leaves are paired left to right level by level, so every leaf has a merkle
    path; `control_block(i)` is what a script-path spend of leaf `i` carries.
    """

    internal_key: bytes
    leaves: tuple[TapLeaf, ...] = ()

    def _levels(self) -> list[list[bytes]]:
        level = [leaf.hash for leaf in self.leaves]
        levels = [level]
        while len(level) > 1:
            nxt = [
                tapbranch_hash(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                for i in range(0, len(level), 2)
            ]
            levels.append(nxt)
            level = nxt
        return levels

    @property
    def merkle_root(self) -> bytes | None:
        return self._levels()[-1][0] if self.leaves else None

    @property
    def output_key(self) -> bytes:
        return tweak_pubkey(self.internal_key, self.merkle_root)[0]

    @property
    def script_pubkey(self) -> bytes:
        return p2tr_script(self.output_key)

    def merkle_path(self, index: int) -> bytes:
        path = b""
        for level in self._levels()[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path += level[sibling]
            index //= 2
        return path

    def control_block(self, index: int) -> bytes:
        parity = tweak_pubkey(self.internal_key, self.merkle_root)[1]
        leaf = self.leaves[index]
        return bytes([leaf.version | parity]) + self.internal_key + self.merkle_path(index)


def hrp_for(network: str) -> str:
    return {"regtest": "bcrt", "main": "bc", "mainnet": "bc", "test": "tb", "signet": "tb"}[network]


def address_from_script(spk: bytes, network: str = "regtest") -> str | None:
    """bech32/bech32m address of a segwit output, None for anything else."""
    if (
        len(spk) >= 4
        and len(spk) == spk[1] + 2
        and (spk[0] == 0 or Op.OP_1 <= spk[0] <= Op.OP_1 + 15)
    ):
        ver = 0 if spk[0] == 0 else spk[0] - Op.OP_1 + 1
        result: str | None = bech32.encode(hrp_for(network), ver, spk[2:])
        return result
    return None


def script_from_address(address: str, network: str = "regtest") -> bytes:
    ver, prog = bech32.decode(hrp_for(network), address)
    if ver is None or prog is None:
        raise AddressError(f"not a {network} segwit address: {address}")
    op = Op.OP_0 if ver == 0 else Op.OP_1 + ver - 1
    return bytes([op, len(prog)]) + bytes(prog)
