"""Gold data availability: batches published on Bitcoin in Taproot envelopes.

A batch (its pubdata, public input and 256-byte proof) is serialised into one
*blob*, cut into pieces that each fit a standard transaction (400,000 weight),
and every piece is inscribed in the tapscript of a commit output and revealed
by spending it:

    commit tx (publisher's wallet) -> one P2TR output per piece, leaf:
        <publisher x-only key> OP_CHECKSIG
        OP_FALSE OP_IF <header:56> <data <= 520> <data <= 520> ... OP_ENDIF
    reveal tx (one per piece): spends that output by the script path;
        its only output is OP_RETURN "bzk\\x02" (no dust, 66 non-witness bytes)

The envelope never executes (OP_FALSE OP_IF), so it costs only witness bytes
(1 weight unit each).  The key check in front stops anyone else from spending
the commit output first.

Piece header, 56 bytes, big-endian:

    magic "bzk":3 | version:1 | chain_id:4 | block_number:8
    | index:2 | count:2 | blob_len:4 | sha256(blob):32

Blob (version 2: pubdata v2, with the deposits' outpoints after the records):

    old_root:32 | new_root:32 | public_input:32 | proof:256 | BlockPubdata.to_bytes()

`GoldReader` scans blocks, collects pieces by (block number, blob digest),
reassembles complete blobs, and accepts a batch only if it extends the
current root, its public input is the one computed from its own data, and the
proof verifies for that public input.  Anything else, from garbage in an
envelope to a well-formed batch with a bad proof, is recorded and skipped.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import coincurve

from bitcoinzk.bitcoin.block import Block
from bitcoinzk.bitcoin.encoding import DecodeError
from bitcoinzk.bitcoin.opcodes import MAX_SCRIPT_ELEMENT_SIZE, Op, Script, iter_script
from bitcoinzk.bitcoin.policy import MAX_STANDARD_TX_WEIGHT, dust_threshold
from bitcoinzk.bitcoin.script import NUMS_H, TapLeaf, TaprootOutput, op_return_script
from bitcoinzk.bitcoin.tx import OutPoint, Tx, TxIn, TxOut
from bitcoinzk.bitcoin.wallet import BitcoinWallet, CoinSource
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.pubdata import BlockPubdata, PubdataError, public_input

MAGIC = b"bzk"
VERSION = 2
HEADER_BYTES = 56
PROOF_BYTES = 256
BLOB_FIXED = 32 * 3 + PROOF_BYTES
MAX_PIECES = 256
MAX_BLOB_BYTES = 16_000_000
MAX_PENDING = 64
REVEAL_MARKER = op_return_script(MAGIC + bytes([VERSION]))
DEFAULT_PIECE_BYTES = 395_000
"""Payload per reveal: with the header, push overhead, signature and control block
the reveal weighs ~397,800, under the 400,000 standard limit (checked when built)."""

ProofVerifier = Callable[[bytes, int], bool]
"""`verify(proof, public_input)`: e.g. `functools.partial(prover.service.verify_proof, vk)`."""


class GoldError(Exception):
    """A piece or batch the reader refuses (its reason is recorded, scanning goes on)."""


@dataclass(frozen=True)
class GoldBatch:
    block_number: int
    old_root: int
    new_root: int
    public_input: int
    proof: bytes
    pubdata: BlockPubdata

    def blob(self) -> bytes:
        if len(self.proof) != PROOF_BYTES:
            raise ValueError("a proof is 256 bytes")
        return b"".join(
            [
                self.old_root.to_bytes(32, "big"),
                self.new_root.to_bytes(32, "big"),
                self.public_input.to_bytes(32, "big"),
                self.proof,
                self.pubdata.to_bytes(),
            ]
        )

    @classmethod
    def from_blob(cls, block_number: int, blob: bytes) -> GoldBatch:
        if len(blob) < BLOB_FIXED:
            raise GoldError("blob shorter than its fixed part")
        try:
            pubdata = BlockPubdata.from_bytes(blob[BLOB_FIXED:])
            pubdata.ops()  # every chunk and record decodes
        except PubdataError as e:
            raise GoldError(f"pubdata: {e}") from None
        return cls(
            block_number,
            int.from_bytes(blob[0:32], "big"),
            int.from_bytes(blob[32:64], "big"),
            int.from_bytes(blob[64:96], "big"),
            blob[96:BLOB_FIXED],
            pubdata,
        )


@dataclass(frozen=True)
class PieceHeader:
    chain_id: int
    block_number: int
    index: int
    count: int
    blob_len: int
    digest: bytes
    version: int = VERSION

    def encode(self) -> bytes:
        return b"".join(
            [
                MAGIC,
                bytes([self.version]),
                self.chain_id.to_bytes(4, "big"),
                self.block_number.to_bytes(8, "big"),
                self.index.to_bytes(2, "big"),
                self.count.to_bytes(2, "big"),
                self.blob_len.to_bytes(4, "big"),
                self.digest,
            ]
        )

    @classmethod
    def decode(cls, raw: bytes) -> PieceHeader:
        if len(raw) != HEADER_BYTES or raw[:3] != MAGIC:
            raise GoldError("not a bitcoinzk piece header")
        h = cls(
            chain_id=int.from_bytes(raw[4:8], "big"),
            block_number=int.from_bytes(raw[8:16], "big"),
            index=int.from_bytes(raw[16:18], "big"),
            count=int.from_bytes(raw[18:20], "big"),
            blob_len=int.from_bytes(raw[20:24], "big"),
            digest=raw[24:56],
            version=raw[3],
        )
        if h.version != VERSION:
            raise GoldError(f"unknown envelope version {h.version}")
        if not 1 <= h.count <= MAX_PIECES or h.index >= h.count:
            raise GoldError(f"piece {h.index} of {h.count}")
        if not BLOB_FIXED <= h.blob_len <= MAX_BLOB_BYTES:
            raise GoldError(f"blob length {h.blob_len}")
        return h


def split_blob(
    chain_id: int, block_number: int, blob: bytes, piece_bytes: int = DEFAULT_PIECE_BYTES
) -> list[tuple[PieceHeader, bytes]]:
    digest = hashlib.sha256(blob).digest()
    parts = [blob[i : i + piece_bytes] for i in range(0, len(blob), piece_bytes)]
    return [
        (PieceHeader(chain_id, block_number, i, len(parts), len(blob), digest), part)
        for i, part in enumerate(parts)
    ]


def envelope_script(publisher_key: bytes, header: bytes, payload: bytes) -> bytes:
    """`<key> OP_CHECKSIG OP_FALSE OP_IF <header> <payload in 520-byte pushes> OP_ENDIF`."""
    pushes = [
        payload[i : i + MAX_SCRIPT_ELEMENT_SIZE]
        for i in range(0, len(payload), MAX_SCRIPT_ELEMENT_SIZE)
    ]
    return bytes(
        Script(publisher_key, Op.OP_CHECKSIG, Op.OP_0, Op.OP_IF, header, *pushes, Op.OP_ENDIF)
    )


@dataclass(frozen=True)
class Envelope:
    publisher_key: bytes | None  # the x-only key checked in front of it, if any
    pushes: tuple[bytes, ...]


def envelopes_in(tx: Tx) -> list[Envelope]:
    """Every `OP_FALSE OP_IF ... OP_ENDIF` envelope in the tapscripts `tx` reveals."""
    found: list[Envelope] = []
    for txin in tx.vin:
        w = txin.witness
        if len(w) >= 2 and w[-1][:1] == b"\x50":
            w = w[:-1]  # annex
        if len(w) < 2 or not w[-1] or w[-1][0] & 0xFE != 0xC0 or (len(w[-1]) - 33) % 32:
            continue
        try:
            tokens = list(iter_script(w[-2]))
        except DecodeError:
            continue
        key = (
            tokens[0]
            if len(tokens) > 1 and isinstance(tokens[0], bytes) and tokens[1] == Op.OP_CHECKSIG
            else None
        )
        i = 0
        while i + 1 < len(tokens):
            if tokens[i] == b"" and tokens[i + 1] == Op.OP_IF:
                j = i + 2
                pushes: list[bytes] = []
                while j < len(tokens) and isinstance(tokens[j], bytes):
                    pushes.append(tokens[j])  # type: ignore[arg-type]
                    j += 1
                if j < len(tokens) and tokens[j] == Op.OP_ENDIF:
                    found.append(Envelope(key if isinstance(key, bytes) else None, tuple(pushes)))
                i = j
            else:
                i += 1
    return found


# --- publishing -----------------------------------------------------------------------


class _Chain(CoinSource, Protocol):
    """A node to send through that the wallet can also read its coins from."""

    def send_raw_transaction(self, tx: Tx | bytes | str) -> str: ...


@dataclass(frozen=True)
class Publication:
    commit: Tx
    reveals: tuple[Tx, ...]

    @property
    def vbytes(self) -> int:
        return self.commit.vsize + sum(t.vsize for t in self.reveals)


@dataclass
class GoldPublisher:
    """Publishes batches through a chain (`send_raw_transaction`) from a wallet."""

    chain: _Chain
    wallet: BitcoinWallet
    key: coincurve.PrivateKey
    chain_id: int
    fee_rate: int = 1
    piece_bytes: int = DEFAULT_PIECE_BYTES

    @property
    def public_key(self) -> bytes:
        return bytes(self.key.public_key_xonly.format())

    def build(self, batch: GoldBatch) -> Publication:
        return self.build_pieces(
            [
                (h.encode(), part)
                for h, part in split_blob(
                    self.chain_id, batch.block_number, batch.blob(), self.piece_bytes
                )
            ]
        )

    def build_pieces(self, pieces: Iterable[tuple[bytes, bytes]]) -> Publication:
        """Commit and reveal transactions for raw (header, payload) pieces."""
        outputs = [
            TaprootOutput(NUMS_H, (TapLeaf(envelope_script(self.public_key, h, p)),))
            for h, p in pieces
        ]
        reveals = []
        for out in outputs:
            tx = Tx(2, [TxIn(OutPoint("00" * 32, 0))], [TxOut(0, REVEAL_MARKER)])
            tx.vin[0].witness = [bytes(64), out.leaves[0].script, out.control_block(0)]
            if tx.weight > MAX_STANDARD_TX_WEIGHT:
                raise ValueError(f"reveal weighs {tx.weight}: lower piece_bytes")
            reveals.append(tx)
        commit_outs = [TxOut(0, out.script_pubkey) for out in outputs]
        for o, tx in zip(commit_outs, reveals, strict=True):
            o.value = max(self.fee_rate * tx.vsize, dust_threshold(o))
        commit = self.wallet.create_transaction(commit_outs, self.fee_rate, self.chain)
        for out, tx in zip(outputs, reveals, strict=True):
            vout = next(
                k for k, o in enumerate(commit.vout) if o.script_pubkey == out.script_pubkey
            )
            tx.vin[0].prevout = OutPoint(commit.txid, vout)
            spent = commit.vout[vout]
            leaf = out.leaves[0].script
            sig = self.key.sign_schnorr(
                tx.sighash_taproot(0, [spent], leaf_script=leaf), os.urandom(32)
            )
            tx.vin[0].witness = [bytes(sig), leaf, out.control_block(0)]
        return Publication(commit, tuple(reveals))

    def send(self, pub: Publication) -> None:
        self.chain.send_raw_transaction(pub.commit)
        for tx in pub.reveals:
            self.chain.send_raw_transaction(tx)

    def publish(self, batch: GoldBatch) -> Publication:
        pub = self.build(batch)
        self.send(pub)
        return pub


# --- reading --------------------------------------------------------------------------


@dataclass
class _Pending:
    header: PieceHeader
    parts: dict[int, bytes] = field(default_factory=dict)


@dataclass
class GoldReader:
    """Follows the rollup on Bitcoin: pieces in, verified batches out, in order.

    `verify` checks a proof against its public input.  Without it the reader
    checks everything but the proof (root chaining and the public input
    binding) and says so in `proofs_checked`; then only `publisher_key` stands
    between it and a hostile batch, so set one of the two.
    """

    params: ChainParams
    root: int  # the state root the next batch must start from
    next_block: int = 1
    verify: ProofVerifier | None = None
    publisher_key: bytes | None = None
    rejected: list[str] = field(default_factory=list)
    _pending: OrderedDict[tuple[int, bytes, int, int, bytes | None], _Pending] = field(
        default_factory=OrderedDict
    )
    _ready: dict[int, list[GoldBatch]] = field(default_factory=dict)

    @property
    def proofs_checked(self) -> bool:
        return self.verify is not None

    def _reject(self, where: str, why: str) -> None:
        self.rejected.append(f"{where}: {why}")

    def scan_block(self, block: Block) -> list[GoldBatch]:
        """Accepted batches completed by this block, in order."""
        for tx in block.txs[1:]:
            for env in envelopes_in(tx):
                try:
                    self._piece(env)
                except GoldError as e:
                    self._reject(tx.txid, str(e))
        return self._advance()

    def _piece(self, env: Envelope) -> None:
        if self.publisher_key is not None and env.publisher_key != self.publisher_key:
            raise GoldError("envelope from another publisher")
        if not env.pushes:
            raise GoldError("empty envelope")
        h = PieceHeader.decode(env.pushes[0])
        if h.chain_id != self.params.chain_id:
            raise GoldError(f"chain id {h.chain_id}")
        if h.block_number < self.next_block:
            raise GoldError(f"batch {h.block_number} is already settled")
        # pieces group only with pieces of the same publisher and header, so nobody
        # can spoil a batch by sending a piece of it first with other contents
        key = (h.block_number, h.digest, h.count, h.blob_len, env.publisher_key)
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = _Pending(h)
            while len(self._pending) > MAX_PENDING:
                dropped, _ = self._pending.popitem(last=False)
                self._reject(f"batch {dropped[0]}", "incomplete batch evicted")
        if h.index in entry.parts:
            return  # duplicate piece
        entry.parts[h.index] = b"".join(env.pushes[1:])
        if len(entry.parts) < h.count:
            return
        del self._pending[key]
        blob = b"".join(entry.parts[i] for i in range(h.count))
        if len(blob) != h.blob_len or hashlib.sha256(blob).digest() != h.digest:
            raise GoldError(f"batch {h.block_number}: pieces do not hash to the header")
        batch = GoldBatch.from_blob(h.block_number, blob)
        self._ready.setdefault(h.block_number, []).append(batch)

    def check(self, batch: GoldBatch) -> None:
        """Raise `GoldError` unless `batch` is the valid successor of the current root."""
        if batch.old_root != self.root:
            raise GoldError("does not start from the current root")
        try:
            expected = public_input(
                self.params, batch.block_number, batch.old_root, batch.new_root, batch.pubdata
            )
        except PubdataError as e:
            raise GoldError(f"pubdata: {e}") from None
        if expected != batch.public_input:
            raise GoldError("public input does not match the batch data")
        if self.verify is not None and not self.verify(batch.proof, batch.public_input):
            raise GoldError("proof does not verify")

    def _advance(self) -> list[GoldBatch]:
        accepted = []
        while self.next_block in self._ready:
            for batch in self._ready.pop(self.next_block):
                try:
                    self.check(batch)
                except GoldError as e:
                    self._reject(f"batch {batch.block_number}", str(e))
                    continue
                accepted.append(batch)
                self.root = batch.new_root
                self.next_block += 1
                for k in [k for k in self._pending if k[0] < self.next_block]:
                    del self._pending[k]
                break
            else:
                break
        return accepted

    def scan(self, blocks: Iterable[Block]) -> list[GoldBatch]:
        out: list[GoldBatch] = []
        for block in blocks:
            out += self.scan_block(block)
        return out
