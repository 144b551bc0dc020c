# pragma version ~=0.4.3
# @license GPL-3.0-or-later
"""
@title bitcoinzk Rollup (Silver settlement)
@notice Holds the Layer-2 state root. A new root counts only once the Groth16
        proof of its block has been checked against the public input that this
        contract recomputes itself from the calldata, the stored old root and
        the chain parameters (docs/protocol.md, "The public input"):

            preimage = chain_id:u32 || block_number:u64 || old_root:32
                       || new_root:32 || fee_account:u24
                       || chunks (SLOTS * 10 bytes, zero-padded)
                       || records (RECORDS * 108 bytes, zero-padded)
            public_input = uint256(sha256(preimage)) mod 2**253

        The calldata carries only the used chunks and records (the padding is
        added here, where zero bytes cost no calldata gas), so the batch data in
        calldata is the data-availability copy a full node rebuilds the state from.

        SLOTS and RECORDS are compile-time constants: bitcoinzk.settlement
        rewrites their two lines for the chain's block_slots and block_records,
        so buffers are exactly the size of one block and memory costs nothing
        beyond it.
"""

interface Verifier:
    def verifyProof(
        a: uint256[2], b: uint256[2][2], c: uint256[2], input: uint256[1]
    ) -> bool: view

SLOTS: constant(uint256) = 2
RECORDS: constant(uint256) = 1

CHUNK_BYTES: constant(uint256) = 10
RECORD_BYTES: constant(uint256) = 108
CHUNKS_MAX: constant(uint256) = SLOTS * CHUNK_BYTES
RECORDS_MAX: constant(uint256) = RECORDS * RECORD_BYTES
# batch_data = n_chunks:u16 || n_records:u16 || chunks || records  (BlockPubdata.to_bytes)
BATCH_MAX: constant(uint256) = 4 + CHUNKS_MAX + RECORDS_MAX
HEADER_BYTES: constant(uint256) = 83
PREIMAGE_BYTES: constant(uint256) = HEADER_BYTES + CHUNKS_MAX + RECORDS_MAX
# A zero source at least as long as the longest padding; 32-byte words.
ZERO_WORDS: constant(uint256) = (max(CHUNKS_MAX, RECORDS_MAX) + 31) // 32
PI_MASK: constant(uint256) = (1 << 253) - 1
SNARK_SCALAR_FIELD: constant(uint256) = 21888242871839275222246405745257275088548364400416034343698204186575808495617

OP_DEPOSIT: constant(uint256) = 1
OP_TRANSFER_NEW: constant(uint256) = 3
OP_WITHDRAW: constant(uint256) = 4
# A withdrawal, as the bridge pays it: amount:u64 || len:u8 || script_pubkey, padded to 51.
WITHDRAWAL_BYTES: constant(uint256) = 51


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
CHAIN_ID: public(immutable(uint256))
FEE_ACCOUNT: public(immutable(uint256))
GENESIS_ROOT: public(immutable(uint256))

sequencer: public(address)
batch_count: public(uint256)
# batch number -> state root after it (0 -> genesis root)
roots: HashMap[uint256, uint256]
# batch number -> full SHA-256 of the public-input preimage (binds everything the proof binds)
batch_hashes: HashMap[uint256, bytes32]
# batch number -> chained hash of its withdrawals (zero when it has none)
withdrawal_hashes: HashMap[uint256, bytes32]


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
    CHAIN_ID = chain_id
    FEE_ACCOUNT = fee_account
    GENESIS_ROOT = genesis_root
    self.sequencer = sequencer
    self.roots[0] = genesis_root
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
def _u16(data: Bytes[BATCH_MAX], start: uint256) -> uint256:
    return convert(slice(data, start, 2), uint256)


@internal
@view
def _preimage_hash(
    batch_number: uint256, old_root: uint256, new_root: uint256, batch_data: Bytes[BATCH_MAX]
) -> (bytes32, uint256, uint256):
    """SHA-256 of the padded preimage, and the number of chunks and records used."""
    assert len(batch_data) >= 4, "rollup: batch data too short"
    n_chunks: uint256 = self._u16(batch_data, 0)
    n_records: uint256 = self._u16(batch_data, 2)
    assert n_chunks <= SLOTS and n_records <= RECORDS, "rollup: batch larger than the circuit"
    chunk_len: uint256 = n_chunks * CHUNK_BYTES
    record_len: uint256 = n_records * RECORD_BYTES
    assert len(batch_data) == 4 + chunk_len + record_len, "rollup: batch data length"
    zeros: Bytes[ZERO_WORDS * 32] = abi_encode(empty(uint256[ZERO_WORDS]))
    digest: bytes32 = sha256(
        concat(
            slice(convert(CHAIN_ID, bytes32), 28, 4),
            slice(convert(batch_number, bytes32), 24, 8),
            convert(old_root, bytes32),
            convert(new_root, bytes32),
            slice(convert(FEE_ACCOUNT, bytes32), 29, 3),
            slice(batch_data, 4, chunk_len),
            slice(zeros, 0, CHUNKS_MAX - chunk_len),
            slice(batch_data, 4 + chunk_len, record_len),
            slice(zeros, 0, RECORDS_MAX - record_len),
        )
    )
    return digest, n_chunks, n_records


