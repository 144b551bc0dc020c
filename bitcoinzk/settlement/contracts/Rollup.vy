# pragma version ~=0.4.3
# @license GPL-3.0-or-later
"""
@title bitcoinzk Rollup (Silver settlement)
@notice Holds the Layer-2 state root. A new root counts only once the Groth16
        proof of its block has been checked against the public input that this
        contract recomputes itself from the calldata, the stored old root and
        the chain parameters (docs/protocol.md, "The public input"):

            preimage = chain_id:u32 || block_number:u64 || old_root:32
                       || new_root:32 || fee_account:u24 || outpoints_digest:32
                       || chunks (SLOTS * 10 bytes, zero-padded)
                       || records (RECORDS * 35 bytes, zero-padded)
            outpoints_digest = sha256(outpoints)   (36 bytes per DEPOSIT chunk)
            public_input = uint256(sha256(preimage)) mod 2**253

        The calldata carries only the used chunks and records and the deposits'
        outpoints (the padding is added here, where zero bytes cost no calldata
        gas), so the batch data in calldata is the data-availability copy a full
        node rebuilds the state from.

        Gas (docs/settlement.md): the preimage is laid out by HASHER, a 71-byte
        contract this one creates in its constructor from the constant
        HASHER_INITCODE. It copies the header and the used chunks and records
        from its calldata straight to their fixed offsets in fresh (zero) memory,
        hashes the outpoints (copied past the preimage) into their digest's place
        and calls the SHA-256 precompile over the whole padded preimage: one
        buffer, no padding copied, no byte loop. Vyper has no way to write at an
        offset of a byte buffer, so in Vyper alone the padded preimage costs three
        block-sized buffers in one frame, and EVM memory cost is quadratic.
        Per batch, one new storage slot: a commitment to (new_root, batch_hash,
        withdrawals_hash); BatchCommitted carries the values themselves.

        SLOTS and RECORDS are compile-time constants: bitcoinzk.settlement
        rewrites their two lines for the chain's block_slots and block_records.
"""

interface Verifier:
    def verifyProof(
        a: uint256[2], b: uint256[2][2], c: uint256[2], input: uint256[1]
    ) -> bool: view

SLOTS: constant(uint256) = 2
RECORDS: constant(uint256) = 1

CHUNK_BYTES: constant(uint256) = 10
RECORD_BYTES: constant(uint256) = 35
OUTPOINT_BYTES: constant(uint256) = 36
CHUNKS_MAX: constant(uint256) = SLOTS * CHUNK_BYTES
RECORDS_MAX: constant(uint256) = RECORDS * RECORD_BYTES
# batch_data = n_chunks:u16 || n_records:u16 || chunks || records || outpoints
# (BlockPubdata.to_bytes); every deposit has a record, so at most RECORDS outpoints.
BATCH_MAX: constant(uint256) = 4 + CHUNKS_MAX + RECORDS_MAX + RECORDS * OUTPOINT_BYTES
HEADER_BYTES: constant(uint256) = 79  # chain_id:4 block_number:8 old_root new_root fee_account:3
DIGEST_BYTES: constant(uint256) = 32  # sha256(outpoints), right after the header
RECORDS_AT: constant(uint256) = HEADER_BYTES + DIGEST_BYTES + CHUNKS_MAX
PREIMAGE_BYTES: constant(uint256) = RECORDS_AT + RECORDS_MAX
PI_MASK: constant(uint256) = (1 << 253) - 1
SNARK_SCALAR_FIELD: constant(uint256) = 21888242871839275222246405745257275088548364400416034343698204186575808495617

OP_DEPOSIT: constant(uint256) = 1
OP_TRANSFER_NEW: constant(uint256) = 3
OP_WITHDRAW: constant(uint256) = 4
# A withdrawal, as the bridge pays it: amount:6 (the WITHDRAW chunk's last 6 bytes)
# || record:35 (len:u8 || script_pubkey, zero-padded).
WITHDRAW_AMOUNT_BYTES: constant(uint256) = 6

