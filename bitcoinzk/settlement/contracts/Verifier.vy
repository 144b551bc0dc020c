# bitcoinzk: generated from verifying key sha256=44a7a622de04b73620862fc04e91879a14df4ee5641bfc63ac22d4db9722c67f circuit=B2-E1-D6-6f854664115dc4e9
# pragma version ~=0.4.0
# @license MIT
#
# Verifier — BN254 Groth16 verifier, canonical `(a, b, c, input)` ABI:
#     verifyProof(a: uint256[2], b: uint256[2][2], c: uint256[2], input: uint256[N]) -> bool
#
# Vyper port of the OKIMS/snarkjs verifier, emitted by groth16py (`src/vyper.rs`) — a template
# substitution, GENERAL over any BN254 Groth16 VK (nPublic and the VK constants are injected).
# Targets Vyper 0.4.x. G1 add/mul use the `ecadd`/`ecmul` builtins (alt_bn128 precompiles 6/7);
# the pairing check calls precompile 8 via `raw_call`.
#
# NOTE: G2 coordinates are stored in (c1, c0) word order — the Fp2 swap the pairing precompile
# (EIP-197) expects — matching snarkjs `exportSolidityCallData` and the Ethereum `bytes` layout,
# so a proof works verbatim across the Solidity and Vyper emitters and both ABI styles.

SNARK_SCALAR_FIELD: constant(uint256) = 21888242871839275222246405745257275088548364400416034343698204186575808495617
PRIME_Q: constant(uint256) = 21888242871839275222246405745257275088696311157297823662689037894645226208583

N_PUBLIC: constant(uint256) = 1

ALFA1: constant(uint256[2]) = [4669481000420766178537080059708902794298988099169977373423238009089616291091, 14398663764186528302265360561474913317754423120102557052739624963754533192382]
BETA2: constant(uint256[2][2]) = [[7118235598963296230952866769137902486536169221574909605537183627269393275724, 14207388735271640078498801468680325757269264058994513450542967009439253337019], [21797040087967595198971873426965269442909332880318029771801507981474521825904, 3155141074301174461803181517607476560332866256119036297757392283562261598623]]
GAMMA2: constant(uint256[2][2]) = [[5758575650574820142637543278608124860145414972145395383460851100815735973817, 10046641900861383533626107738942833517306163854943864671542520323357451612699], [10823070933215887090197611501060942317516457563993010564120051356434120472280, 742457084934777374126973211878628931909698219055346372822923383781622584494]]
DELTA2: constant(uint256[2][2]) = [[15605673970905114616544835677630663002599479628198773691202488681389940368246, 5230463833643708024531948141407073232268550842067586193625133154785584312772], [1094675485204134115555314284815879056812700915397104146086197085944476241610, 11820048678272045497706972230011519744216968522179525930921837727012597529306]]
IC: constant(uint256[2][2]) = [
    [7842080446775089199308189790429332053654260847996303184403072400517226316834, 1506219631189109964706168916304019024484130109193151391425347342226365507027],
    [9493616422480438375281705893310362897480236574940006280122421155103854761514, 266432148518278985257460538079107119722443994851434371222556953251122546487],
]

@internal
@pure
def _negate(p: uint256[2]) -> uint256[2]:
    if p[0] == 0 and p[1] == 0:
        return [0, 0]
    return [p[0], PRIME_Q - (p[1] % PRIME_Q)]

# e(a1, a2) * e(b1, b2) * e(c1, c2) * e(d1, d2) == 1, via the alt_bn128 pairing precompile (8).
@internal
@view
def _pairing(
    a1: uint256[2], a2: uint256[2][2],
    b1: uint256[2], b2: uint256[2][2],
    c1: uint256[2], c2: uint256[2][2],
    d1: uint256[2], d2: uint256[2][2],
) -> bool:
    input_data: Bytes[768] = concat(
        convert(a1[0], bytes32), convert(a1[1], bytes32),
        convert(a2[0][0], bytes32), convert(a2[0][1], bytes32), convert(a2[1][0], bytes32), convert(a2[1][1], bytes32),
        convert(b1[0], bytes32), convert(b1[1], bytes32),
        convert(b2[0][0], bytes32), convert(b2[0][1], bytes32), convert(b2[1][0], bytes32), convert(b2[1][1], bytes32),
        convert(c1[0], bytes32), convert(c1[1], bytes32),
        convert(c2[0][0], bytes32), convert(c2[0][1], bytes32), convert(c2[1][0], bytes32), convert(c2[1][1], bytes32),
        convert(d1[0], bytes32), convert(d1[1], bytes32),
        convert(d2[0][0], bytes32), convert(d2[0][1], bytes32), convert(d2[1][0], bytes32), convert(d2[1][1], bytes32),
    )
    result: Bytes[32] = raw_call(
        0x0000000000000000000000000000000000000008,
        input_data,
        max_outsize=32,
        is_static_call=True,
    )
    return extract32(result, 0, output_type=uint256) != 0

@external
@view
def verifyProof(a: uint256[2], b: uint256[2][2], c: uint256[2], input: uint256[N_PUBLIC]) -> bool:
    assert a[0] < PRIME_Q and a[1] < PRIME_Q, "verifier-aX-gte-prime-q"
    assert c[0] < PRIME_Q and c[1] < PRIME_Q, "verifier-cX-gte-prime-q"
    assert b[0][0] < PRIME_Q and b[0][1] < PRIME_Q and b[1][0] < PRIME_Q and b[1][1] < PRIME_Q, "verifier-bX-gte-prime-q"

    # vk_x = IC[0] + sum(input[i] * IC[i + 1])
    vk_x: uint256[2] = IC[0]
    for i: uint256 in range(N_PUBLIC):
        assert input[i] < SNARK_SCALAR_FIELD, "verifier-gte-snark-scalar-field"
        vk_x = ecadd(vk_x, ecmul(IC[i + 1], input[i]))

    return self._pairing(
        self._negate(a), b,
        ALFA1, BETA2,
        vk_x, GAMMA2,
        c, DELTA2,
    )

