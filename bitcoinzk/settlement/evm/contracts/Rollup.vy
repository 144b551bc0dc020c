# pragma version ~=0.4.3
# @license GPL-3.0-or-later
"""
@title bitcoinzk Rollup (Silver settlement)
@notice Holds the Layer-2 state root. A new root counts only once the Groth16
        proof of its block has been checked against the public input that this
        contract recomputes itself from the calldata, the stored old root and
        the chain parameters (docs/protocol.md, "The public input"):

            preimage = chain_id:u32 || block_number:u64 || old_root:32
                       || new_root:32 || fee_account:u24 || forced_digest:u128
                       || outpoints_digest:32
                       || chunks (SLOTS * 10 bytes, zero-padded)
                       || records (RECORDS * 35 bytes, zero-padded)
            outpoints_digest = sha256(outpoints)   (36 bytes per DEPOSIT chunk)
            public_input = uint256(sha256(preimage)) mod 2**253
            forced_digest = forced_digest[forced_head] if slot 0 is a forced op, else 0

        Forced withdrawals (docs/protocol.md, "Forced withdrawals"): anyone queues
        a signed Layer-2 withdrawal with forceWithdraw; each block may process the
        oldest waiting request in its slot 0 (FORCED_WITHDRAW executed, or
        FORCED_REJECTED with the broken rule proven), and the digest the proof binds
        is read here from storage, so a block cannot process another request, skip
        one or reorder them. A commit that leaves the oldest waiting request past
        its deadline reverts.

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
        commitBatches takes up to MAX_BATCHES blocks and checks all their proofs
        with one pairing call of k + 3 pairs (the verifier's verifyBatch), so the
        fixed cost of a verification is shared. Per call, one new storage slot:
        the hash chain of the batches committed so far (chain_hashes);
        BatchCommitted carries each batch's values and its link of the chain.

        SLOTS and RECORDS are compile-time constants: bitcoinzk.settlement
        rewrites their two lines for the chain's block_slots and block_records.

        Exodus (docs/protocol.md, "Exodus"): once a forced withdrawal is overdue
        (forcedDue), anyone may call activateExodus. From then on no batch is
        committed, and each account may exit once: a Groth16 proof of the exit
        circuit (its own key and verifier, EXIT_VERIFIER) that the account's leaf
        under the last proven root holds `balance` and that its key signed the exit
        to `script_pubkey`. The contract records the claim and logs ExitClaimed,
        which the bridge signers pay on Bitcoin once.
"""

interface Verifier:
    def verifyBatch(
        proofs: DynArray[uint256[8], MAX_BATCHES], inputs: DynArray[uint256, MAX_BATCHES]
    ) -> bool: view

# The exit circuit's verifier (bitcoinzk/exit/circuit.py); public inputs, in order:
# root, chain_id, account, balance, spk_hi, spk_lo
interface ExitVerifier:
    def verifyProof(
        a: uint256[2], b: uint256[2][2], c: uint256[2], input: uint256[6]
    ) -> bool: view

SLOTS: constant(uint256) = 2
RECORDS: constant(uint256) = 1
# proofs per commitBatches call; the verifier's verifyBatch takes as many
MAX_BATCHES: constant(uint256) = 16

CHUNK_BYTES: constant(uint256) = 10
RECORD_BYTES: constant(uint256) = 35
OUTPOINT_BYTES: constant(uint256) = 36
CHUNKS_MAX: constant(uint256) = SLOTS * CHUNK_BYTES
RECORDS_MAX: constant(uint256) = RECORDS * RECORD_BYTES
# batch_data = n_chunks:u16 || n_records:u16 || chunks || records || outpoints
# (BlockPubdata.to_bytes); every deposit has a record, so at most RECORDS outpoints.
BATCH_MAX: constant(uint256) = 4 + CHUNKS_MAX + RECORDS_MAX + RECORDS * OUTPOINT_BYTES
# chain_id:4 block_number:8 old_root new_root fee_account:3 forced_digest:16
HEADER_BYTES: constant(uint256) = 95
DIGEST_BYTES: constant(uint256) = 32  # sha256(outpoints), right after the header
RECORDS_AT: constant(uint256) = HEADER_BYTES + DIGEST_BYTES + CHUNKS_MAX
PREIMAGE_BYTES: constant(uint256) = RECORDS_AT + RECORDS_MAX
PI_MASK: constant(uint256) = (1 << 253) - 1
SNARK_SCALAR_FIELD: constant(uint256) = 21888242871839275222246405745257275088548364400416034343698204186575808495617