# The preimage hasher's creation code (runtime: 71 bytes after the 9-byte constructor).
# Calldata: chunk_len:32 || records_len:32 || records_at:32 || preimage_len:32 || header:79
#           || batch_data                   (header at 0x80, batch_data at 0xcf, chunks at 0xd3)
#   calldatacopy(0, 0x80, 79)                                  header
#   calldatacopy(111, 0xd3, chunk_len)                         chunks
#   calldatacopy(records_at, 0xd3 + chunk_len, records_len)    records
#   o = 0xd3 + chunk_len + records_len                         outpoints: the rest
#   calldatacopy(preimage_len, o, calldatasize - o)            (past the preimage)
#   staticcall(gas, 0x02, preimage_len, calldatasize - o, 79, 32)   digest at 79
#   staticcall(gas, 0x02, 0, preimage_len, 0, 32); revert unless both succeeded; return(0, 32)
# Memory between the chunks and records_at, and after the records up to
# preimage_len, is never written, so it is zero: the padding costs neither
# calldata nor a copy. Source and a check that it hashes docs/protocol.md's
# preimage: tests/settlement/test_hasher.py.
HASHER_INITCODE: constant(Bytes[80]) = x"60478060095f395ff3604f60805f375f358060d3606f3760d301602035808260403537018036038082606035376020604f8260603560025afa60205f6060355f60025afa166042575f5ffd5b60205ff3"


event Deployed:
    verifier: indexed(address)
    sequencer: indexed(address)
    genesis_root: uint256
    chain_id: uint256
    fee_account: uint256
    slots: uint256
    records: uint256

event BatchCommitted:
    batch_number: indexed(uint256)
    old_root: uint256
    new_root: uint256
    batch_hash: bytes32
    withdrawals_hash: bytes32
    withdrawals: uint256

event SequencerChanged:
    previous: indexed(address)
    current: indexed(address)


VERIFIER: public(immutable(address))
HASHER: public(immutable(address))
CHAIN_ID: public(immutable(uint256))
FEE_ACCOUNT: public(immutable(uint256))
GENESIS_ROOT: public(immutable(uint256))

sequencer: public(address)
batch_count: public(uint256)
# the state root after the latest batch (the genesis root before any)
state_root: uint256
# batch number -> keccak256(new_root || batch_hash || withdrawals_hash), see batchCommitment;
# batch_hash is the full SHA-256 of the public-input preimage, withdrawals_hash the
# chained hash of the batch's withdrawals (zero when it has none).
batch_commitments: HashMap[uint256, bytes32]


@deploy
def __init__(
    verifier: address,
    sequencer: address,
    genesis_root: uint256,
    chain_id: uint256,
    fee_account: uint256,
):
    assert verifier.is_contract, "rollup: verifier is not a contract"
    assert sequencer != empty(address), "rollup: no sequencer"
    assert genesis_root < SNARK_SCALAR_FIELD, "rollup: genesis root not a field element"
    assert chain_id < 2**32, "rollup: chain_id is a u32"
    assert fee_account < 2**24, "rollup: fee_account is a u24"
    VERIFIER = verifier
    HASHER = raw_create(HASHER_INITCODE)
    CHAIN_ID = chain_id
    FEE_ACCOUNT = fee_account
    GENESIS_ROOT = genesis_root
    self.sequencer = sequencer
    self.state_root = genesis_root
    log Deployed(
        verifier=verifier,
        sequencer=sequencer,
        genesis_root=genesis_root,
        chain_id=chain_id,
        fee_account=fee_account,
        slots=SLOTS,
        records=RECORDS,
    )


@internal
@pure
def _commitment(new_root: uint256, batch_hash: bytes32, withdrawals_hash: bytes32) -> bytes32:
    return keccak256(concat(convert(new_root, bytes32), batch_hash, withdrawals_hash))


