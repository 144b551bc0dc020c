# bitcoinzk: generated from verifying key sha256=1798be2c352ec5643b157cc7a0035a2860f29123802b3dad323f2ddb429df083 circuit=B2-E1-D6-0a157e97eb9b3b88
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

ALFA1: constant(uint256[2]) = [17219418609826436024275728496990142326601094492687013939172027880432961648242, 20675310648706024452427131467627135822579725122540887673065077460179010163736]
BETA2: constant(uint256[2][2]) = [[5892386785237091908228571115630067417824479574179179643649777154885174064761, 3627856508611936230991316438503565838637753680703759149055469812821365526621], [20506177847476179889406732122417944761963382009916300767274440899504024446276, 17826504279262038049112908962372810238291659858231037733870589109065889051405]]
GAMMA2: constant(uint256[2][2]) = [[3138888283084703944673171381513436204118968212897089495783651176700604261193, 15763982418458333013688277424062383042470259069670994247367552961678122386293], [14040839339598001808462086986959652593519769594984569513792749258883012542083, 14255044070310969590344807862990550157204883012124437495437192481233294876448]]
DELTA2: constant(uint256[2][2]) = [[12730540770031127365133021683427129598623763584514446490751141341118583003821, 3390339376201134244192300275574574740917816540971939604668975128240496333254], [14622671583760492721129298413959482937031861393748283402920019170467213841469, 13222143050193767109018479598684300952800220053021165369748540463571522675518]]
IC: constant(uint256[2][2]) = [
    [14144029847546394010194247972675728772797477602198090956283179041955207491921, 12008430245403075823241545526133467249527214697283411924896489444081024063599],
    [18226357502727959448609090278035794256575633267242005381609344133101189069927, 4054346899383689377440139066896344298582421721485166599796909998460088358713],
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