# Forced withdrawals: what forceWithdraw accepts, so that every queued request can
# be processed by a provable batch (executed, or rejected by a rule the circuit proves).
MAX_SCRIPT_PUBKEY: constant(uint256) = 34
MIN_WITHDRAWAL: constant(uint256) = 1000
MAX_WITHDRAWAL: constant(uint256) = 2**48 - 1
MAX_NONCE: constant(uint256) = 2**32 - 1
MAX_ACCOUNT: constant(uint256) = 2**24 - 1
MIMC_ROUNDS: constant(uint256) = 91
DIGEST_MASK: constant(uint256) = 2**128 - 1
# BabyJubJub: a x^2 + y^2 = 1 + d x^2 y^2 over the BN254 scalar field; l: its subgroup order
BJJ_A: constant(uint256) = 168700
BJJ_D: constant(uint256) = 168696
BJJ_L: constant(uint256) = 2736030358979909402780800718157159386076813972158567259200215660948447373041

OP_DEPOSIT: constant(uint256) = 1
OP_TRANSFER_NEW: constant(uint256) = 3
OP_WITHDRAW: constant(uint256) = 4
OP_FORCED_WITHDRAW: constant(uint256) = 5
OP_FORCED_REJECTED: constant(uint256) = 6
# A withdrawal, as the bridge pays it: amount:6 (the WITHDRAW chunk's last 6 bytes)
# || record:35 (len:u8 || script_pubkey, zero-padded).
WITHDRAW_AMOUNT_BYTES: constant(uint256) = 6

# The preimage hasher's creation code (runtime: 71 bytes after the 9-byte constructor).
# Calldata: chunk_len:32 || records_len:32 || records_at:32 || preimage_len:32 || header:95
#           || batch_data                   (header at 0x80, batch_data at 0xdf, chunks at 0xe3)
#   calldatacopy(0, 0x80, 95)                                  header
#   calldatacopy(127, 0xe3, chunk_len)                         chunks
#   calldatacopy(records_at, 0xe3 + chunk_len, records_len)    records
#   o = 0xe3 + chunk_len + records_len                         outpoints: the rest
#   calldatacopy(preimage_len, o, calldatasize - o)            (past the preimage)
#   staticcall(gas, 0x02, preimage_len, calldatasize - o, 95, 32)   digest at 95
#   staticcall(gas, 0x02, 0, preimage_len, 0, 32); revert unless both succeeded; return(0, 32)
# Memory between the chunks and records_at, and after the records up to
# preimage_len, is never written, so it is zero: the padding costs neither
# calldata nor a copy. Source and a check that it hashes docs/protocol.md's
# preimage: tests/settlement/test_hasher.py.
HASHER_INITCODE: constant(Bytes[80]) = x"60478060095f395ff3605f60805f375f358060e3607f3760e301602035808260403537018036038082606035376020605f8260603560025afa60205f6060355f60025afa166042575f5ffd5b60205ff3"


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
    chain_hash: bytes32

event ForcedWithdrawalProcessed:
    index: indexed(uint256)
    batch_number: indexed(uint256)
    executed: bool

event SequencerChanged:
    previous: indexed(address)
    current: indexed(address)

event ForcedWithdrawalRequested:
    index: indexed(uint256)
    account: uint256
    amount: uint256
    fee: uint256
    nonce: uint256
    script_pubkey: Bytes[MAX_SCRIPT_PUBKEY]
    r8x: uint256
    r8y: uint256
    s: uint256
    digest: uint256
    deadline: uint256

event ExodusActivated:
    batch_count: uint256
    state_root: uint256

event ExitClaimed:
    account: indexed(uint256)
    amount: uint256
    # len:u8 || script_pubkey, zero-padded: the record the bridge pays, as for a withdrawal
    record: Bytes[35]


VERIFIER: public(immutable(address))
HASHER: public(immutable(address))
CHAIN_ID: public(immutable(uint256))
FEE_ACCOUNT: public(immutable(uint256))
GENESIS_ROOT: public(immutable(uint256))
EXIT_VERIFIER: public(immutable(address))
# seconds a queued forced withdrawal may wait before a batch must have processed it
FORCED_DEADLINE: public(immutable(uint256))
# circomlib MiMC7's round constants, derived in the constructor as circomlibjs does
MIMC_C: immutable(uint256[MIMC_ROUNDS])

