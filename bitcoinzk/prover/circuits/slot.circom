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

// op in {NOOP 0, DEPOSIT 1, TRANSFER 2, TRANSFER_NEW 3, WITHDRAW 4, FORCED_WITHDRAW 5,
// FORCED_REJECTED 6} as one-hot flags (the batch allows 5 and 6 in slot 0 only).
template OpFlags() {
    signal input op;
    signal output isDeposit;
    signal output isTransfer;
    signal output isTransferNew;
    signal output isWithdraw;
    signal output isForced;
    signal output isRejected;
    signal output hasRecord;

    component eq[7];
    var total = 0;
    for (var i = 0; i < 7; i++) {
        eq[i] = IsEqual();
        eq[i].in[0] <== op;
        eq[i].in[1] <== i;
        total += eq[i].out;
    }
    total === 1;
    isDeposit <== eq[1].out;
    isTransfer <== eq[2].out;
    isTransferNew <== eq[3].out;
    isWithdraw <== eq[4].out;
    isForced <== eq[5].out;
    isRejected <== eq[6].out;
    hasRecord <== eq[1].out + eq[3].out + eq[4].out + eq[5].out + eq[6].out;
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
    signal input ax[E];
    signal input ay[E];
    signal input spkHi[E];
    signal input spkLo[E];
    signal output outAx;
    signal output outAy;
    signal output outSpkHi;
    signal output outSpkLo;

    signal px[E];
    signal py[E];
    signal ph[E];
    signal pl[E];
    var x = 0;
    var y = 0;
    var hi = 0;
    var lo = 0;
    for (var j = 0; j < E; j++) {
        px[j] <== sel[j] * ax[j];
        py[j] <== sel[j] * ay[j];
        ph[j] <== sel[j] * spkHi[j];
        pl[j] <== sel[j] * spkLo[j];
        x += px[j];
        y += py[j];
        hi += ph[j];
        lo += pl[j];
    }
    outAx <== x;
    outAy <== y;
    outSpkHi <== hi;
    outSpkLo <== lo;
}

