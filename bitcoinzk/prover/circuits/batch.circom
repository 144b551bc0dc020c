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
    signal input siblings[D];
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
    for (var k = 0; k < D; k++) {
        update.indexBits[k] <== feeAccountBits[k];
        update.siblings[k] <== siblings[k];
    }
    rootOut <== update.rootOut;
}

template BatchCircuit(B, E, D) {
    signal input public_input;

    signal input chain_id;
    signal input block_number;
    signal input old_root;
    signal input fee_account;

    signal input op[B];
    signal input fee[B];          // Float5, as in the chunk
    signal input amount[B];       // Float24, as in the chunk
    signal input from[B];
    signal input to[B];

    signal input sender_ax[B];
    signal input sender_ay[B];
    signal input sender_balance[B];
    signal input sender_nonce[B];
    signal input sender_siblings[B][D];
    signal input sig_r8x[B];
    signal input sig_r8y[B];
    signal input sig_s[B];

    signal input receiver_empty[B];
    signal input receiver_ax[B];
    signal input receiver_ay[B];
    signal input receiver_balance[B];
    signal input receiver_nonce[B];
    signal input receiver_siblings[B][D];

    signal input records[E][864];

    signal input fee_ax;
    signal input fee_ay;
    signal input fee_balance;
    signal input fee_nonce;
    signal input fee_siblings[D];

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
    }

    // --- records: each knows the op that consumed it (0 = unused) ------------------------
    component views[E];
    component checks[E];
    signal recOpPart[E][B];
    for (var j = 0; j < E; j++) {
        views[j] = RecordViews();
        checks[j] = RecordCheck();
        var recOp = 0;
        for (var s = 0; s < B; s++) {
            recOpPart[j][s] <== recSel[s].sel[j] * op[s];
            recOp += recOpPart[j][s];
        }
        checks[j].recOp <== recOp;
        for (var i = 0; i < 864; i++) {
            views[j].bits[i] <== records[j][i];
            checks[j].bits[i] <== records[j][i];
        }
    }

    // --- slots, chaining the root ---------------------------------------------------------
    component picks[B];
    component slots[B];
    var feeTotal = 0;
    for (var s = 0; s < B; s++) {
        picks[s] = RecordPick(E);
        for (var j = 0; j < E; j++) {
            picks[s].sel[j] <== recSel[s].sel[j];
            picks[s].amount[j] <== views[j].amount;
            picks[s].ax[j] <== checks[j].ax;
            picks[s].ay[j] <== checks[j].ay;
            picks[s].spk0[j] <== views[j].spk0;
            picks[s].spk1[j] <== views[j].spk1;
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
        slots[s].feeF <== fee[s];
        slots[s].amountF <== amount[s];
        slots[s].from <== from[s];
        slots[s].to <== to[s];
        slots[s].recAmount <== picks[s].outAmount;
        slots[s].recAx <== picks[s].outAx;
        slots[s].recAy <== picks[s].outAy;
        slots[s].recSpk0 <== picks[s].outSpk0;
        slots[s].recSpk1 <== picks[s].outSpk1;
        slots[s].senderAx <== sender_ax[s];
        slots[s].senderAy <== sender_ay[s];
        slots[s].senderBalance <== sender_balance[s];
        slots[s].senderNonce <== sender_nonce[s];
        slots[s].sigR8x <== sig_r8x[s];
        slots[s].sigR8y <== sig_r8y[s];
        slots[s].sigS <== sig_s[s];
        slots[s].receiverEmpty <== receiver_empty[s];
        slots[s].receiverAx <== receiver_ax[s];
        slots[s].receiverAy <== receiver_ay[s];
        slots[s].receiverBalance <== receiver_balance[s];
        slots[s].receiverNonce <== receiver_nonce[s];
        for (var k = 0; k < D; k++) {
            slots[s].senderSiblings[k] <== sender_siblings[s][k];
            slots[s].receiverSiblings[k] <== receiver_siblings[s][k];
        }
        feeTotal += slots[s].fee;
    }

    // --- fees to the fee account, once --------------------------------------------------------
    component feeIdx = AccountIndex(D);
    feeIdx.in <== fee_account;
    component feeCredit = FeeCredit(D);
    feeCredit.rootIn <== slots[B - 1].rootOut;
    feeCredit.total <== feeTotal;
    feeCredit.ax <== fee_ax;
    feeCredit.ay <== fee_ay;
    feeCredit.balance <== fee_balance;
    feeCredit.nonce <== fee_nonce;
    for (var k = 0; k < D; k++) {
        feeCredit.feeAccountBits[k] <== feeIdx.bits[k];
        feeCredit.siblings[k] <== fee_siblings[k];
    }
    signal new_root <== feeCredit.rootOut;

    // --- the public input -------------------------------------------------------------------
    // chain_id:u32 || block_number:u64 || old_root:32 || new_root:32 || fee_account:u24
    // || chunks (B * 80 bits) || records (E * 864 bits)
    var HEADER = 32 + 64 + 256 + 256 + 24;
    var NBITS = HEADER + 80 * B + 864 * E;
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
    for (var s = 0; s < B; s++) {
        for (var i = 0; i < 80; i++) { sha.in[HEADER + 80 * s + i] <== slots[s].chunkBits[i]; }
    }
    for (var j = 0; j < E; j++) {
        for (var i = 0; i < 864; i++) { sha.in[HEADER + 80 * B + 864 * j + i] <== records[j][i]; }
    }

    var digest = 0;
    for (var i = 3; i < 256; i++) { digest += sha.out[i] * (1 << (255 - i)); }
    public_input === digest;
}
