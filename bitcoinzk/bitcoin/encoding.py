"""Byte-level helpers shared by every Bitcoin structure: hashes and CompactSize.

Kept tiny and dependency-free so that each data structure can carry its own
explicit `serialize`/`parse` next to its fields, the way Bitcoin Core's
`SERIALIZE_METHODS` do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


class DecodeError(ValueError):
    """Raised when bytes do not parse as the structure asked for."""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hash256(data: bytes) -> bytes:
    """Double SHA-256: txids, block hashes and merkle nodes."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def tagged_hash(tag: str, data: bytes) -> bytes:
    """BIP-340 tagged hash: SHA256(SHA256(tag) || SHA256(tag) || data)."""
    t = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(t + t + data).digest()


def ser_compact_size(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def ser_bytes(b: bytes) -> bytes:
    """A CompactSize length prefix followed by the bytes."""
    return ser_compact_size(len(b)) + b


@dataclass
class Reader:
    """A cursor over bytes; every read checks bounds and raises `DecodeError`."""

    data: bytes
    pos: int = 0

    def read(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError(f"need {n} bytes at offset {self.pos}, have {len(self.data)}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.read(1)[0]

    def u32(self) -> int:
        return int.from_bytes(self.read(4), "little")

    def i32(self) -> int:
        return int.from_bytes(self.read(4), "little", signed=True)

    def u64(self) -> int:
        return int.from_bytes(self.read(8), "little")

    def compact_size(self) -> int:
        first = self.u8()
        if first < 0xFD:
            return first
        size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
        n = int.from_bytes(self.read(size), "little")
        if n < {2: 0xFD, 4: 0x10000, 8: 0x100000000}[size]:
            raise DecodeError("non-canonical CompactSize")
        return n

    def var_bytes(self) -> bytes:
        return self.read(self.compact_size())

    def at_end(self) -> bool:
        return self.pos == len(self.data)
