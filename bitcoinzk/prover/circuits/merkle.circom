pragma circom 2.1.0;

// The account tree (docs/protocol.md, "Accounts and the state tree"): binary, node =
// Poseidon(left, right), index bits LSB first (bit k = 1: the node at level k is a right child).

include "bitify.circom";
include "poseidon.circom";
include "switcher.circom";

// Root of the tree holding `leaf` at the index whose bits are `indexBits` (LSB first,
// already constrained to be bits), given the siblings from the leaf level upwards.
template MerkleRoot(D) {
    signal input leaf;
    signal input indexBits[D];
    signal input siblings[D];
    signal output root;

    component sw[D];
    component h[D];
    signal node[D + 1];
    node[0] <== leaf;
    for (var k = 0; k < D; k++) {
        sw[k] = Switcher();
        sw[k].sel <== indexBits[k];
        sw[k].L <== node[k];
        sw[k].R <== siblings[k];
        h[k] = Poseidon(2);
        h[k].inputs[0] <== sw[k].outL;
        h[k].inputs[1] <== sw[k].outR;
        node[k + 1] <== h[k].out;
    }
    root <== node[D];
}

// One leaf write: `oldLeaf` on the path must give `rootIn`; `newLeaf` on the same path gives
// `rootOut`. Disabled, it changes nothing (rootOut = rootIn) and its inputs are free.
template LeafUpdate(D) {
    signal input enabled;   // boolean, constrained by the caller
    signal input rootIn;
    signal input oldLeaf;
    signal input newLeaf;
    signal input indexBits[D];
    signal input siblings[D];
    signal output rootOut;

    component oldRoot = MerkleRoot(D);
    component newRoot = MerkleRoot(D);
    oldRoot.leaf <== oldLeaf;
    newRoot.leaf <== newLeaf;
    for (var k = 0; k < D; k++) {
        oldRoot.indexBits[k] <== indexBits[k];
        oldRoot.siblings[k] <== siblings[k];
        newRoot.indexBits[k] <== indexBits[k];
        newRoot.siblings[k] <== siblings[k];
    }
    (oldRoot.root - rootIn) * enabled === 0;
    rootOut <== rootIn + enabled * (newRoot.root - rootIn);
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

// An account index as it appears in a chunk (24 bits) that must lie inside a depth-D tree.
// `bits` are the D path bits, LSB first; `bits24` all 24, LSB first (for pubdata).
template AccountIndex(D) {
    signal input in;
    signal output bits[D];
    signal output bits24[24];

    component n2b = Num2Bits(24);
    n2b.in <== in;
    for (var i = 0; i < 24; i++) { bits24[i] <== n2b.out[i]; }
    for (var i = 0; i < D; i++) { bits[i] <== n2b.out[i]; }
    for (var i = D; i < 24; i++) { n2b.out[i] === 0; }
}
