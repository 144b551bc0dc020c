pragma circom 2.1.0;

// The batch circuit: one Layer-2 block of B slots and E records in a depth-D tree.
// One public input: SHA-256 of the block's commitment preimage cut to 253 bits
// (docs/protocol.md, "The public input").

include "bitify.circom";
include "comparators.circom";
include "sha256/sha256.circom";
include "merkle.circom";
include "records.circom";
include "slot.circom";
include "forced.circom";

// A field element as the 256 big-endian bits of its canonical 32-byte encoding.
template FieldBits256() {
    signal input in;
    signal output out[256];   // MSB first

    component n2b = Num2Bits_strict();
    n2b.in <== in;
    out[0] <== 0;
    out[1] <== 0;
    for (var i = 0; i < 254; i++) { out[2 + i] <== n2b.out[253 - i]; }
}

// An unsigned integer as n big-endian bits (range-checked to n bits).
template UintBits(n) {
    signal input in;
    signal output out[n];     // MSB first

    component n2b = Num2Bits(n);
    n2b.in <== in;
    for (var i = 0; i < n; i++) { out[i] <== n2b.out[n - 1 - i]; }
}

// Fees are credited to the fee account once, after every slot.
template FeeCredit(D) {
    signal input rootIn;
    signal input feeAccountBits[D];
    signal input total;
    signal input ax;
    signal input ay;
    signal input balance;
    signal input nonce;
    signal input children[D \ 3][8];
    signal output rootOut;

    signal newBalance <== balance + total;
    component overflow = LessThan(72);   // BalanceOverflow
    overflow.in[0] <== newBalance;
    overflow.in[1] <== MAX_SATS() + 1;
    overflow.out === 1;

    component oldLeaf = AccountLeaf();   // a hash, never 0: the fee account exists
    oldLeaf.ax <== ax;
    oldLeaf.ay <== ay;
    oldLeaf.balance <== balance;
    oldLeaf.nonce <== nonce;
    component newLeaf = AccountLeaf();
    newLeaf.ax <== ax;
    newLeaf.ay <== ay;
    newLeaf.balance <== newBalance;
    newLeaf.nonce <== nonce;

    component update = LeafUpdate(D);
    update.enabled <== 1;
    update.rootIn <== rootIn;
    update.oldLeaf <== oldLeaf.out;
    update.newLeaf <== newLeaf.out;
    update.indexBits <== feeAccountBits;
    update.children <== children;
    rootOut <== update.rootOut;
}

