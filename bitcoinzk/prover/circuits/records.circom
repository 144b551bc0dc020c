pragma circom 2.1.0;

// Pubdata records (docs/protocol.md, "Pubdata"): 108 bytes = 864 bits, most significant first.
//   DEPOSIT       amount:u64 ax:32 ay:32 txid:32 vout:u32
//   TRANSFER_NEW  ax:32 ay:32, zero-padded
//   WITHDRAW      amount:u64 spk43 (len:1 script:len zeros), zero-padded

include "bitify.circom";
include "comparators.circom";
include "compconstant.circom";

// A 256-bit big-endian field that must hold a canonical field element (< r) when enabled.
template CanonicalField() {
    signal input enabled;
    signal input bits[256];   // MSB first, already constrained to be bits
    signal output out;

    var acc = 0;
    for (var i = 0; i < 256; i++) { acc += bits[i] * (1 << (255 - i)); }
    out <== acc;

    enabled * (bits[0] + bits[1]) === 0;
    component lt = CompConstant(-1);   // out = 1 iff the low 254 bits are >= r
    for (var k = 0; k < 254; k++) { lt.in[k] <== bits[255 - k]; }
    lt.out * enabled === 0;
}

// The views of one record's bits that the slots read. Constrains every bit to be a bit.
template RecordViews() {
    signal input bits[864];
    signal output amount;   // bytes 0..8 (DEPOSIT, WITHDRAW)
    signal output spk0;     // bytes 8..30 (WITHDRAW: spk43[0:22])
    signal output spk1;     // bytes 30..51 (WITHDRAW: spk43[22:43])

    for (var i = 0; i < 864; i++) { bits[i] * (bits[i] - 1) === 0; }

    var a = 0;
    for (var i = 0; i < 64; i++) { a += bits[i] * (1 << (63 - i)); }
    amount <== a;
    var s0 = 0;
    for (var i = 64; i < 240; i++) { s0 += bits[i] * (1 << (239 - i)); }
    spk0 <== s0;
    var s1 = 0;
    for (var i = 240; i < 408; i++) { s1 += bits[i] * (1 << (407 - i)); }
    spk1 <== s1;
}

// What the record must look like given the op of the slot that consumed it (0 = unused):
// unused records and every padding byte are zero, keys are canonical field elements, and a
// withdrawal's script is 1..42 bytes followed by zeros. Outputs the record's public key.
template RecordCheck() {
    signal input bits[864];
    signal input recOp;     // 0, 1 (DEPOSIT), 3 (TRANSFER_NEW) or 4 (WITHDRAW)
    signal output ax;
    signal output ay;

    component isDep = IsEqual();
    isDep.in[0] <== recOp;
    isDep.in[1] <== 1;
    component isNew = IsEqual();
    isNew.in[0] <== recOp;
    isNew.in[1] <== 3;
    component isW = IsEqual();
    isW.in[0] <== recOp;
    isW.in[1] <== 4;

    // Bits outside the layout of the record's op must be zero.
    for (var i = 0; i < 864; i++) {
        var allowed = isDep.out;
        if (i < 512) { allowed += isNew.out; }
        if (i < 408) { allowed += isW.out; }
        bits[i] * (1 - allowed) === 0;
    }

    // Keys: bits 64..576 for a deposit, 0..512 for a new account.
    component depX = CanonicalField();
    component depY = CanonicalField();
    component newX = CanonicalField();
    component newY = CanonicalField();
    depX.enabled <== isDep.out;
    depY.enabled <== isDep.out;
    newX.enabled <== isNew.out;
    newY.enabled <== isNew.out;
    for (var i = 0; i < 256; i++) {
        depX.bits[i] <== bits[64 + i];
        depY.bits[i] <== bits[320 + i];
        newX.bits[i] <== bits[i];
        newY.bits[i] <== bits[256 + i];
    }
    signal dx <== isDep.out * depX.out;
    signal dy <== isDep.out * depY.out;
    signal nx <== isNew.out * newX.out;
    signal ny <== isNew.out * newY.out;
    ax <== dx + nx;
    ay <== dy + ny;

    // Withdrawal script: len = byte 8 in 1..42, bytes after the script are zero.
    var len = 0;
    for (var i = 0; i < 8; i++) { len += bits[64 + i] * (1 << (7 - i)); }
    component isLen[43];
    var inRange = 0;
    for (var l = 0; l <= 42; l++) {
        isLen[l] = IsEqual();
        isLen[l].in[0] <== len;
        isLen[l].in[1] <== l;
        if (l > 0) { inRange += isLen[l].out; }
    }
    isW.out * (1 - inRange) === 0;
    signal padW[43];
    padW[0] <== 0;
    var pad = 0;   // pad = 1 iff len < p, i.e. spk43 byte p is padding
    for (var p = 1; p <= 42; p++) {
        pad += isLen[p - 1].out;
        padW[p] <== isW.out * pad;
        var byte = 0;
        for (var b = 0; b < 8; b++) { byte += bits[(8 + p) * 8 + b] * (1 << (7 - b)); }
        byte * padW[p] === 0;
    }
}