sequencer: public(address)
batch_count: public(uint256)
# the state root after the latest batch (the genesis root before any)
state_root: uint256
# The chain of committed batches: c_0 = 0,
#   c_n = keccak256(c_(n-1) || new_root_n || batch_hash_n || withdrawals_hash_n)
# (batch_hash: the full SHA-256 of the public-input preimage; withdrawals_hash: the
# chained hash of the batch's withdrawals, zero when it has none). Stored only for the
# last batch of each commitBatches call, one new slot per call, not per batch; every
# BatchCommitted event carries its c_n, and anyone holding the events recomputes the
# chain and meets a stored value at the end of each call.
chain_hashes: HashMap[uint256, bytes32]

# The forced-withdrawal queue (docs/protocol.md, "Forced withdrawals"): requests
# forced_head .. forced_tail - 1 wait, oldest first; forced_digest[i] is the
# request's MiMC digest that the batch processing it binds into its public input.
forced_head: public(uint256)
forced_tail: public(uint256)
forced_deadline: public(HashMap[uint256, uint256])
forced_digest: public(HashMap[uint256, uint256])

# Set once by activateExodus, never cleared: no batch after it, exits only.
exodus: public(bool)
exited: public(HashMap[uint256, bool])


@deploy
def __init__(
    verifier: address,
    sequencer: address,
    genesis_root: uint256,
    chain_id: uint256,
    fee_account: uint256,
    forced_deadline: uint256,
    exit_verifier: address,
):
    assert verifier.is_contract, "rollup: verifier is not a contract"
    assert exit_verifier.is_contract, "rollup: exit verifier is not a contract"
    assert sequencer != empty(address), "rollup: no sequencer"
    assert genesis_root < SNARK_SCALAR_FIELD, "rollup: genesis root not a field element"
    assert chain_id < 2**32, "rollup: chain_id is a u32"
    assert fee_account < 2**24, "rollup: fee_account is a u24"
    VERIFIER = verifier
    HASHER = raw_create(HASHER_INITCODE)
    CHAIN_ID = chain_id
    FEE_ACCOUNT = fee_account
    GENESIS_ROOT = genesis_root
    EXIT_VERIFIER = exit_verifier
    assert forced_deadline > 0, "rollup: forced deadline is zero"
    FORCED_DEADLINE = forced_deadline
    c: uint256[MIMC_ROUNDS] = empty(uint256[MIMC_ROUNDS])
    h: bytes32 = keccak256("mimc")
    for i: uint256 in range(1, MIMC_ROUNDS):
        h = keccak256(h)
        c[i] = convert(h, uint256) % SNARK_SCALAR_FIELD
    MIMC_C = c
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
def _chain(
    previous: bytes32, new_root: uint256, batch_hash: bytes32, withdrawals_hash: bytes32
) -> bytes32:
    return keccak256(concat(previous, convert(new_root, bytes32), batch_hash, withdrawals_hash))


@internal
@view
def _check_forced(head: uint256):
    """After a commit: the oldest request still waiting must not be past its deadline.
    Checked per call, not per block, so a commit whose later block processes a request
    that came due while its earlier blocks were being proven goes through."""
    assert head == self.forced_tail or block.timestamp <= self.forced_deadline[head], (
        "rollup: a due forced withdrawal is not processed"
    )


