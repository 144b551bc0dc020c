# bitcoinzk: generated from verifying key sha256=fe036b082297b84971b46dabd053050876ab4b90a312ce68eb3cbebe6ee51b6e circuit=B2-E1-D4-5ef39745aeb5388d
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

ALFA1: constant(uint256[2]) = [12156316462523017102278245029047853914175748815193300149955032686118590891195, 336143083380069973887500196487987705536280719243671616803630911337659752014]
BETA2: constant(uint256[2][2]) = [[5021623092327699381657161849143267680659887273325639482306287397583429126615, 11209415790280440811180630310723632261658268155335418934660191774406744312418], [16748270098667845685146247913469606839092273600943013286422623316648842907491, 4359599276191400043224072046269042536974767335091180612651918804928415072798]]
GAMMA2: constant(uint256[2][2]) = [[15234918658741430328500100107350280224555421893122694234280239097872354012620, 7592386559505970904862261789590642597358047027862173163707103174434842900484], [6581825479757757848729899282898972065528687932811009071911862474166392661961, 19281815604494234870783547253922824557704200253838407580125432394083726287980]]
DELTA2: constant(uint256[2][2]) = [[14510806965229338268374628771508991051515346129522527623898996420901102667491, 2796548279866108629482615191110041333078025004005966333204471977775204242737], [745588247072133285306134053227412231056340334492205474095358645580378899881, 20222170033914188493373242149378705207017822893915210153759381657676235185932]]
IC: constant(uint256[2][2]) = [
    [3637082406525306371883205935790244548177481507122574494206883542284412669794, 20369229230352763773389047089994616134128924892547197009810986997230740993439],
    [12279021491743890357488534059472619478236644089362820321823453929457442316362, 9274804815582645125722622850052598529600387424762090126800680438038762661009],
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
