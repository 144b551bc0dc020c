//! The proof's multi-scalar multiplications on halo2curves' BN254 points and fields
//! (mulx/adcx assembly), summed by `batch_msm` (batch-affine buckets): 1.6-2x fewer
//! core-seconds than arkworks 0.5's MSM (projective buckets) on the same points, G1
//! and G2; 5-10% fewer than halo2curves' own `msm_best`.
//!
//! The key's points are converted once, when the key is loaded, and the points at
//! infinity are dropped then (44% of B1/B2 at B=64: wires that never occur in B), so
//! a proof walks only the points that add something. Both libraries keep field
//! elements in Montgomery form with R = 2^256, but the conversion goes through the
//! canonical form (`into_bigint` / `from_raw`, `to_repr` / `from_bigint`) so it does
//! not depend on either's private layout.
//!
//! The assembly needs BMI2 and ADX; `supported()` checks the CPU, and without them
//! the prover keeps arkworks' MSM (`prove.rs`), checked when a key is loaded.

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, One, PrimeField, Zero};
use halo2curves::bn256 as h2;
use halo2curves::ff::{Field as _, PrimeField as _};
use halo2curves::group::prime::PrimeCurveAffine;
use halo2curves::group::{Curve, Group};
use halo2curves::CurveAffine;
use rayon::prelude::*;

use crate::batch_msm;