@internal
def _batch(
    batch_data: Bytes[BATCH_MAX],
    batch_number: uint256,
    old_root: uint256,
    new_root: uint256,
    previous: bytes32,
    head: uint256,
) -> (uint256, bytes32, uint256):
    """One block of a commit: check its data, hash its public input, extend the chain
    and log it. `head`: the forced queue's head before this block. Returns (public
    input, chain hash, head after it). Nothing counts until the caller has the proofs
    checked: a failed check reverts the logs too."""
    assert new_root < SNARK_SCALAR_FIELD, "rollup: new root not a field element"
    assert len(batch_data) >= 4, "rollup: batch data too short"
    counts: uint256 = convert(slice(batch_data, 0, 4), uint256)
    n_chunks: uint256 = counts >> 16
    n_records: uint256 = counts & 65535
    assert n_chunks <= SLOTS and n_records <= RECORDS, "rollup: batch larger than the circuit"
    chunk_len: uint256 = n_chunks * CHUNK_BYTES
    records_len: uint256 = n_records * RECORD_BYTES
    assert len(batch_data) >= 4 + chunk_len + records_len, "rollup: batch data length"
    # Slot 0 may process the oldest queued forced withdrawal (the caller checks, once the
    # whole commit is done, that none is left past its deadline).
    forced: uint256 = 0
    if n_chunks != 0:
        forced = convert(slice(batch_data, 4, 1), uint256) >> 5
    forced_digest: uint256 = 0
    if forced == OP_FORCED_WITHDRAW or forced == OP_FORCED_REJECTED:
        assert head < self.forced_tail, "rollup: no forced withdrawal is queued"
        forced_digest = self.forced_digest[head]
        log ForcedWithdrawalProcessed(
            index=head, batch_number=batch_number, executed=forced == OP_FORCED_WITHDRAW
        )
        head += 1
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
            if op == OP_WITHDRAW or op == OP_FORCED_WITHDRAW:
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
            elif op == OP_TRANSFER_NEW or op == OP_FORCED_REJECTED:
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
            convert(convert(forced_digest, uint128), bytes16),
            batch_data,
        ),
        max_outsize=32,
        is_static_call=True,
    )
    assert len(out) == 32, "rollup: hasher"
    digest: bytes32 = extract32(out, 0)
    link: bytes32 = self._chain(previous, new_root, digest, w_hash)
    log BatchCommitted(
        batch_number=batch_number,
        old_root=old_root,
        new_root=new_root,
        batch_hash=digest,
        withdrawals_hash=w_hash,
        withdrawals=w_count,
        chain_hash=link,
    )
    return convert(digest, uint256) & PI_MASK, link, head


@external
def commitBatch(batch_data: Bytes[BATCH_MAX], new_root: uint256, proof: uint256[8]):
    """
    @notice Accept the next block's state root with its proof: commitBatches with k = 1,
            without the memory a k-block argument takes.
    """
    assert msg.sender == self.sequencer, "rollup: not the sequencer"
    assert not self.exodus, "rollup: exodus"
    batch_number: uint256 = self.batch_count + 1
    pi: uint256 = 0
    link: bytes32 = empty(bytes32)
    head: uint256 = self.forced_head
    pi, link, head = self._batch(
        batch_data,
        batch_number,
        self.state_root,
        new_root,
        self.chain_hashes[batch_number - 1],
        head,
    )
    self._check_forced(head)
    ok: bool = staticcall Verifier(VERIFIER).verifyBatch([proof], [pi])
    assert ok, "rollup: invalid proof"
    self.batch_count = batch_number
    self.state_root = new_root
    self.chain_hashes[batch_number] = link
    if head != self.forced_head:
        self.forced_head = head


@external
def commitBatches(
    batches: DynArray[Bytes[BATCH_MAX], MAX_BATCHES],
    new_roots: DynArray[uint256, MAX_BATCHES],
    proofs: DynArray[uint256[8], MAX_BATCHES],
):
    """
    @notice Accept the next k blocks' state roots, their proofs checked in one pairing call.
    @param batches Each block's used chunks, records and outpoints (BlockPubdata.to_bytes()).
    @param new_roots The state root after each block.
    @param proofs Groth16 proofs: a.x a.y b.x.c1 b.x.c0 b.y.c1 b.y.c0 c.x c.y.
    @dev k = 1 is the single-block commit (verifyBatch then costs what verifyProof does).
         One bad proof, root or byte anywhere reverts the whole call: nothing is recorded.
    """
    assert msg.sender == self.sequencer, "rollup: not the sequencer"
    assert not self.exodus, "rollup: exodus"
    k: uint256 = len(batches)
    assert k >= 1 and len(new_roots) == k and len(proofs) == k, "rollup: batch count"
    batch_number: uint256 = self.batch_count
    old_root: uint256 = self.state_root
    link: bytes32 = self.chain_hashes[batch_number]
    head: uint256 = self.forced_head
    inputs: DynArray[uint256, MAX_BATCHES] = []
    for j: uint256 in range(k, bound=MAX_BATCHES):
        batch_number += 1
        pi: uint256 = 0
        pi, link, head = self._batch(batches[j], batch_number, old_root, new_roots[j], link, head)
        inputs.append(pi)
        old_root = new_roots[j]
    self._check_forced(head)
    ok: bool = staticcall Verifier(VERIFIER).verifyBatch(proofs, inputs)
    assert ok, "rollup: invalid proof"
    self.batch_count = batch_number
    self.state_root = old_root
    self.chain_hashes[batch_number] = link
    if head != self.forced_head:
        self.forced_head = head