@internal
@pure
def _withdrawals(
    batch_data: Bytes[BATCH_MAX], n_chunks: uint256, n_records: uint256
) -> (bytes32, uint256):
    """Chained hash of the batch's withdrawals, in slot order.

    h_0 = 0, h_(k+1) = sha256(h_k || amount:u64 || len:u8 || script_pubkey, zero-padded to 51)
    The scan stops at the last record, so a batch of plain transfers costs nothing here.
    """
    h: bytes32 = empty(bytes32)
    count: uint256 = 0
    if n_records == 0:
        return h, count
    r: uint256 = 0
    records_at: uint256 = 4 + n_chunks * CHUNK_BYTES
    for i: uint256 in range(SLOTS):
        if r == n_records or i == n_chunks:
            break
        op: uint256 = convert(slice(batch_data, 4 + i * CHUNK_BYTES, 1), uint256) >> 5
        if op == OP_WITHDRAW:
            entry: Bytes[WITHDRAWAL_BYTES] = slice(
                batch_data, records_at + r * RECORD_BYTES, WITHDRAWAL_BYTES
            )
            h = sha256(concat(h, entry))
            count += 1
            r += 1
        elif op == OP_DEPOSIT or op == OP_TRANSFER_NEW:
            r += 1
    return h, count


@external
def commitBatch(batch_data: Bytes[BATCH_MAX], new_root: uint256, proof: uint256[8]):
    """
    @notice Accept the next block's new state root with its validity proof.
    @param batch_data The block's used chunks and records (BlockPubdata.to_bytes()).
    @param new_root The state root after the block.
    @param proof Groth16 proof: a.x a.y b.x.c1 b.x.c0 b.y.c1 b.y.c0 c.x c.y.
    """
    assert msg.sender == self.sequencer, "rollup: not the sequencer"
    assert new_root < SNARK_SCALAR_FIELD, "rollup: new root not a field element"
    batch_number: uint256 = self.batch_count + 1
    old_root: uint256 = self.roots[batch_number - 1]
    digest: bytes32 = empty(bytes32)
    n_chunks: uint256 = 0
    n_records: uint256 = 0
    digest, n_chunks, n_records = self._preimage_hash(batch_number, old_root, new_root, batch_data)
    public_input: uint256 = convert(digest, uint256) & PI_MASK
    ok: bool = staticcall Verifier(VERIFIER).verifyProof(
        [proof[0], proof[1]],
        [[proof[2], proof[3]], [proof[4], proof[5]]],
        [proof[6], proof[7]],
        [public_input],
    )
    assert ok, "rollup: invalid proof"
    w_hash: bytes32 = empty(bytes32)
    w_count: uint256 = 0
    w_hash, w_count = self._withdrawals(batch_data, n_chunks, n_records)
    self.batch_count = batch_number
    self.roots[batch_number] = new_root
    self.batch_hashes[batch_number] = digest
    if w_count != 0:
        self.withdrawal_hashes[batch_number] = w_hash
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
    return self.roots[self.batch_count]


@view
@external
def rootOf(batch_number: uint256) -> uint256:
    """@notice The state root after `batch_number` (0: genesis)."""
    assert batch_number <= self.batch_count, "rollup: no such batch"
    return self.roots[batch_number]


@view
@external
def batchHashOf(batch_number: uint256) -> bytes32:
    """@notice SHA-256 of the batch's public-input preimage (256 bits, not cut)."""
    assert 1 <= batch_number and batch_number <= self.batch_count, "rollup: no such batch"
    return self.batch_hashes[batch_number]


@view
@external
def withdrawalsHashOf(batch_number: uint256) -> bytes32:
    """@notice The chained withdrawal hash the bridge checks its payouts against."""
    assert 1 <= batch_number and batch_number <= self.batch_count, "rollup: no such batch"
    return self.withdrawal_hashes[batch_number]


@view
@external
def publicInputOf(batch_data: Bytes[BATCH_MAX], new_root: uint256) -> uint256:
    """@notice The public input the next commitBatch with these arguments would check."""
    batch_number: uint256 = self.batch_count + 1
    digest: bytes32 = empty(bytes32)
    n_chunks: uint256 = 0
    n_records: uint256 = 0
    digest, n_chunks, n_records = self._preimage_hash(
        batch_number, self.roots[batch_number - 1], new_root, batch_data
    )
    return convert(digest, uint256) & PI_MASK


@pure
@external
def shape() -> (uint256, uint256):
    """@notice (block_slots, block_records) this contract was compiled for."""
    return SLOTS, RECORDS