/// True if this CPU runs halo2curves' field assembly (BMI2 + ADX), and
/// `BZK_PROVER_ARKWORKS_MSM` is not set (it keeps the fallback tested here).
pub fn supported() -> bool {
    if std::env::var_os("BZK_PROVER_ARKWORKS_MSM").is_some() {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("bmi2") && std::is_x86_feature_detected!("adx")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The non-zero points of one MSM and, for each, the index of its scalar.
pub struct Bases<P> {
    index: Vec<u32>,
    points: Vec<P>,
}

impl<P: Copy + Send + Sync> Bases<P> {
    fn from_ark<A: AffineRepr + Sync>(v: &[A], convert: fn(&A) -> P) -> Self {
        let (index, points) = v
            .par_iter()
            .enumerate()
            .filter(|(_, p)| !p.is_zero())
            .map(|(i, p)| (i as u32, convert(p)))
            .unzip();
        Self { index, points }
    }
}

/// The five MSMs' bases of one proving key.
pub struct FastBases {
    pub a: Bases<h2::G1Affine>,
    pub b1: Bases<h2::G1Affine>,
    pub b2: Bases<h2::G2Affine>,
    pub c: Bases<h2::G1Affine>,
    pub h: Bases<h2::G1Affine>,
}

impl FastBases {
    pub fn g1(v: &[G1Affine]) -> Bases<h2::G1Affine> {
        Bases::from_ark(v, g1_to_h2)
    }

    pub fn g2(v: &[G2Affine]) -> Bases<h2::G2Affine> {
        Bases::from_ark(v, g2_to_h2)
    }
}

fn fq_to_h2(x: &Fq) -> h2::Fq {
    h2::Fq::from_raw(x.into_bigint().0)
}

fn fq_from_h2(x: &h2::Fq) -> Fq {
    let b = x.to_repr();
    let mut l = [0u64; 4];
    for (i, v) in l.iter_mut().enumerate() {
        *v = u64::from_le_bytes(b.as_ref()[8 * i..8 * i + 8].try_into().unwrap());
    }
    Fq::from_bigint(BigInt(l)).expect("halo2curves field element in range")
}

pub fn g1_to_h2(p: &G1Affine) -> h2::G1Affine {
    h2::G1Affine { x: fq_to_h2(&p.x), y: fq_to_h2(&p.y) }
}

pub fn g2_to_h2(p: &G2Affine) -> h2::G2Affine {
    let f = |x: &Fq2| h2::Fq2::new(fq_to_h2(&x.c0), fq_to_h2(&x.c1));
    h2::G2Affine { x: f(&p.x), y: f(&p.y) }
}

pub fn g1_from_h2(p: &h2::G1) -> G1Projective {
    let a = p.to_affine();
    if bool::from(a.is_identity()) {
        return G1Projective::zero();
    }
    G1Affine::new_unchecked(fq_from_h2(&a.x), fq_from_h2(&a.y)).into_group()
}

pub fn g2_from_h2(p: &h2::G2) -> G2Projective {
    let a = p.to_affine();
    if bool::from(a.is_identity()) {
        return G2Projective::zero();
    }
    let f = |x: &h2::Fq2| Fq2::new(fq_from_h2(x.c0()), fq_from_h2(x.c1()));
    G2Affine::new_unchecked(f(&a.x), f(&a.y)).into_group()
}

pub fn fr_to_h2(s: &Fr) -> h2::Fr {
    h2::Fr::from_raw(s.into_bigint().0)
}

/// A scalar back in arkworks' form.
pub fn fr_from_h2(s: &h2::Fr) -> Fr {
    let b = s.to_repr();
    let mut l = [0u64; 4];
    for (i, v) in l.iter_mut().enumerate() {
        *v = u64::from_le_bytes(b.as_ref()[8 * i..8 * i + 8].try_into().unwrap());
    }
    Fr::from_bigint(BigInt(l)).expect("halo2curves scalar in range")
}

/// A vector of scalars in halo2curves' form (the prover's witness, once per proof).
pub fn frs_to_h2(v: &[Fr]) -> Vec<h2::Fr> {
    v.par_iter().map(fr_to_h2).collect()
}

/// `sum scalars[index[i]] * points[i]`: zero scalars skipped, ones added directly (a
/// circom witness is mostly bits), the rest through `batch_msm` (the points stay where
/// they are: the MSM reads them through `which`, no copy).
pub fn msm<C>(bases: &Bases<C>, scalars: &[h2::Fr]) -> C::Curve
where
    C: batch_msm::Xy + CurveAffine<ScalarExt = h2::Fr>,
{
    let one = h2::Fr::ONE;
    let ones = bases
        .index
        .par_iter()
        .zip(bases.points.par_iter())
        .filter(|(i, _)| scalars[**i as usize] == one)
        .fold(C::Curve::identity, |acc, (_, p)| acc + *p)
        .reduce(C::Curve::identity, |x, y| x + y);
    let (which, rest): (Vec<u32>, Vec<h2::Fr>) = bases
        .index
        .par_iter()
        .enumerate()
        .filter_map(|(k, i)| {
            let s = &scalars[*i as usize];
            (!bool::from(s.is_zero()) && *s != one).then_some((k as u32, *s))
        })
        .unzip();
    ones + batch_msm::msm(&bases.points, &which, &rest)
}

/// `msm` against arkworks' MSM on `n` random points and scalars (zeros, ones, repeated
/// scalars, repeated and negated points, points at infinity mixed in): true if G1 and
/// G2 agree.
pub fn self_test(n: usize, seed: u64) -> bool {
    use ark_ec::{CurveGroup, PrimeGroup, VariableBaseMSM};
    use ark_ff::UniformRand;
    use rand::{rngs::StdRng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(seed);
    let mut scalars: Vec<Fr> = (0..n)
        .map(|i| match i % 7 {
            0 => Fr::zero(),
            1 => Fr::one(),
            2 => Fr::from(i as u64),
            _ => Fr::rand(&mut rng),
        })
        .collect();
    let mut g1: Vec<G1Affine> = (0..n)
        .map(|i| {
            if i % 11 == 3 {
                G1Affine::zero()
            } else {
                (G1Projective::generator() * Fr::rand(&mut rng)).into_affine()
            }
        })
        .collect();
    let mut g2: Vec<G2Affine> = (0..n)
        .map(|i| {
            if i % 11 == 5 {
                G2Affine::zero()
            } else {
                (G2Projective::generator() * Fr::rand(&mut rng)).into_affine()
            }
        })
        .collect();
    // the bucket sums' special cases: a scalar repeated throughout (one bucket per
    // window takes them all), a point added to itself (a doubling) and to its negative
    for i in 1..n {
        if i % 13 == 4 {
            scalars[i] = -Fr::one();
        } else if i % 17 == 6 || i % 19 == 8 {
            scalars[i] = scalars[i - 1];
            let neg = i % 19 == 8;
            g1[i] = if neg { -g1[i - 1] } else { g1[i - 1] };
            g2[i] = if neg { -g2[i - 1] } else { g2[i - 1] };
        }
    }
    let h2_scalars = frs_to_h2(&scalars);
    let fast1 = g1_from_h2(&msm(&FastBases::g1(&g1), &h2_scalars));
    let fast2 = g2_from_h2(&msm(&FastBases::g2(&g2), &h2_scalars));
    let slow1 = G1Projective::msm(&g1, &scalars).expect("lengths");
    let slow2 = G2Projective::msm(&g2, &scalars).expect("lengths");
    fast1 == slow1 && fast2 == slow2
}