@internal
@view
def _mimc7(x: uint256, k: uint256) -> uint256:
    """circomlib MiMC7(91): t -> (t + k + c_i)^7 for 91 rounds, then + k."""
    t: uint256 = uint256_addmod(x, k, SNARK_SCALAR_FIELD)
    for i: uint256 in range(MIMC_ROUNDS):
        if i > 0:
            t = uint256_addmod(uint256_addmod(t, k, SNARK_SCALAR_FIELD), MIMC_C[i], SNARK_SCALAR_FIELD)
        t2: uint256 = uint256_mulmod(t, t, SNARK_SCALAR_FIELD)
        t4: uint256 = uint256_mulmod(t2, t2, SNARK_SCALAR_FIELD)
        t = uint256_mulmod(uint256_mulmod(t4, t2, SNARK_SCALAR_FIELD), t, SNARK_SCALAR_FIELD)
    return uint256_addmod(t, k, SNARK_SCALAR_FIELD)


@internal
@view
def _multi_mimc7(inputs: uint256[6]) -> uint256:
    """circomlib MultiMiMC7(6, 91) with k = 0: r_(i+1) = r_i + x_i + MiMC7(x_i, r_i)."""
    r: uint256 = 0
    for x: uint256 in inputs:
        r = uint256_addmod(uint256_addmod(r, x, SNARK_SCALAR_FIELD), self._mimc7(x, r), SNARK_SCALAR_FIELD)
    return r


@internal
@pure
def _fee_representable(fee: uint256) -> bool:
    """Float5: fee = m * 10^e with m < 8 and e < 4."""
    scale: uint256 = 1
    for e: uint256 in range(4):
        if fee % scale == 0 and fee // scale < 8:
            return True
        scale *= 10
    return False


@external
def forceWithdraw(
    account: uint256,
    script_pubkey: Bytes[MAX_SCRIPT_PUBKEY],
    amount: uint256,
    fee: uint256,
    nonce: uint256,
    r8x: uint256,
    r8y: uint256,
    s: uint256,
) -> uint256:
    """
    @notice Queue a Layer-2 withdrawal the sequencer ignores: the same fields and EdDSA
            signature (R8, S) the user signed for the sequencer. A batch must process it,
            oldest first, within FORCED_DEADLINE seconds: executed as the withdrawal, or
            rejected by a rule the batch proof shows it breaks (docs/protocol.md).
    @dev Only what a proof could not reject is refused here (encodings, ranges, a
         signature point off the curve); everything that depends on the Layer-2 state
         or on the signature's validity is the circuit's to decide.
    @return The request's index in the queue.
    """
    # after exodus no batch can process a request: refuse it rather than take its gas
    assert not self.exodus, "rollup: exodus"
    assert account <= MAX_ACCOUNT, "forced: account index is not 24-bit"
    assert len(script_pubkey) >= 1, "forced: empty script_pubkey"
    assert amount >= MIN_WITHDRAWAL and amount <= MAX_WITHDRAWAL, "forced: amount out of range"
    assert self._fee_representable(fee), "forced: fee is not representable (m*10^e, m < 8, e < 4)"
    assert nonce <= MAX_NONCE, "forced: nonce is not 32-bit"
    assert s < BJJ_L, "forced: signature S >= l"
    assert r8x < SNARK_SCALAR_FIELD and r8y < SNARK_SCALAR_FIELD, "forced: R8 not in the field"
    x2: uint256 = uint256_mulmod(r8x, r8x, SNARK_SCALAR_FIELD)
    y2: uint256 = uint256_mulmod(r8y, r8y, SNARK_SCALAR_FIELD)
    lhs: uint256 = uint256_addmod(uint256_mulmod(BJJ_A, x2, SNARK_SCALAR_FIELD), y2, SNARK_SCALAR_FIELD)
    rhs: uint256 = uint256_addmod(
        1,
        uint256_mulmod(BJJ_D, uint256_mulmod(x2, y2, SNARK_SCALAR_FIELD), SNARK_SCALAR_FIELD),
        SNARK_SCALAR_FIELD,
    )
    assert lhs == rhs, "forced: signature R8 is not on BabyJubJub"
    # dest35 = len || script_pubkey || zeros; spk_hi = dest35[0:17], spk_lo = dest35[17:35]
    dest: Bytes[69] = concat(
        slice(convert(len(script_pubkey), bytes32), 31, 1), script_pubkey, empty(bytes32), empty(bytes2)
    )
    spk_hi: uint256 = convert(slice(dest, 0, 17), uint256)
    spk_lo: uint256 = convert(slice(dest, 17, 18), uint256)
    meta: uint256 = account | (amount << 24) | (fee << 72) | (nonce << 85)
    digest: uint256 = self._multi_mimc7([meta, spk_hi, spk_lo, r8x, r8y, s]) & DIGEST_MASK
    index: uint256 = self.forced_tail
    deadline: uint256 = block.timestamp + FORCED_DEADLINE
    self.forced_digest[index] = digest
    self.forced_deadline[index] = deadline
    self.forced_tail = index + 1
    log ForcedWithdrawalRequested(
        index=index,
        account=account,
        amount=amount,
        fee=fee,
        nonce=nonce,
        script_pubkey=script_pubkey,
        r8x=r8x,
        r8y=r8y,
        s=s,
        digest=digest,
        deadline=deadline,
    )
    return index


