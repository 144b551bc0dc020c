pragma circom 2.1.0;

// The account tree (docs/protocol.md, "Accounts and the state tree"): 8-ary, node =
// Poseidon(child_0, ..., child_7); at level k the path's position among its parent's
// children is index bits 3k..3k+2 (LSB first). An 8-ary level costs one Poseidon(8)
// (402 constraints) where three binary levels cost three Poseidon(2) (720).

include "bitify.circom";
include "poseidon.circom";

// The one-hot form of a 3-bit position: h[p] = 1, every other h[i] = 0.
template OneHot8() {
    signal input bits[3];   // LSB first, already constrained to be bits
    signal output h[8];

    signal b01 <== bits[0] * bits[1];
    var q[4];
    q[0] = 1 - bits[0] - bits[1] + b01;
    q[1] = bits[0] - b01;
    q[2] = bits[1] - b01;
    q[3] = b01;
    for (var i = 0; i < 4; i++) {
        h[4 + i] <== q[i] * bits[2];
        h[i] <== q[i] - h[4 + i];
    }
}

// One level of a leaf write: the parent of `oldNode` and of `newNode` at the same position.
// `children` are the parent's 8 children from the witness; the one at the path's position
// is replaced by the node being written, so its witness value is never read.
template LevelUpdate() {
    signal input h[8];
    signal input oldNode;
    signal input newNode;
    signal input children[8];
    signal output oldParent;
    signal output newParent;

    component oldHash = Poseidon(8);
    component newHash = Poseidon(8);
    signal oldChild[8];
    signal newChild[8];
    for (var i = 0; i < 8; i++) {
        oldChild[i] <== children[i] + h[i] * (oldNode - children[i]);
        newChild[i] <== children[i] + h[i] * (newNode - children[i]);
        oldHash.inputs[i] <== oldChild[i];
        newHash.inputs[i] <== newChild[i];
    }
    oldParent <== oldHash.out;
    newParent <== newHash.out;
}

// One leaf write in a tree of L = D/3 levels: `oldLeaf` on the path must give `rootIn`;
// `newLeaf` on the same path gives `rootOut`. Disabled, it changes nothing
// (rootOut = rootIn) and its inputs are free.
template LeafUpdate(D) {
    assert(D % 3 == 0);
    var L = D \ 3;
    signal input enabled;   // boolean, constrained by the caller
    signal input rootIn;
    signal input oldLeaf;
    signal input newLeaf;
    signal input indexBits[D];       // LSB first, already constrained to be bits
    signal input children[L][8];     // per level, the parent's children (own slot ignored)
    signal output rootOut;

    component pos[L];
    component level[L];
    for (var k = 0; k < L; k++) {
        pos[k] = OneHot8();
        for (var b = 0; b < 3; b++) { pos[k].bits[b] <== indexBits[3 * k + b]; }
        level[k] = LevelUpdate();
        level[k].h <== pos[k].h;
        level[k].children <== children[k];
        if (k == 0) {
            level[k].oldNode <== oldLeaf;
            level[k].newNode <== newLeaf;
        } else {
            level[k].oldNode <== level[k - 1].oldParent;
            level[k].newNode <== level[k - 1].newParent;
        }
    }
    (level[L - 1].oldParent - rootIn) * enabled === 0;
    rootOut <== rootIn + enabled * (level[L - 1].newParent - rootIn);
}

// leaf = Poseidon(ax, ay, balance, nonce)
template AccountLeaf() {
    signal input ax;
    signal input ay;
    signal input balance;
    signal input nonce;
    signal output out;

    component h = Poseidon(4);
    h.inputs[0] <== ax;
    h.inputs[1] <== ay;
    h.inputs[2] <== balance;
    h.inputs[3] <== nonce;
    out <== h.out;
}

// A 24-bit chunk field, and the D path bits it names when `isIndex` (bits D..23 must then
// be zero: IndexOutOfRange). When the field carries something else (an amount's bits), the
// path bits are unused: the update reading them is disabled.
template AccountIndex(D) {
    signal input in;
    signal input isIndex;
    signal output bits[D];     // LSB first
    signal output bits24[24];  // LSB first (for pubdata)

    component n2b = Num2Bits(24);
    n2b.in <== in;
    for (var i = 0; i < 24; i++) { bits24[i] <== n2b.out[i]; }
    for (var i = 0; i < D; i++) { bits[i] <== n2b.out[i]; }
    for (var i = D; i < 24; i++) { n2b.out[i] * isIndex === 0; }
}
