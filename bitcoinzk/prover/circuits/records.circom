pragma circom 2.1.0;

// Pubdata records (docs/protocol.md, "Pubdata"): 35 bytes = 280 bits, bytes in order, each
// byte's most significant bit first (as SHA-256 reads them).
//   DEPOSIT, TRANSFER_NEW  key:32 (circomlib packPoint: y little-endian, bit 7 of byte 31 =
//                          "x > (r-1)/2") zeros:3
//   WITHDRAW               len:1 script_pubkey:len zeros, 1 <= len <= 34

include "bitify.circom";
include "comparators.circom";
include "compconstant.circom";

function RECORD_BYTES() { return 35; }
function MAX_SCRIPT() { return 34; }

// A packed BabyJubJub point: the (x, y) it names, when `enabled`. y must be canonical
// (< r), (x, y) on the curve, and x on the side of (r-1)/2 that the sign bit says, so
// one packed key names one point and the witness cannot pick the other root.
template UnpackPoint() {
    signal input enabled;
    signal input bits[256];   // 32 bytes, MSB first within each byte, already bits
    signal input x;           // witness: the x the packing stands for
    signal output ox;
    signal output oy;

    // y's bit i (LSB first) is bit (i % 8) of byte i / 8: bits[8 * (i \ 8) + 7 - i % 8].
    var y = 0;
    for (var i = 0; i < 255; i++) { y += bits[8 * (i \ 8) + 7 - i % 8] * (1 << i); }
    signal sign <== bits[248];   // bit 7 of byte 31

    // y < r: bit 254 is zero and the low 254 bits are below r.
    enabled * bits[249] === 0;
    component yCanon = CompConstant(-1);   // out = 1 iff the 254 bits are >= r
    for (var i = 0; i < 254; i++) { yCanon.in[i] <== bits[8 * (i \ 8) + 7 - i % 8]; }
    yCanon.out * enabled === 0;

    // On the curve: a x^2 + y^2 = 1 + d x^2 y^2 (a = 168700, d = 168696).
    signal x2 <== x * x;
    signal y2 <== y * y;
    signal x2y2 <== x2 * y2;
    (168700 * x2 + y2 - 1 - 168696 * x2y2) * enabled === 0;

    // The sign: x > (r-1)/2, from x's unique (strict) bits.
    component xBits = Num2Bits_strict();
    xBits.in <== x;
    component high = CompConstant(10944121435919637611123202872628637544274182200208017171849102093287904247808);
    for (var i = 0; i < 254; i++) { high.in[i] <== xBits.out[i]; }
    (high.out - sign) * enabled === 0;

    ox <== enabled * x;
    oy <== enabled * y;
}

// What the record must look like given the op of the slot that consumed it (0 = unused):
// every bit a bit, every byte outside the op's layout zero (unused records all zero), a
// canonical key on the curve, a withdrawal's script 1..34 bytes followed by zeros.
// Outputs the key (DEPOSIT, TRANSFER_NEW) and the two field elements a withdrawal signs.
template RecordCheck() {
    signal input bits[280];
    signal input recOp;     // 0, 1 (DEPOSIT), 3 (TRANSFER_NEW), 4 (WITHDRAW) or 5, 6 (FORCED)
    signal input x;         // witness for a key record's x
    signal output ax;
    signal output ay;
    signal output spkHi;    // bytes 0..17 (len and the script's first 16 bytes)
    signal output spkLo;    // bytes 17..35

    for (var i = 0; i < 280; i++) { bits[i] * (bits[i] - 1) === 0; }
    var byte[35];
    for (var p = 0; p < 35; p++) {
        byte[p] = 0;
        for (var b = 0; b < 8; b++) { byte[p] += bits[8 * p + b] * (1 << (7 - b)); }
    }

    component isDep = IsEqual();
    isDep.in[0] <== recOp;
    isDep.in[1] <== 1;
    component isNew = IsEqual();
    isNew.in[0] <== recOp;
    isNew.in[1] <== 3;
    component isW4 = IsEqual();
    isW4.in[0] <== recOp;
    isW4.in[1] <== 4;
    component isW5 = IsEqual();
    isW5.in[0] <== recOp;
    isW5.in[1] <== 5;
    component isW6 = IsEqual();
    isW6.in[0] <== recOp;
    isW6.in[1] <== 6;
    signal isKey <== isDep.out + isNew.out;
    signal isScript <== isW4.out + isW5.out + isW6.out;   // a withdrawal's destination

    // A byte is zero unless its op's layout uses it (a byte is zero iff its bits are).
    for (var p = 0; p < 35; p++) {
        var allowed = isScript;
        if (p < 32) { allowed += isKey; }
        byte[p] * (1 - allowed) === 0;
    }

    component key = UnpackPoint();
    key.enabled <== isKey;
    for (var i = 0; i < 256; i++) { key.bits[i] <== bits[i]; }
    key.x <== x;
    ax <== key.ox;
    ay <== key.oy;

    // Withdrawal script: len = byte 0 in 1..34; bytes after the script are zero.
    component isLen[MAX_SCRIPT() + 1];
    var inRange = 0;
    for (var l = 0; l <= MAX_SCRIPT(); l++) {
        isLen[l] = IsEqual();
        isLen[l].in[0] <== byte[0];
        isLen[l].in[1] <== l;
        if (l > 0) { inRange += isLen[l].out; }
    }
    isScript * (1 - inRange) === 0;
    signal padW[MAX_SCRIPT() + 1];
    padW[0] <== 0;
    var pad = 0;   // pad = 1 iff len < p: byte p comes after the script
    for (var p = 1; p <= MAX_SCRIPT(); p++) {
        pad += isLen[p - 1].out;
        padW[p] <== isScript * pad;
        byte[p] * padW[p] === 0;
    }

    var hi = 0;
    for (var p = 0; p < 17; p++) { hi = hi * 256 + byte[p]; }
    var lo = 0;
    for (var p = 17; p < 35; p++) { lo = lo * 256 + byte[p]; }
    spkHi <== hi;
    spkLo <== lo;
}
