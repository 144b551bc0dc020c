pragma circom 2.1.0;

// Decimal floats of the pubdata chunk (docs/protocol.md, "Pubdata"):
// value = m * 10^e. Each decoder also enforces the canonical encoding the STF's
// encoder produces (the smallest exponent), so one value has one chunk.

include "bitify.circom";
include "comparators.circom";

// Float24: e = top 4 bits, m = low 20 bits. Canonical: e > 0 only if 10*m >= 2^20
// (otherwise e-1 with mantissa 10*m would also fit).
template Float24Decoder() {
    signal input in;
    signal input enabled;     // the canonical rule applies only where the field is a Float24
    signal output value;
    signal output bits[24];   // LSB first

    component n2b = Num2Bits(24);
    n2b.in <== in;
    for (var i = 0; i < 24; i++) { bits[i] <== n2b.out[i]; }

    var m = 0;
    for (var i = 0; i < 20; i++) { m += n2b.out[i] * (1 << i); }

    // 10^e = prod over exponent bits of (1 + b_i * (10^(2^i) - 1))
    signal p1 <== (1 + n2b.out[20] * 9) * (1 + n2b.out[21] * 99);
    signal p2 <== p1 * (1 + n2b.out[22] * 9999);
    signal pow10 <== p2 * (1 + n2b.out[23] * 99999999);
    value <== m * pow10;

    component eIsZero = IsZero();
    eIsZero.in <== n2b.out[20] + n2b.out[21] + n2b.out[22] + n2b.out[23];
    component small = LessThan(20);
    small.in[0] <== m;
    small.in[1] <== 104858;   // ceil(2^20 / 10)
    signal nonCanonical <== (1 - eIsZero.out) * small.out;
    nonCanonical * enabled === 0;
}

// Float5: e = top 2 bits, m = low 3 bits (fees 0..7000). Canonical: e > 0 only if m > 0.
template Float5Decoder() {
    signal input in;
    signal input enabled;     // the canonical rule applies only where the field is a Float5
    signal output value;
    signal output bits[5];    // LSB first

    component n2b = Num2Bits(5);
    n2b.in <== in;
    for (var i = 0; i < 5; i++) { bits[i] <== n2b.out[i]; }

    var m = n2b.out[0] + 2 * n2b.out[1] + 4 * n2b.out[2];
    signal pow10 <== (1 + n2b.out[3] * 9) * (1 + n2b.out[4] * 99);
    value <== m * pow10;

    component mIsZero = IsZero();
    mIsZero.in <== m;
    signal nonCanonical <== (n2b.out[3] + n2b.out[4]) * mIsZero.out;
    nonCanonical * enabled === 0;
}
