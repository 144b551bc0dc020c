pragma circom 2.1.0;

// One operation slot: the rules of bitcoinzk/l2/stf.py, one constraint block per rule.
// Sender-side update, then receiver-side update; an unused side is disabled (no change).

include "bitify.circom";
include "comparators.circom";
include "poseidon.circom";
include "eddsaposeidon.circom";
include "floats.circom";
include "merkle.circom";

function MAX_SATS() { return 2100000000000000; }
function MIN_WITHDRAWAL() { return 1000; }

// op in {NOOP 0, DEPOSIT 1, TRANSFER 2, TRANSFER_NEW 3, WITHDRAW 4} as one-hot flags.
template OpFlags() {
    signal input op;
    signal output isDeposit;
    signal output isTransfer;
    signal output isTransferNew;
    signal output isWithdraw;
    signal output hasRecord;

    component eq[5];
    for (var i = 0; i < 5; i++) {
        eq[i] = IsEqual();
        eq[i].in[0] <== op;
        eq[i].in[1] <== i;
    }
    eq[0].out + eq[1].out + eq[2].out + eq[3].out + eq[4].out === 1;
    isDeposit <== eq[1].out;
    isTransfer <== eq[2].out;
    isTransferNew <== eq[3].out;
    isWithdraw <== eq[4].out;
    hasRecord <== eq[1].out + eq[3].out + eq[4].out;
}

// Records are consumed in slot order: a slot with a record takes record number `recIdx`
// (the count of records before it), which must exist (recIdx < E).
template RecordSelect(E) {
    signal input recIdx;
    signal input hasRecord;
    signal output sel[E];

    component eq[E];
    var total = 0;
    for (var j = 0; j < E; j++) {
        eq[j] = IsEqual();
        eq[j].in[0] <== recIdx;
        eq[j].in[1] <== j;
        sel[j] <== eq[j].out * hasRecord;
        total += sel[j];
    }
    total === hasRecord;
}

// The fields of the selected record (all zero if none is selected).
template RecordPick(E) {
    signal input sel[E];
    signal input amount[E];
    signal input ax[E];
    signal input ay[E];
    signal input spk0[E];
    signal input spk1[E];
    signal output outAmount;
    signal output outAx;
    signal output outAy;
    signal output outSpk0;
    signal output outSpk1;

    signal pa[E];
    signal px[E];
    signal py[E];
    signal p0[E];
    signal p1[E];
    var a = 0;
    var x = 0;
    var y = 0;
    var s0 = 0;
    var s1 = 0;
    for (var j = 0; j < E; j++) {
        pa[j] <== sel[j] * amount[j];
        px[j] <== sel[j] * ax[j];
        py[j] <== sel[j] * ay[j];
        p0[j] <== sel[j] * spk0[j];
        p1[j] <== sel[j] * spk1[j];
        a += pa[j];
        x += px[j];
        y += py[j];
        s0 += p0[j];
        s1 += p1[j];
    }
    outAmount <== a;
    outAx <== x;
    outAy <== y;
    outSpk0 <== s0;
    outSpk1 <== s1;
}

