pragma circom 2.1.0;

// The exodus exit (docs/protocol.md, "Exodus"): leaf `account` of the tree with root `root`
// holds `balance`, and the account's key signed the exit of `account` to the script
// (spkHi, spkLo) on chain `chainId`. Built from the batch circuit's own templates (the
// leaf hash and the one-hot position of merkle.circom) and circomlib's EdDSA-Poseidon
// verifier, so the tree and signature rules are the ones the batch circuit enforces.

include "bitify.circom";
include "poseidon.circom";
include "eddsaposeidon.circom";
include "merkle.circom";

// The exit message's tag: distinct from every operation code the L2 signs (2 transfer,
// 4 withdraw), and Poseidon(5) is a different permutation from the ops' Poseidon(8).
function EXIT_TAG() { return 5; }

// The root of the path from `leaf` at `indexBits` (read only, unlike LeafUpdate).
template MerkleRoot(D) {
    assert(D % 3 == 0);
    var L = D \ 3;
    signal input leaf;
    signal input indexBits[D];       // LSB first, already constrained to be bits
    signal input children[L][8];     // per level, the parent's children (own slot ignored)
    signal output root;

    component pos[L];
    component hash[L];
    signal child[L][8];
    signal node[L + 1];
    node[0] <== leaf;
    for (var k = 0; k < L; k++) {
        pos[k] = OneHot8();
        for (var b = 0; b < 3; b++) { pos[k].bits[b] <== indexBits[3 * k + b]; }
        hash[k] = Poseidon(8);
        for (var i = 0; i < 8; i++) {
            child[k][i] <== children[k][i] + pos[k].h[i] * (node[k] - children[k][i]);
            hash[k].inputs[i] <== child[k][i];
        }
        node[k + 1] <== hash[k].out;
    }
    root <== node[L];
}

template ExitCircuit(D) {
    // public: what the contract supplies (its state root and chain id) and claims
    signal input root;
    signal input chainId;
    signal input account;
    signal input balance;
    signal input spkHi;
    signal input spkLo;
    // private: the rest of the leaf, its path, the signature
    signal input ax;
    signal input ay;
    signal input nonce;
    signal input children[D \ 3][8];
    signal input sigR8x;
    signal input sigR8y;
    signal input sigS;

    // account < 2^D: its bits are the path
    component index = Num2Bits(D);
    index.in <== account;

    // The leaf is a Poseidon hash, never the empty leaf 0: the account exists.
    component leaf = AccountLeaf();
    leaf.ax <== ax;
    leaf.ay <== ay;
    leaf.balance <== balance;
    leaf.nonce <== nonce;

    component path = MerkleRoot(D);
    path.leaf <== leaf.out;
    path.indexBits <== index.out;
    path.children <== children;
    path.root === root;

    // M = Poseidon(5, chain_id, account, spk_hi, spk_lo), signed by the leaf's key
    component msg = Poseidon(5);
    msg.inputs[0] <== EXIT_TAG();
    msg.inputs[1] <== chainId;
    msg.inputs[2] <== account;
    msg.inputs[3] <== spkHi;
    msg.inputs[4] <== spkLo;

    component sig = EdDSAPoseidonVerifier();
    sig.enabled <== 1;
    sig.Ax <== ax;
    sig.Ay <== ay;
    sig.S <== sigS;
    sig.R8x <== sigR8x;
    sig.R8y <== sigR8y;
    sig.M <== msg.out;
}