# --- bitcoinzk: batched verification (bitcoinzk/settlement/contracts.py) ---
MAX_BATCHES: constant(uint256) = 16
PAIRS_MAX: constant(uint256) = (MAX_BATCHES + 3) * 6


@internal
@view
def _scale(p: uint256[2], s: uint256) -> uint256[2]:
    # the first proof's weight is 1: a k=1 batch costs what verifyProof costs
    if s == 1:
        return p
    return ecmul(p, s)


@external
@view
def verifyBatch(
    proofs: DynArray[uint256[8], MAX_BATCHES], inputs: DynArray[uint256, MAX_BATCHES]
) -> bool:
    # Each proof i must satisfy e(A_i, B_i) = e(alpha, beta) e(vk_x_i, gamma) e(C_i, delta).
    # With weights r_i (r_0 = 1, r_i = keccak256(seed || i) mod r, seed = keccak256 of all
    # proofs and inputs) the k checks become one product of k + 3 pairings:
    #   prod e(r_i A_i, B_i) * e(-sum r_i vk_x_i, gamma) * e(-sum r_i C_i, delta)
    #                        * e(-(sum r_i) alpha, beta) == 1
    # and sum r_i vk_x_i = (sum r_i) IC[0] + (sum r_i x_i) IC[1]: two ecmuls for all k.
    # A bad proof passes only if the weights, fixed by the proofs themselves, cancel its
    # error: probability 1/r per attempt (r ~ 2^254), so no submitter can aim for it.
    n: uint256 = len(proofs)
    assert n >= 1 and n == len(inputs), "verifier-batch-size"
    seed: bytes32 = keccak256(abi_encode(proofs, inputs))
    pairs: uint256[PAIRS_MAX] = empty(uint256[PAIRS_MAX])
    r_sum: uint256 = 0
    rx_sum: uint256 = 0
    c_sum: uint256[2] = [0, 0]
    for i: uint256 in range(n, bound=MAX_BATCHES):
        p: uint256[8] = proofs[i]
        x: uint256 = inputs[i]
        assert p[0] < PRIME_Q and p[1] < PRIME_Q, "verifier-aX-gte-prime-q"
        assert p[6] < PRIME_Q and p[7] < PRIME_Q, "verifier-cX-gte-prime-q"
        assert p[2] < PRIME_Q and p[3] < PRIME_Q, "verifier-bX-gte-prime-q"
        assert p[4] < PRIME_Q and p[5] < PRIME_Q, "verifier-bX-gte-prime-q"
        assert x < SNARK_SCALAR_FIELD, "verifier-gte-snark-scalar-field"
        r: uint256 = 1
        if i > 0:
            r = convert(keccak256(concat(seed, convert(i, bytes32))), uint256) % SNARK_SCALAR_FIELD
        a: uint256[2] = self._scale([p[0], p[1]], r)
        at: uint256 = i * 6
        pairs[at] = a[0]
        pairs[at + 1] = a[1]
        pairs[at + 2] = p[2]
        pairs[at + 3] = p[3]
        pairs[at + 4] = p[4]
        pairs[at + 5] = p[5]
        c_sum = ecadd(c_sum, self._scale([p[6], p[7]], r))
        r_sum = uint256_addmod(r_sum, r, SNARK_SCALAR_FIELD)
        rx: uint256 = uint256_mulmod(r, x, SNARK_SCALAR_FIELD)
        rx_sum = uint256_addmod(rx_sum, rx, SNARK_SCALAR_FIELD)
    vk_x: uint256[2] = self._negate(ecadd(self._scale(IC[0], r_sum), ecmul(IC[1], rx_sum)))
    c_neg: uint256[2] = self._negate(c_sum)
    alpha: uint256[2] = self._negate(self._scale(ALFA1, r_sum))
    at: uint256 = n * 6
    pairs[at] = vk_x[0]
    pairs[at + 1] = vk_x[1]
    pairs[at + 2] = GAMMA2[0][0]
    pairs[at + 3] = GAMMA2[0][1]
    pairs[at + 4] = GAMMA2[1][0]
    pairs[at + 5] = GAMMA2[1][1]
    pairs[at + 6] = c_neg[0]
    pairs[at + 7] = c_neg[1]
    pairs[at + 8] = DELTA2[0][0]
    pairs[at + 9] = DELTA2[0][1]
    pairs[at + 10] = DELTA2[1][0]
    pairs[at + 11] = DELTA2[1][1]
    pairs[at + 12] = alpha[0]
    pairs[at + 13] = alpha[1]
    pairs[at + 14] = BETA2[0][0]
    pairs[at + 15] = BETA2[0][1]
    pairs[at + 16] = BETA2[1][0]
    pairs[at + 17] = BETA2[1][1]
    result: Bytes[32] = raw_call(
        0x0000000000000000000000000000000000000008,
        slice(abi_encode(pairs), 0, (n + 3) * 192),
        max_outsize=32,
        is_static_call=True,
    )
    return extract32(result, 0, output_type=uint256) != 0
