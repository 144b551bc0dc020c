pragma circom 2.1.0;

// A forced withdrawal from the Rollup contract's queue, processed in slot 0
// (docs/protocol.md, "Forced withdrawals"). The slot itself executes FORCED_WITHDRAW
// exactly as a WITHDRAW; this adds, for slot 0 only, what a rejection must prove and the
// request's digest, which the contract binds into the public input from its own storage.

include "bitify.circom";
include "comparators.circom";
include "compconstant.circom";
include "poseidon.circom";
include "babyjub.circom";
include "escalarmulany.circom";
include "escalarmulfix.circom";
include "mimc.circom";

function MAX_NONCE() { return 4294967295; }

// circomlib's EdDSAPoseidonVerifier as a predicate: valid = 1 iff S < l, 8A is not the
// identity and S*B8 == R8 + 8*H(R8, A, M)*A (bitcoinzk.crypto.eddsa.verify, for R8 on
// the curve and S < 2^253, which the contract checks when it queues a request).
template EdDSAPoseidonValid() {
    signal input Ax;
    signal input Ay;
    signal input S;
    signal input R8x;
    signal input R8y;
    signal input M;
    signal output valid;

    component sBits = Num2Bits(253);
    sBits.in <== S;
    component sBig = CompConstant(2736030358979909402780800718157159386076813972158567259200215660948447373040);
    for (var i = 0; i < 253; i++) { sBig.in[i] <== sBits.out[i]; }
    sBig.in[253] <== 0;

    component hash = Poseidon(5);
    hash.inputs[0] <== R8x;
    hash.inputs[1] <== R8y;
    hash.inputs[2] <== Ax;
    hash.inputs[3] <== Ay;
    hash.inputs[4] <== M;
    component hBits = Num2Bits_strict();
    hBits.in <== hash.out;

    component dbl1 = BabyDbl();
    dbl1.x <== Ax;
    dbl1.y <== Ay;
    component dbl2 = BabyDbl();
    dbl2.x <== dbl1.xout;
    dbl2.y <== dbl1.yout;
    component dbl3 = BabyDbl();
    dbl3.x <== dbl2.xout;
    dbl3.y <== dbl2.yout;
    component aZero = IsZero();
    aZero.in <== dbl3.x;

    component mulAny = EscalarMulAny(254);
    for (var i = 0; i < 254; i++) { mulAny.e[i] <== hBits.out[i]; }
    mulAny.p[0] <== dbl3.xout;
    mulAny.p[1] <== dbl3.yout;
    component right = BabyAdd();
    right.x1 <== R8x;
    right.y1 <== R8y;
    right.x2 <== mulAny.out[0];
    right.y2 <== mulAny.out[1];

    var BASE8[2] = [
        5299619240641551281634865583518297030282874472190772894086521144482721001553,
        16950150798460657717958625567821834550301663161624707787222815936182638968203
    ];
    component left = EscalarMulFix(253, BASE8);
    for (var i = 0; i < 253; i++) { left.e[i] <== sBits.out[i]; }

    component eqX = IsEqual();
    eqX.in[0] <== left.out[0];
    eqX.in[1] <== right.xout;
    component eqY = IsEqual();
    eqY.in[0] <== left.out[1];
    eqY.in[1] <== right.yout;
    signal eq <== eqX.out * eqY.out;
    signal wellFormed <== (1 - sBig.out) * (1 - aZero.out);
    valid <== eq * wellFormed;
}

// Slot 0's forced-withdrawal rules. FORCED_WITHDRAW (isForced) is executed by the slot as a
// WITHDRAW whose nonce is the request's; FORCED_REJECTED (isRejected) changes nothing and
// must break at least one withdrawal rule at the state the slot read: sender index outside
// the tree, sender leaf empty, nonce mismatch, nonce exhausted, amount + fee above the
// balance, or a signature that does not verify for the sender's key. Outputs the request's
// digest, MultiMiMC7(meta, spk_hi, spk_lo, R8x, R8y, S) cut to 128 bits, 0 if neither op.
template ForcedRules() {
    signal input isForced;
    signal input isRejected;
    signal input outOfRange;      // the slot's: sender index has bits above the tree depth
    signal input senderEmpty;     // the slot's: the sender leaf it read is empty
    signal input senderAx;
    signal input senderAy;
    signal input senderBalance;
    signal input senderNonce;
    signal input forcedNonce;     // the request's nonce (the slot signs with it)
    signal input from;            // chunk field a (24 bits, range-checked by the slot)
    signal input amount;          // the request's amount (48 bits, range-checked by the slot)
    signal input fee;             // the request's fee, decoded (<= 7000)
    signal input spkHi;
    signal input spkLo;
    signal input r8x;
    signal input r8y;
    signal input s;
    signal input message;         // the slot's signed message (the WITHDRAW message)
    signal output digest;

    // the request's nonce is 32-bit, so meta below is one-to-one
    component nonceBits = Num2Bits(32);
    nonceBits.in <== forcedNonce;
    isForced * (forcedNonce - senderNonce) === 0;

    component sig = EdDSAPoseidonValid();
    sig.Ax <== senderAx;
    sig.Ay <== senderAy;
    sig.S <== s;
    sig.R8x <== r8x;
    sig.R8y <== r8y;
    sig.M <== message;

    component nonceOk = IsEqual();
    nonceOk.in[0] <== forcedNonce;
    nonceOk.in[1] <== senderNonce;
    component exhausted = IsEqual();
    exhausted.in[0] <== senderNonce;
    exhausted.in[1] <== MAX_NONCE();
    component short = LessThan(64);     // balances <= MAX_SATS < 2^51; amount + fee < 2^49
    short.in[0] <== senderBalance;
    short.in[1] <== amount + fee;

    component noRuleBroken = IsZero();
    noRuleBroken.in <== outOfRange + senderEmpty + (1 - nonceOk.out) + exhausted.out
        + short.out + (1 - sig.valid);
    isRejected * noRuleBroken.out === 0;

    component h = MultiMiMC7(6, 91);
    h.in[0] <== from + amount * (1 << 24) + fee * (1 << 72) + forcedNonce * (1 << 85);
    h.in[1] <== spkHi;
    h.in[2] <== spkLo;
    h.in[3] <== r8x;
    h.in[4] <== r8y;
    h.in[5] <== s;
    h.k <== 0;
    component hBits = Num2Bits_strict();
    hBits.in <== h.out;
    var low = 0;
    for (var i = 0; i < 128; i++) { low += hBits.out[i] * (1 << i); }
    digest <== (isForced + isRejected) * low;
}