@internal
@view
def _forced_due() -> bool:
    head: uint256 = self.forced_head
    return head < self.forced_tail and block.timestamp > self.forced_deadline[head]


@view
@external
def forcedDue() -> bool:
    """@notice True when the oldest waiting forced withdrawal is past its deadline."""
    return self._forced_due()


@external
def activateExodus():
    """
    @notice Stop the rollup for good: anyone may, once a forced request is overdue.
            From then on no batch is committed and every account may exit once.
    """
    assert not self.exodus, "rollup: exodus"
    assert self._forced_due(), "rollup: no forced request is overdue"
    self.exodus = True
    log ExodusActivated(batch_count=self.batch_count, state_root=self.state_root)


@external
def exit(
    account: uint256, balance: uint256, script_pubkey: Bytes[MAX_SCRIPT_PUBKEY], proof: uint256[8]
):
    """
    @notice In exodus: claim `account`'s whole balance under the last proven root, paid
            by the bridge to `script_pubkey` on Bitcoin. Once per account.
    @param proof The exit circuit's Groth16 proof that leaf `account` of state_root holds
           `balance` and that its key signed Poseidon(5, chain_id, account, spk_hi, spk_lo).
    @dev Anyone may submit the owner's claim: the proof fixes where the BTC goes.
    """
    assert self.exodus, "rollup: not in exodus"
    assert not self.exited[account], "rollup: already exited"
    assert balance != 0, "rollup: nothing to exit"
    n: uint256 = len(script_pubkey)
    assert n != 0, "rollup: empty script_pubkey"
    # dest35 = len || script_pubkey || zeros, and its two signed field elements
    record: Bytes[35] = slice(
        concat(convert(convert(n, uint8), bytes1), script_pubkey, empty(bytes32), empty(bytes2)),
        0,
        35,
    )
    spk_hi: uint256 = convert(slice(record, 0, 17), uint256)
    spk_lo: uint256 = convert(slice(record, 17, 18), uint256)
    ok: bool = staticcall ExitVerifier(EXIT_VERIFIER).verifyProof(
        [proof[0], proof[1]],
        [[proof[2], proof[3]], [proof[4], proof[5]]],
        [proof[6], proof[7]],
        [self.state_root, CHAIN_ID, account, balance, spk_hi, spk_lo],
    )
    assert ok, "rollup: invalid exit proof"
    self.exited[account] = True
    log ExitClaimed(account=account, amount=balance, record=record)


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
def chainHashOf(batch_number: uint256) -> bytes32:
    """@notice c_n if batch n ended a commitBatches call (or n = 0: zero), else zero.

    The BatchCommitted events carry every c_n; this anchors the chain they form.
    """
    assert batch_number <= self.batch_count, "rollup: no such batch"
    return self.chain_hashes[batch_number]


@view
@external
def head() -> (uint256, uint256, bytes32):
    """@notice (batch_count, state root, c_batch_count) read at one block."""
    return self.batch_count, self.state_root, self.chain_hashes[self.batch_count]


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
    forced_digest: uint256 = 0
    if n_chunks != 0:
        op: uint256 = convert(slice(batch_data, 4, 1), uint256) >> 5
        if op == OP_FORCED_WITHDRAW or op == OP_FORCED_REJECTED:
            forced_digest = self.forced_digest[self.forced_head]
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
            convert(convert(forced_digest, uint128), bytes16),
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