template BatchCircuit(B, E, D) {
    var L = D \ 3;
    signal input public_input;

    signal input chain_id;
    signal input block_number;
    signal input old_root;
    signal input fee_account;
    signal input outpoints_digest[256];   // sha256 of the deposits' outpoints, MSB first

    // each slot's chunk: op:3 | f:5 | a:24 | b:24 | c:24 (slot.circom says what each holds)
    signal input op[B];
    signal input chunk_f[B];
    signal input chunk_a[B];
    signal input chunk_b[B];
    signal input chunk_c[B];

    signal input sender_ax[B];
    signal input sender_ay[B];
    signal input sender_balance[B];
    signal input sender_nonce[B];
    signal input sender_children[B][L][8];
    signal input sig_r8x[B];
    signal input sig_r8y[B];
    signal input sig_s[B];

    signal input receiver_empty[B];
    signal input receiver_ax[B];
    signal input receiver_ay[B];
    signal input receiver_balance[B];
    signal input receiver_nonce[B];
    signal input receiver_children[B][L][8];

    signal input records[E][280];
    signal input record_x[E];             // a key record's x (its packing holds y and x's sign)

    signal input fee_ax;
    signal input fee_ay;
    signal input fee_balance;
    signal input fee_nonce;
    signal input fee_children[L][8];

    // slot 0's forced request, if it holds one: its nonce, and whether (rejected) the
    // sender leaf it read is empty
    signal input forced_nonce;
    signal input forced_sender_empty;

    // --- ops and which record each slot consumes ---------------------------------------
    component flags[B];
    component recSel[B];
    var recIdx = 0;
    for (var s = 0; s < B; s++) {
        flags[s] = OpFlags();
        flags[s].op <== op[s];
        recSel[s] = RecordSelect(E);
        recSel[s].recIdx <== recIdx;
        recSel[s].hasRecord <== flags[s].hasRecord;
        recIdx += flags[s].hasRecord;
        if (s > 0) { flags[s].isForced + flags[s].isRejected === 0; }   // slot 0 only
    }

    // --- records: each knows the op that consumed it (0 = unused) ------------------------
    component checks[E];
    signal recOpPart[E][B];
    for (var j = 0; j < E; j++) {
        checks[j] = RecordCheck();
        var recOp = 0;
        for (var s = 0; s < B; s++) {
            recOpPart[j][s] <== recSel[s].sel[j] * op[s];
            recOp += recOpPart[j][s];
        }
        checks[j].recOp <== recOp;
        checks[j].bits <== records[j];
        checks[j].x <== record_x[j];
    }

    // --- slots, chaining the root ---------------------------------------------------------
    component picks[B];
    component slots[B];
    var feeTotal = 0;
    for (var s = 0; s < B; s++) {
        picks[s] = RecordPick(E);
        for (var j = 0; j < E; j++) {
            picks[s].sel[j] <== recSel[s].sel[j];
            picks[s].ax[j] <== checks[j].ax;
            picks[s].ay[j] <== checks[j].ay;
            picks[s].spkHi[j] <== checks[j].spkHi;
            picks[s].spkLo[j] <== checks[j].spkLo;
        }

        slots[s] = Slot(D);
        if (s == 0) {
            slots[s].rootIn <== old_root;
        } else {
            slots[s].rootIn <== slots[s - 1].rootOut;
        }
        slots[s].chainId <== chain_id;
        slots[s].op <== op[s];
        slots[s].isDeposit <== flags[s].isDeposit;
        slots[s].isTransfer <== flags[s].isTransfer;
        slots[s].isTransferNew <== flags[s].isTransferNew;
        slots[s].isWithdraw <== flags[s].isWithdraw;
        slots[s].isForced <== flags[s].isForced;
        slots[s].isRejected <== flags[s].isRejected;
        if (s == 0) {
            slots[s].senderEmpty <== forced_sender_empty;
            slots[s].forcedNonce <== forced_nonce;
        } else {
            slots[s].senderEmpty <== 0;
            slots[s].forcedNonce <== 0;
        }
        slots[s].chunkF <== chunk_f[s];
        slots[s].chunkA <== chunk_a[s];
        slots[s].chunkB <== chunk_b[s];
        slots[s].chunkC <== chunk_c[s];
        slots[s].recAx <== picks[s].outAx;
        slots[s].recAy <== picks[s].outAy;
        slots[s].recSpkHi <== picks[s].outSpkHi;
        slots[s].recSpkLo <== picks[s].outSpkLo;
        slots[s].senderAx <== sender_ax[s];
        slots[s].senderAy <== sender_ay[s];
        slots[s].senderBalance <== sender_balance[s];
        slots[s].senderNonce <== sender_nonce[s];
        slots[s].senderChildren <== sender_children[s];
        slots[s].sigR8x <== sig_r8x[s];
        slots[s].sigR8y <== sig_r8y[s];
        slots[s].sigS <== sig_s[s];
        slots[s].receiverEmpty <== receiver_empty[s];
        slots[s].receiverAx <== receiver_ax[s];
        slots[s].receiverAy <== receiver_ay[s];
        slots[s].receiverBalance <== receiver_balance[s];
        slots[s].receiverNonce <== receiver_nonce[s];
        slots[s].receiverChildren <== receiver_children[s];
        feeTotal += slots[s].fee;
    }

    // --- slot 0's forced request: its rules and its digest --------------------------------
    component forced = ForcedRules();
    forced.isForced <== flags[0].isForced;
    forced.isRejected <== flags[0].isRejected;
    forced.outOfRange <== slots[0].outOfRange;
    forced.senderEmpty <== forced_sender_empty;
    forced.senderAx <== sender_ax[0];
    forced.senderAy <== sender_ay[0];
    forced.senderBalance <== sender_balance[0];
    forced.senderNonce <== sender_nonce[0];
    forced.forcedNonce <== forced_nonce;
    forced.from <== chunk_a[0];
    forced.amount <== slots[0].requestAmount;
    forced.fee <== slots[0].requestFee;
    forced.spkHi <== picks[0].outSpkHi;
    forced.spkLo <== picks[0].outSpkLo;
    forced.r8x <== sig_r8x[0];
    forced.r8y <== sig_r8y[0];
    forced.s <== sig_s[0];
    forced.message <== slots[0].message;
    component forcedBits = UintBits(128);
    forcedBits.in <== forced.digest;

    // --- fees to the fee account, once --------------------------------------------------------
    component feeIdx = AccountIndex(D);
    feeIdx.in <== fee_account;
    feeIdx.isIndex <== 1;
    component feeCredit = FeeCredit(D);
    feeCredit.rootIn <== slots[B - 1].rootOut;
    feeCredit.total <== feeTotal;
    feeCredit.ax <== fee_ax;
    feeCredit.ay <== fee_ay;
    feeCredit.balance <== fee_balance;
    feeCredit.nonce <== fee_nonce;
    feeCredit.feeAccountBits <== feeIdx.bits;
    feeCredit.children <== fee_children;
    signal new_root <== feeCredit.rootOut;

    // --- the public input -------------------------------------------------------------------
    // chain_id:u32 || block_number:u64 || old_root:32 || new_root:32 || fee_account:u24
    // || forced_digest:u128 || outpoints_digest:32 || chunks (B * 80 bits) || records (E * 280 bits)
    var HEADER = 32 + 64 + 256 + 256 + 24 + 128 + 256;
    var NBITS = HEADER + 80 * B + 280 * E;
    component sha = Sha256(NBITS);
    component chainBits = UintBits(32);
    chainBits.in <== chain_id;
    component numberBits = UintBits(64);
    numberBits.in <== block_number;
    component oldBits = FieldBits256();
    oldBits.in <== old_root;
    component newBits = FieldBits256();
    newBits.in <== new_root;
    for (var i = 0; i < 32; i++) { sha.in[i] <== chainBits.out[i]; }
    for (var i = 0; i < 64; i++) { sha.in[32 + i] <== numberBits.out[i]; }
    for (var i = 0; i < 256; i++) {
        sha.in[96 + i] <== oldBits.out[i];
        sha.in[352 + i] <== newBits.out[i];
    }
    for (var i = 0; i < 24; i++) { sha.in[608 + i] <== feeIdx.bits24[23 - i]; }
    for (var i = 0; i < 128; i++) { sha.in[632 + i] <== forcedBits.out[i]; }
    for (var i = 0; i < 256; i++) {
        outpoints_digest[i] * (outpoints_digest[i] - 1) === 0;
        sha.in[760 + i] <== outpoints_digest[i];
    }
    for (var s = 0; s < B; s++) {
        for (var i = 0; i < 80; i++) { sha.in[HEADER + 80 * s + i] <== slots[s].chunkBits[i]; }
    }
    for (var j = 0; j < E; j++) {
        for (var i = 0; i < 280; i++) { sha.in[HEADER + 80 * B + 280 * j + i] <== records[j][i]; }
    }

    var digest = 0;
    for (var i = 3; i < 256; i++) { digest += sha.out[i] * (1 << (255 - i)); }
    public_input === digest;
}