@external
def commitBatch(batch_data: Bytes[BATCH_MAX], new_root: uint256, proof: uint256[8]):
    """
    @notice Accept the next block's new state root with its validity proof.
    @param batch_data The block's used chunks, records and outpoints (BlockPubdata.to_bytes()).
    @param new_root The state root after the block.
    @param proof Groth16 proof: a.x a.y b.x.c1 b.x.c0 b.y.c1 b.y.c0 c.x c.y.
    """
    assert msg.sender == self.sequencer, "rollup: not the sequencer"
    assert new_root < SNARK_SCALAR_FIELD, "rollup: new root not a field element"
    batch_number: uint256 = self.batch_count + 1
    old_root: uint256 = self.state_root
    # Kept in one function: every Bytes argument of an internal call is a copy.
    assert len(batch_data) >= 4, "rollup: batch data too short"
    counts: uint256 = convert(slice(batch_data, 0, 4), uint256)
    n_chunks: uint256 = counts >> 16
    n_records: uint256 = counts & 65535
    assert n_chunks <= SLOTS and n_records <= RECORDS, "rollup: batch larger than the circuit"
    chunk_len: uint256 = n_chunks * CHUNK_BYTES
    records_len: uint256 = n_records * RECORD_BYTES
    assert len(batch_data) >= 4 + chunk_len + records_len, "rollup: batch data length"
    # Withdrawals, in slot order: h_0 = 0, h_(k+1) = sha256(h_k || amount:6 || record:35),
    # and the deposits, each with an outpoint at the end of batch_data. Reads one chunk
    # byte per slot up to the last record (every deposit has one); nothing without records.
    w_hash: bytes32 = empty(bytes32)
    w_count: uint256 = 0
    n_deposits: uint256 = 0
    if n_records != 0:
        r: uint256 = 0
        at: uint256 = 4 + chunk_len
        for i: uint256 in range(SLOTS):
            if r == n_records or i == n_chunks:
                break
            c: uint256 = 4 + i * CHUNK_BYTES
            op: uint256 = convert(slice(batch_data, c, 1), uint256) >> 5
            if op == OP_WITHDRAW:
                w_hash = sha256(
                    concat(
                        w_hash,
                        slice(batch_data, c + CHUNK_BYTES - WITHDRAW_AMOUNT_BYTES, WITHDRAW_AMOUNT_BYTES),
                        slice(batch_data, at, RECORD_BYTES),
                    )
                )
                w_count += 1
                r += 1
                at += RECORD_BYTES
            elif op == OP_DEPOSIT:
                n_deposits += 1
                r += 1
                at += RECORD_BYTES
            elif op == OP_TRANSFER_NEW:
                r += 1
                at += RECORD_BYTES
    assert len(batch_data) == 4 + chunk_len + records_len + n_deposits * OUTPOINT_BYTES, (
        "rollup: batch data length"
    )
    out: Bytes[32] = raw_call(
        HASHER,
        concat(
            convert(chunk_len, bytes32),
            convert(records_len, bytes32),
            convert(RECORDS_AT, bytes32),
            convert(PREIMAGE_BYTES, bytes32),
            convert(convert(CHAIN_ID, uint32), bytes4),
            convert(convert(batch_number, uint64), bytes8),
            convert(old_root, bytes32),
            convert(new_root, bytes32),
            slice(convert(FEE_ACCOUNT, bytes32), 29, 3),
            batch_data,
        ),
        max_outsize=32,
        is_static_call=True,
    )
    assert len(out) == 32, "rollup: hasher"
    digest: bytes32 = extract32(out, 0)
    ok: bool = staticcall Verifier(VERIFIER).verifyProof(
        [proof[0], proof[1]],
        [[proof[2], proof[3]], [proof[4], proof[5]]],
        [proof[6], proof[7]],
        [convert(digest, uint256) & PI_MASK],
    )
    assert ok, "rollup: invalid proof"
    self.batch_count = batch_number
    self.state_root = new_root
    self.batch_commitments[batch_number] = self._commitment(new_root, digest, w_hash)
    log BatchCommitted(
        batch_number=batch_number,
        old_root=old_root,
        new_root=new_root,
        batch_hash=digest,
        withdrawals_hash=w_hash,
        withdrawals=w_count,
    )