template Slot(D) {
    signal input rootIn;
    signal input chainId;
    // the op (flags from OpFlags) and its chunk's raw fields: op:3 | f:5 | a:24 | b:24 | c:24
    signal input op;
    signal input isDeposit;
    signal input isTransfer;
    signal input isTransferNew;
    signal input isWithdraw;
    signal input isForced;        // FORCED_WITHDRAW: executed exactly as a WITHDRAW
    signal input isRejected;      // FORCED_REJECTED: WITHDRAW layout, changes nothing
    signal input chunkF;
    signal input chunkA;
    signal input chunkB;
    signal input chunkC;
    // the record this slot consumed (RecordPick; zero if none)
    signal input recAx;
    signal input recAy;
    signal input recSpkHi;
    signal input recSpkLo;
    // sender leaf, path and signature
    signal input senderAx;
    signal input senderAy;
    signal input senderBalance;
    signal input senderNonce;
    signal input senderChildren[D \ 3][8];
    signal input sigR8x;
    signal input sigR8y;
    signal input sigS;
    // forced ops only (slot 0; zero elsewhere): the sender leaf is empty (a rejection), and
    // the request's nonce, which the signed message carries instead of the leaf's
    signal input senderEmpty;
    signal input forcedNonce;
    // receiver leaf (or empty) and path
    signal input receiverEmpty;
    signal input receiverAx;
    signal input receiverAy;
    signal input receiverBalance;
    signal input receiverNonce;
    signal input receiverChildren[D \ 3][8];

    signal output rootOut;
    signal output fee;
    signal output chunkBits[80];   // MSB first
    // for slot 0's ForcedRules: the request's amount and fee, the sender index outside the
    // tree, and the signed message
    signal output requestAmount;
    signal output requestFee;
    signal output outOfRange;
    signal output message;

    var isAnyTransfer = isTransfer + isTransferNew;
    var isWithdrawal = isWithdraw + isForced;        // debits the sender, paid on Bitcoin
    var isWShape = isWithdrawal + isRejected;        // WITHDRAW chunk, record and message
    var hasSender = isAnyTransfer + isWithdrawal;
    var hasReceiver = isDeposit + isAnyTransfer;
    var isNoop = 1 - isDeposit - isAnyTransfer - isWShape;

    // --- the chunk's fields, per op (docs/protocol.md, "Pubdata") -------------------------
    //   TRANSFER(_NEW)  f = fee (Float5), a = from, b = to, c = amount (Float24)
    //   DEPOSIT         f|a|c = amount:53, b = to
    //   WITHDRAW        f = fee (Float5), a = from, b|c = amount:48 (and both FORCED ops)
    //   NOOP            all zero
    component feeDec = Float5Decoder();          // range-checks f to 5 bits
    feeDec.in <== chunkF;
    feeDec.enabled <== hasSender + isRejected;
    fee <== hasSender * feeDec.value;
    requestFee <== isWShape * feeDec.value;

    component amountDec = Float24Decoder();      // range-checks c to 24 bits
    amountDec.in <== chunkC;
    amountDec.enabled <== isAnyTransfer;

    component fromIdx = AccountIndex(D);         // IndexOutOfRange; range-checks a
    fromIdx.in <== chunkA;
    fromIdx.isIndex <== hasSender;
    component toIdx = AccountIndex(D);           // range-checks b
    toIdx.in <== chunkB;
    toIdx.isIndex <== hasReceiver;
    // A rejected forced request may name an index outside the tree (a rule it breaks).
    var high = 0;
    for (var i = D; i < 24; i++) { high += fromIdx.bits24[i]; }
    component inTree = IsZero();
    inTree.in <== high;
    outOfRange <== 1 - inTree.out;

    isNoop * (chunkF + chunkA + chunkB + chunkC) === 0;   // each is range-checked: no wrap

    // SelfTransfer
    component selfTransfer = IsEqual();
    selfTransfer.in[0] <== chunkA;
    selfTransfer.in[1] <== chunkB;
    selfTransfer.out * isAnyTransfer === 0;

    // --- amounts: AmountOutOfRange ---------------------------------------------------------
    signal transferAmount <== isAnyTransfer * amountDec.value;
    signal depositAmount <== isDeposit * (chunkF * (1 << 48) + chunkA * (1 << 24) + chunkC);
    requestAmount <== isWShape * (chunkB * (1 << 24) + chunkC);
    signal rejectedAmount <== isRejected * requestAmount;
    var withdrawAmount = requestAmount - rejectedAmount;

    component transferMax = LessThan(72);        // value < 2^20 * 10^15 < 2^70
    transferMax.in[0] <== transferAmount;
    transferMax.in[1] <== MAX_SATS() + 1;
    transferMax.out === 1;
    component transferZero = IsZero();
    transferZero.in <== transferAmount;
    isAnyTransfer * transferZero.out === 0;

    component depositMax = LessThan(54);         // a deposit amount is 53 bits
    depositMax.in[0] <== depositAmount;
    depositMax.in[1] <== MAX_SATS() + 1;
    depositMax.out === 1;
    component depositZero = IsZero();
    depositZero.in <== depositAmount;
    isDeposit * depositZero.out === 0;
    component withdrawMin = LessThan(48);        // a withdrawal amount is 48 bits (< MAX_SATS)
    withdrawMin.in[0] <== requestAmount;
    withdrawMin.in[1] <== MIN_WITHDRAWAL();
    isWShape * withdrawMin.out === 0;

    // --- sender: InsufficientBalance, WrongNonce/NonceOverflow, UnknownAccount -----------
    signal senderNewBalance <== senderBalance - transferAmount - withdrawAmount - fee;
    component noUnderflow = Num2Bits(64);      // a negative result wraps to ~2^254
    noUnderflow.in <== senderNewBalance;
    signal senderNewNonce <== senderNonce + hasSender;
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

    // A rejected forced request reads the sender leaf (empty or not) and writes it back
    // unchanged, so its rules are checked against the state; outside the tree nothing is read.
    senderEmpty * (senderEmpty - 1) === 0;
    senderEmpty * (1 - isRejected) === 0;
    signal senderOldLeaf <== (1 - senderEmpty) * senderOld.out;
    signal senderWrite <== isRejected * (senderOldLeaf - senderNew.out);
    signal readsSender <== isRejected * (1 - outOfRange);
    component senderUpdate = LeafUpdate(D);
    senderUpdate.enabled <== hasSender + readsSender;
    senderUpdate.rootIn <== rootIn;
    senderUpdate.oldLeaf <== senderOldLeaf;
    senderUpdate.newLeaf <== senderNew.out + senderWrite;
    senderUpdate.indexBits <== fromIdx.bits;
    senderUpdate.children <== senderChildren;

    // --- InvalidSignature: the sender's key signed exactly this operation -----------------
    // transfer: Poseidon(2, chain_id, from, to_ax, to_ay, amount, fee, nonce)
    // withdraw: Poseidon(4, chain_id, from, spk_hi, spk_lo, amount, fee, nonce), also the
    // message of a forced request, whose nonce is the request's (equal to the leaf's when
    // executed: ForcedRules)
    signal msgX1 <== isAnyTransfer * receiverAx;
    signal msgX2 <== isWShape * recSpkHi;
    signal msgY1 <== isAnyTransfer * receiverAy;
    signal msgY2 <== isWShape * recSpkLo;
    signal msgNonce <== senderNonce + (isForced + isRejected) * (forcedNonce - senderNonce);
    component msg = Poseidon(8);
    msg.inputs[0] <== 2 * isAnyTransfer + 4 * isWShape;
    msg.inputs[1] <== chainId;
    msg.inputs[2] <== chunkA;
    msg.inputs[3] <== msgX1 + msgX2;
    msg.inputs[4] <== msgY1 + msgY2;
    msg.inputs[5] <== transferAmount + requestAmount;
    msg.inputs[6] <== requestFee + isAnyTransfer * feeDec.value;
    msg.inputs[7] <== msgNonce;
    message <== msg.out;

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
    receiverUpdate.indexBits <== toIdx.bits;
    receiverUpdate.children <== receiverChildren;
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