template Slot(D) {
    signal input rootIn;
    signal input chainId;
    // the op (flags from OpFlags) and its chunk fields
    signal input op;
    signal input isDeposit;
    signal input isTransfer;
    signal input isTransferNew;
    signal input isWithdraw;
    signal input feeF;       // Float5
    signal input amountF;    // Float24
    signal input from;
    signal input to;
    // the record this slot consumed (RecordPick; zero if none)
    signal input recAmount;
    signal input recAx;
    signal input recAy;
    signal input recSpk0;
    signal input recSpk1;
    // sender leaf, path and signature
    signal input senderAx;
    signal input senderAy;
    signal input senderBalance;
    signal input senderNonce;
    signal input senderSiblings[D];
    signal input sigR8x;
    signal input sigR8y;
    signal input sigS;
    // receiver leaf (or empty) and path
    signal input receiverEmpty;
    signal input receiverAx;
    signal input receiverAy;
    signal input receiverBalance;
    signal input receiverNonce;
    signal input receiverSiblings[D];

    signal output rootOut;
    signal output fee;
    signal output chunkBits[80];   // op:3 fee:5 from:24 to:24 amount:24, MSB first

    var isAnyTransfer = isTransfer + isTransferNew;
    var hasSender = isAnyTransfer + isWithdraw;
    var hasReceiver = isDeposit + isAnyTransfer;

    // --- chunk fields: decoded, canonical, and zero where the op has none ---------------
    component feeDec = Float5Decoder();
    feeDec.in <== feeF;
    feeF * (1 - hasSender) === 0;
    fee <== feeDec.value;

    component amountDec = Float24Decoder();
    amountDec.in <== amountF;
    amountF * (1 - isAnyTransfer) === 0;

    component fromIdx = AccountIndex(D);   // IndexOutOfRange
    fromIdx.in <== from;
    from * (1 - hasSender) === 0;
    component toIdx = AccountIndex(D);
    toIdx.in <== to;
    to * (1 - hasReceiver) === 0;

    // SelfTransfer
    component selfTransfer = IsEqual();
    selfTransfer.in[0] <== from;
    selfTransfer.in[1] <== to;
    selfTransfer.out * isAnyTransfer === 0;

    // --- amounts: AmountOutOfRange ---------------------------------------------------------
    signal depositAmount <== isDeposit * recAmount;
    signal withdrawAmount <== isWithdraw * recAmount;
    signal transferAmount <== amountDec.value;   // 0 unless a transfer (amountF = 0)

    component transferMax = LessThan(72);        // value < 2^20 * 10^15 < 2^70
    transferMax.in[0] <== transferAmount;
    transferMax.in[1] <== MAX_SATS() + 1;
    transferMax.out === 1;
    component transferZero = IsZero();
    transferZero.in <== transferAmount;
    isAnyTransfer * transferZero.out === 0;

    component recordMax = LessThan(64);          // a record amount is a u64
    recordMax.in[0] <== depositAmount + withdrawAmount;
    recordMax.in[1] <== MAX_SATS() + 1;
    recordMax.out === 1;
    component depositZero = IsZero();
    depositZero.in <== depositAmount;
    isDeposit * depositZero.out === 0;
    component withdrawMin = LessThan(64);
    withdrawMin.in[0] <== withdrawAmount;
    withdrawMin.in[1] <== MIN_WITHDRAWAL();
    isWithdraw * withdrawMin.out === 0;

    // --- sender: InsufficientBalance, WrongNonce/NonceOverflow, UnknownAccount -----------
    signal senderNewBalance <== senderBalance - transferAmount - withdrawAmount - fee;
    component noUnderflow = Num2Bits(64);      // a negative result wraps to ~2^254
    noUnderflow.in <== senderNewBalance;
    signal senderNewNonce <== senderNonce + 1;
    component nonceRange = Num2Bits(32);
    nonceRange.in <== senderNewNonce;

    // The sender's leaf is a Poseidon hash, never the empty leaf 0: the sender exists.
    component senderOld = AccountLeaf();
    senderOld.ax <== senderAx;
    senderOld.ay <== senderAy;
    senderOld.balance <== senderBalance;
    senderOld.nonce <== senderNonce;
    component senderNew = AccountLeaf();
    senderNew.ax <== senderAx;
    senderNew.ay <== senderAy;
    senderNew.balance <== senderNewBalance;
    senderNew.nonce <== senderNewNonce;

    component senderUpdate = LeafUpdate(D);
    senderUpdate.enabled <== hasSender;
    senderUpdate.rootIn <== rootIn;
    senderUpdate.oldLeaf <== senderOld.out;
    senderUpdate.newLeaf <== senderNew.out;
    for (var k = 0; k < D; k++) {
        senderUpdate.indexBits[k] <== fromIdx.bits[k];
        senderUpdate.siblings[k] <== senderSiblings[k];
    }

    // --- InvalidSignature: the sender's key signed exactly this operation -----------------
    // transfer: Poseidon(2, chain_id, from, to_ax, to_ay, amount, fee, nonce)
    // withdraw: Poseidon(4, chain_id, from, spk0, spk1, amount, fee, nonce)
    signal msgX1 <== isAnyTransfer * receiverAx;
    signal msgX2 <== isWithdraw * recSpk0;
    signal msgY1 <== isAnyTransfer * receiverAy;
    signal msgY2 <== isWithdraw * recSpk1;
    component msg = Poseidon(8);
    msg.inputs[0] <== 2 * isAnyTransfer + 4 * isWithdraw;
    msg.inputs[1] <== chainId;
    msg.inputs[2] <== from;
    msg.inputs[3] <== msgX1 + msgX2;
    msg.inputs[4] <== msgY1 + msgY2;
    msg.inputs[5] <== transferAmount + withdrawAmount;
    msg.inputs[6] <== fee;
    msg.inputs[7] <== senderNonce;

    component sig = EdDSAPoseidonVerifier();
    sig.enabled <== hasSender;
    sig.Ax <== senderAx;
    sig.Ay <== senderAy;
    sig.S <== sigS;
    sig.R8x <== sigR8x;
    sig.R8y <== sigR8y;
    sig.M <== msg.out;

    // --- receiver: created iff empty, PubkeyMismatch, BalanceOverflow --------------------
    receiverEmpty * (receiverEmpty - 1) === 0;
    isTransferNew * (1 - receiverEmpty) === 0;   // TRANSFER_NEW creates an account
    isTransfer * receiverEmpty === 0;            // TRANSFER pays an existing one
    receiverEmpty * receiverBalance === 0;
    receiverEmpty * receiverNonce === 0;
    (isDeposit + isTransferNew) * (receiverAx - recAx) === 0;   // the published key
    (isDeposit + isTransferNew) * (receiverAy - recAy) === 0;

    signal receiverNewBalance <== receiverBalance + transferAmount + depositAmount;
    component receiverMax = LessThan(72);
    receiverMax.in[0] <== receiverNewBalance;
    receiverMax.in[1] <== MAX_SATS() + 1;
    receiverMax.out === 1;

    component receiverOld = AccountLeaf();
    receiverOld.ax <== receiverAx;
    receiverOld.ay <== receiverAy;
    receiverOld.balance <== receiverBalance;
    receiverOld.nonce <== receiverNonce;
    signal receiverOldLeaf <== (1 - receiverEmpty) * receiverOld.out;
    component receiverNew = AccountLeaf();
    receiverNew.ax <== receiverAx;
    receiverNew.ay <== receiverAy;
    receiverNew.balance <== receiverNewBalance;
    receiverNew.nonce <== receiverNonce;

    component receiverUpdate = LeafUpdate(D);
    receiverUpdate.enabled <== hasReceiver;
    receiverUpdate.rootIn <== senderUpdate.rootOut;
    receiverUpdate.oldLeaf <== receiverOldLeaf;
    receiverUpdate.newLeaf <== receiverNew.out;
    for (var k = 0; k < D; k++) {
        receiverUpdate.indexBits[k] <== toIdx.bits[k];
        receiverUpdate.siblings[k] <== receiverSiblings[k];
    }
    rootOut <== receiverUpdate.rootOut;

    // --- the chunk ------------------------------------------------------------------------
    component opBits = Num2Bits(3);
    opBits.in <== op;
    for (var i = 0; i < 3; i++) { chunkBits[i] <== opBits.out[2 - i]; }
    for (var i = 0; i < 5; i++) { chunkBits[3 + i] <== feeDec.bits[4 - i]; }
    for (var i = 0; i < 24; i++) {
        chunkBits[8 + i] <== fromIdx.bits24[23 - i];
        chunkBits[32 + i] <== toIdx.bits24[23 - i];
        chunkBits[56 + i] <== amountDec.bits[23 - i];
    }
}