@external
def setSequencer(new_sequencer: address):
    """@notice Hand the sequencer role to another key (only the sequencer may)."""
    assert msg.sender == self.sequencer, "rollup: not the sequencer"
    assert new_sequencer != empty(address), "rollup: no sequencer"
    log SequencerChanged(previous=self.sequencer, current=new_sequencer)
    self.sequencer = new_sequencer


@view
@external
def stateRoot() -> uint256:
    """@notice The latest verified state root."""
    return self.state_root


@view
@external
def batchCommitmentOf(batch_number: uint256) -> bytes32:
    """@notice keccak256(new_root || batch_hash || withdrawals_hash) of a committed batch.

    The values are in the batch's BatchCommitted event; this binds them.
    """
    assert 1 <= batch_number and batch_number <= self.batch_count, "rollup: no such batch"
    return self.batch_commitments[batch_number]


@view
@external
def isBatch(
    batch_number: uint256, new_root: uint256, batch_hash: bytes32, withdrawals_hash: bytes32
) -> bool:
    """@notice Whether batch `batch_number` was committed with exactly these values.

    For contracts (and anyone) holding a BatchCommitted event: the root after the
    batch, the full SHA-256 of its public-input preimage and its withdrawals hash.
    """
    if batch_number == 0 or batch_number > self.batch_count:
        return False
    return self.batch_commitments[batch_number] == self._commitment(
        new_root, batch_hash, withdrawals_hash
    )


@view
@external
def publicInputOf(batch_data: Bytes[BATCH_MAX], new_root: uint256) -> uint256:
    """@notice The public input the next commitBatch with these arguments would check."""
    assert len(batch_data) >= 4, "rollup: batch data too short"
    counts: uint256 = convert(slice(batch_data, 0, 4), uint256)
    n_chunks: uint256 = counts >> 16
    n_records: uint256 = counts & 65535
    assert n_chunks <= SLOTS and n_records <= RECORDS, "rollup: batch larger than the circuit"
    chunk_len: uint256 = n_chunks * CHUNK_BYTES
    records_len: uint256 = n_records * RECORD_BYTES
    n_deposits: uint256 = 0
    for i: uint256 in range(SLOTS):
        if i == n_chunks:
            break
        if convert(slice(batch_data, 4 + i * CHUNK_BYTES, 1), uint256) >> 5 == OP_DEPOSIT:
            n_deposits += 1
    assert len(batch_data) == 4 + chunk_len + records_len + n_deposits * OUTPOINT_BYTES, (
        "rollup: batch data length"
    )
    out: Bytes[32] = raw_call(
        HASHER,
        concat(
            convert(chunk_len, bytes32),
            convert(records_len, bytes32),
            convert(RECORDS_AT, bytes32),
            convert(PREIMAGE_BYTES, bytes32),
            convert(convert(CHAIN_ID, uint32), bytes4),
            convert(convert(self.batch_count + 1, uint64), bytes8),
            convert(self.state_root, bytes32),
            convert(new_root, bytes32),
            slice(convert(FEE_ACCOUNT, bytes32), 29, 3),
            batch_data,
        ),
        max_outsize=32,
        is_static_call=True,
    )
    assert len(out) == 32, "rollup: hasher"
    return convert(extract32(out, 0), uint256) & PI_MASK


@pure
@external
def shape() -> (uint256, uint256):
    """@notice (block_slots, block_records) this contract was compiled for."""
    return SLOTS, RECORDS
