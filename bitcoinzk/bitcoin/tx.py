"""Transactions: dataclasses with their consensus serialization and BIP-341 sighash.

The wire format (BIP-144 for witnesses) is written out here, next to the
fields, so a reader can check it against Bitcoin Core's `CTransaction`
without following imports.  Validity is never decided here: that is
libbitcoinkernel's job (`bitcoinzk.bitcoin.kernel`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .encoding import DecodeError, Reader, hash256, ser_bytes, ser_compact_size, sha256, tagged_hash

SEQUENCE_FINAL = 0xFFFFFFFF
SIGHASH_DEFAULT = 0x00
SIGHASH_ALL = 0x01
MAX_MONEY = 21_000_000 * 100_000_000


@dataclass(frozen=True, order=True)
class OutPoint:
    """A reference to an output: txid in RPC (display) hex order, and index."""

    txid: str
    vout: int

    def serialize(self) -> bytes:
        return bytes.fromhex(self.txid)[::-1] + self.vout.to_bytes(4, "little")

    @classmethod
    def parse(cls, r: Reader) -> OutPoint:
        return cls(r.read(32)[::-1].hex(), r.u32())

    def is_null(self) -> bool:
        return self.txid == "00" * 32 and self.vout == 0xFFFFFFFF

    def __str__(self) -> str:
        return f"{self.txid}:{self.vout}"


@dataclass
class TxIn:
    prevout: OutPoint
    script_sig: bytes = b""
    sequence: int = SEQUENCE_FINAL
    witness: list[bytes] = field(default_factory=list)


@dataclass
class TxOut:
    value: int
    script_pubkey: bytes

    def serialize(self) -> bytes:
        return self.value.to_bytes(8, "little", signed=True) + ser_bytes(self.script_pubkey)

    @classmethod
    def parse(cls, r: Reader) -> TxOut:
        return cls(int.from_bytes(r.read(8), "little", signed=True), r.var_bytes())


@dataclass
class Tx:
    """A Bitcoin transaction.

    Serialization: version:i32 | [0x00 0x01 if any witness] | vin | vout |
    [witness stacks] | locktime:u32.
    """

    version: int = 2
    vin: list[TxIn] = field(default_factory=list)
    vout: list[TxOut] = field(default_factory=list)
    locktime: int = 0

    def has_witness(self) -> bool:
        return any(i.witness for i in self.vin)

    def serialize(self, with_witness: bool = True) -> bytes:
        segwit = with_witness and self.has_witness()
        out = [self.version.to_bytes(4, "little", signed=True)]
        if segwit:
            out.append(b"\x00\x01")
        out.append(ser_compact_size(len(self.vin)))
        for i in self.vin:
            out += [
                i.prevout.serialize(),
                ser_bytes(i.script_sig),
                i.sequence.to_bytes(4, "little"),
            ]
        out.append(ser_compact_size(len(self.vout)))
        out += [o.serialize() for o in self.vout]
        if segwit:
            for i in self.vin:
                out.append(ser_compact_size(len(i.witness)))
                out += [ser_bytes(w) for w in i.witness]
        out.append(self.locktime.to_bytes(4, "little"))
        return b"".join(out)

    @classmethod
    def parse(cls, r: Reader) -> Tx:
        version = r.i32()
        n_in = r.compact_size()
        segwit = False
        if n_in == 0:
            if r.u8() != 1:
                raise DecodeError("bad segwit flag")
            segwit = True
            n_in = r.compact_size()
        if n_in > len(r.data):
            raise DecodeError("input count exceeds data")
        vin = [TxIn(OutPoint.parse(r), r.var_bytes(), r.u32()) for _ in range(n_in)]
        n_out = r.compact_size()
        if n_out > len(r.data):
            raise DecodeError("output count exceeds data")
        vout = [TxOut.parse(r) for _ in range(n_out)]
        if segwit:
            for i in vin:
                n = r.compact_size()
                if n > len(r.data):
                    raise DecodeError("witness count exceeds data")
                i.witness = [r.var_bytes() for _ in range(n)]
            if not any(i.witness for i in vin):
                raise DecodeError("superfluous witness record")
        return cls(version, vin, vout, r.u32())

    @classmethod
    def from_bytes(cls, data: bytes) -> Tx:
        r = Reader(data)
        tx = cls.parse(r)
        if not r.at_end():
            raise DecodeError("trailing bytes after transaction")
        return tx

    @classmethod
    def from_hex(cls, h: str) -> Tx:
        try:
            return cls.from_bytes(bytes.fromhex(h))
        except ValueError as e:
            raise DecodeError(str(e)) from e

    def hex(self) -> str:
        return self.serialize().hex()

    @property
    def txid(self) -> str:
        return hash256(self.serialize(with_witness=False))[::-1].hex()

    @property
    def wtxid(self) -> str:
        return hash256(self.serialize())[::-1].hex()

    @property
    def weight(self) -> int:
        base = len(self.serialize(with_witness=False))
        return base * 3 + len(self.serialize())

    @property
    def vsize(self) -> int:
        return (self.weight + 3) // 4

    def is_coinbase(self) -> bool:
        return len(self.vin) == 1 and self.vin[0].prevout.is_null()

    def sighash_taproot(
        self,
        index: int,
        spent: list[TxOut],
        hash_type: int = SIGHASH_DEFAULT,
        leaf_script: bytes | None = None,
        leaf_version: int = 0xC0,
    ) -> bytes:
        """BIP-341 signature message hash for SIGHASH_DEFAULT/ALL (no ANYONECANPAY).

        `leaf_script` selects the script-path (BIP-342) extension.
        """
        if hash_type not in (SIGHASH_DEFAULT, SIGHASH_ALL):
            raise ValueError("only SIGHASH_DEFAULT and SIGHASH_ALL are supported")
        if len(spent) != len(self.vin):
            raise ValueError("need one spent output per input")
        msg = bytes([0, hash_type])
        msg += self.version.to_bytes(4, "little", signed=True) + self.locktime.to_bytes(4, "little")
        msg += sha256(b"".join(i.prevout.serialize() for i in self.vin))
        msg += sha256(b"".join(o.value.to_bytes(8, "little") for o in spent))
        msg += sha256(b"".join(ser_bytes(o.script_pubkey) for o in spent))
        msg += sha256(b"".join(i.sequence.to_bytes(4, "little") for i in self.vin))
        msg += sha256(b"".join(o.serialize() for o in self.vout))
        ext_flag = 0 if leaf_script is None else 1
        msg += bytes([ext_flag * 2])  # spend_type: ext_flag*2 + annex_present(0)
        msg += index.to_bytes(4, "little")
        if leaf_script is not None:
            msg += tagged_hash("TapLeaf", bytes([leaf_version]) + ser_bytes(leaf_script))
            msg += b"\x00" + b"\xff\xff\xff\xff"  # key_version, codesep_pos
        return tagged_hash("TapSighash", msg)
