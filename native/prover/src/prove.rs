//! Witness map (snarkjs's QAP) and the Groth16 proof.

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{BigInt, BigInteger, BigInteger256, FftField, Field, One, PrimeField, UniformRand, Zero};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use rand::rngs::OsRng;
use rayon::prelude::*;

use halo2curves::bn256 as h2;
use halo2curves::ff::Field as _;

use crate::fft;
use crate::key::{Key, Matrix};
use crate::msm;

/// The witness values of a snarkjs `.wtns` file (version 2: section 1 header with the
/// prime and the count, section 2 the values, little-endian standard form).
pub fn parse_wtns(d: &[u8]) -> Result<Vec<Fr>, String> {
    if d.len() < 12 || &d[..4] != b"wtns" {
        return Err("not a .wtns file".into());
    }
    let u32_at = |at: usize| u32::from_le_bytes(d[at..at + 4].try_into().unwrap()) as usize;
    let n_sections = u32_at(8);
    let mut p = 12;
    let (mut n8, mut count, mut values) = (0usize, 0usize, None);
    for _ in 0..n_sections {
        let kind = u32_at(p);
        let size = u64::from_le_bytes(d[p + 4..p + 12].try_into().unwrap()) as usize;
        p += 12;
        match kind {
            1 => {
                n8 = u32_at(p);
                count = u32_at(p + 4 + n8);
            }
            2 => values = Some(d.get(p..p + size).ok_or("truncated .wtns")?),
            _ => {}
        }
        p += size;
    }
    let values = values.ok_or("no witness section in .wtns")?;
    if n8 != 32 || values.len() != 32 * count {
        return Err("the .wtns is not a BN254 witness".into());
    }
    values
        .par_chunks_exact(32)
        .map(|b| {
            let mut l = [0u64; 4];
            for (i, x) in l.iter_mut().enumerate() {
                *x = u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap());
            }
            Fr::from_bigint(BigInt(l)).ok_or_else(|| "witness value >= field modulus".to_string())
        })
        .collect()
}

fn eval_rows(m: &Matrix, w: &[Fr], n: usize) -> Vec<Fr> {
    (0..n)
        .into_par_iter()
        .map(|row| {
            if row >= m.rows() {
                return Fr::zero();
            }
            let mut acc = Fr::zero();
            for t in m.start[row]..m.start[row + 1] {
                acc += m.value[t] * w[m.signal[t] as usize];
            }
            acc
        })
        .collect()
}

/// `eval_rows` on halo2curves' `Fr`: a coefficient of 1 or -1 (a fifth of all) adds
/// or subtracts the wire without a multiplication.
fn eval_rows_fast(m: &Matrix, values: &[h2::Fr], w: &[h2::Fr], n: usize) -> Vec<h2::Fr> {
    let (one, minus_one) = (h2::Fr::ONE, -h2::Fr::ONE);
    (0..n)
        .into_par_iter()
        .with_min_len(1 << 10)
        .map(|row| {
            let mut acc = h2::Fr::ZERO;
            if row >= m.rows() {
                return acc;
            }
            for t in m.start[row]..m.start[row + 1] {
                let (v, x) = (&values[t], &w[m.signal[t] as usize]);
                if *v == one {
                    acc += x;
                } else if *v == minus_one {
                    acc -= x;
                } else {
                    acc += *v * x;
                }
            }
            acc
        })
        .collect()
}

/// `witness_map` on halo2curves' `Fr` with `fft.rs`'s transforms: each of A, B, C goes
/// through the unscaled inverse transform (bit-reversed out), one multiplication by
/// `shift^i / n` (the coset and the inverse's `1/n` together), and the forward one.
fn witness_map_fast(key: &Key, values: &[Vec<h2::Fr>; 2], w: &[h2::Fr], lap: &dyn Fn(&str)) -> Vec<h2::Fr> {
    let n = key.domain_size;
    let omega = Radix2EvaluationDomain::<Fr>::new(n).expect("domain").group_gen();
    let shift = Radix2EvaluationDomain::<Fr>::new(2 * n).expect("domain").group_gen();
    let ((mut a, mut b), (domain, scale)) = rayon::join(
        || {
            rayon::join(
                || eval_rows_fast(&key.ma, &values[0], w, n),
                || eval_rows_fast(&key.mb, &values[1], w, n),
            )
        },
        || {
            rayon::join(
                || fft::Domain::new(n, msm::fr_to_h2(&omega)),
                || fft::coset_scale(n, msm::fr_to_h2(&shift)),
            )
        },
    );
    lap("witness map: rows");
    let mut c: Vec<h2::Fr> = a.par_iter().zip(b.par_iter()).map(|(x, y)| *x * y).collect();
    for v in [&mut a, &mut b, &mut c] {
        domain.ifft_unscaled_dif(v);
        v.par_iter_mut().zip(scale.par_iter()).for_each(|(x, s)| *x *= s);
        domain.fft_dit(v);
    }
    a.par_iter_mut()
        .zip(b.par_iter())
        .zip(c.par_iter())
        .for_each(|((a, b), c)| *a = *a * b - c);
    a
}

/// The evaluations of A*B - C on the odd coset of the doubled domain (snarkjs's H).
pub fn witness_map(key: &Key, w: &[Fr]) -> Vec<Fr> {
    if key.libsnark {
        return witness_map_libsnark(key, w);
    }
    let n = key.domain_size;
    let domain = Radix2EvaluationDomain::<Fr>::new(n).expect("domain");
    let shift = Radix2EvaluationDomain::<Fr>::new(2 * n).expect("domain").group_gen();
    let coset = domain.get_coset(shift).expect("coset");
    let (mut a, mut b) = rayon::join(|| eval_rows(&key.ma, w, n), || eval_rows(&key.mb, w, n));
    let mut c: Vec<Fr> = a.par_iter().zip(b.par_iter()).map(|(x, y)| *x * y).collect();
    for v in [&mut a, &mut b, &mut c] {
        domain.ifft_in_place(v);
        coset.fft_in_place(v);
    }
    a.par_iter()
        .zip(b.par_iter())
        .zip(c.par_iter())
        .map(|((a, b), c)| *a * b - c)
        .collect()
}

/// arkworks' `LibsnarkReduction`: h's coefficients, from A*B - C on the coset of the
/// field's generator divided by the vanishing polynomial there (`C = A*B` on the domain).
fn witness_map_libsnark(key: &Key, w: &[Fr]) -> Vec<Fr> {
    let n = key.domain_size;
    let domain = Radix2EvaluationDomain::<Fr>::new(n).expect("domain");
    let coset = domain.get_coset(Fr::GENERATOR).expect("coset");
    let (mut a, mut b) = rayon::join(|| eval_rows(&key.ma, w, n), || eval_rows(&key.mb, w, n));
    let mut c: Vec<Fr> = a.par_iter().zip(b.par_iter()).map(|(x, y)| *x * y).collect();
    for v in [&mut a, &mut b, &mut c] {
        domain.ifft_in_place(v);
        coset.fft_in_place(v);
    }
    let z_inv = domain.evaluate_vanishing_polynomial(Fr::GENERATOR).inverse().unwrap();
    let mut h: Vec<Fr> = a
        .par_iter()
        .zip(b.par_iter())
        .zip(c.par_iter())
        .map(|((a, b), c)| (*a * b - c) * z_inv)
        .collect();
    coset.ifft_in_place(&mut h);
    h.truncate(n - 1);
    h
}

/// `sum scalars[i] * bases[i]`, zero scalars skipped and ones added directly (a circom
/// witness is mostly bits), the rest through arkworks' parallel MSM: the fallback where
/// the CPU cannot run halo2curves' assembly (`msm.rs`).
fn ark_msm<A>(bases: &[A], scalars: &[BigInteger256]) -> A::Group
where
    A: AffineRepr<ScalarField = Fr> + Send + Sync,
    A::Group: VariableBaseMSM<MulBase = A> + Send,
{
    assert_eq!(bases.len(), scalars.len());
    let one = Fr::one().into_bigint();
    let ones = bases
        .par_iter()
        .zip(scalars.par_iter())
        .filter(|(_, s)| **s == one)
        .map(|(b, _)| b.into_group())
        .reduce(A::Group::zero, |x, y| x + y);
    let (rest_b, rest_s): (Vec<A>, Vec<BigInteger256>) = bases
        .par_iter()
        .zip(scalars.par_iter())
        .filter(|(_, s)| !s.is_zero() && **s != one)
        .map(|(b, s)| (*b, *s))
        .unzip();
    ones + A::Group::msm_bigint(&rest_b, &rest_s)
}

/// This process's CPU seconds (all threads; /proc, 10 ms ticks): the trace's measure
/// that other jobs' load on a shared machine does not inflate as it does wall time.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // fields 14 and 15 of stat (utime, stime) are 12 and 13 after the command name
    (tick(11) + tick(12)) / 100.0
}

fn be32(x: &ark_bn254::Fq) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&x.into_bigint().to_bytes_be());
    out
}

pub fn prove(key: &Key, w: &[Fr]) -> Result<Vec<u8>, String> {
    if w.len() != key.n_vars {
        return Err(format!("witness has {} values, the key {} wires", w.len(), key.n_vars));
    }
    if !w[0].is_one() {
        return Err("witness wire 0 must be 1".into());
    }
    let trace = std::env::var_os("BZK_PROVER_TRACE").is_some();
    let t0 = std::time::Instant::now();
    let cpu0 = cpu_s();
    let lap = |what: &str| {
        if trace {
            let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_s() - cpu0);
            eprintln!("prove: {what} at {wall:.3}s wall, {cpu:.2} core-s");
        }
    };
    let r = Fr::rand(&mut OsRng);
    let s = Fr::rand(&mut OsRng);
    let (msm_a, msm_b1, msm_b2, msm_c, msm_h) = match &key.fast {
        Some(f) => {
            let wh = msm::frs_to_h2(w);
            let private = &wh[key.n_public + 1..];
            // One phase after the other: running the witness map + H beside A, B1, B2, C
            // (rayon::join) cost more CPU and more wall time on this 2-core machine
            // under load (41.4 vs 37.3 core-s), each MSM already keeps both cores busy.
            let h = match &key.fast_values {
                Some(values) => witness_map_fast(key, values, &wh, &lap),
                // a groth16py key (arkworks' own QAP): arkworks' witness map
                None => msm::frs_to_h2(&witness_map(key, w)),
            };
            lap("witness map");
            let msm_a = msm::g1_from_h2(&msm::msm(&f.a, &wh));
            lap("msm a");
            let msm_b1 = msm::g1_from_h2(&msm::msm(&f.b1, &wh));
            lap("msm b1");
            let msm_b2 = msm::g2_from_h2(&msm::msm(&f.b2, &wh));
            lap("msm b2");
            let msm_c = msm::g1_from_h2(&msm::msm(&f.c, private));
            lap("msm c");
            let msm_h = msm::g1_from_h2(&msm::msm(&f.h, &h));
            lap("msm h");
            (msm_a, msm_b1, msm_b2, msm_c, msm_h)
        }
        None => {
            let h = witness_map(key, w);
            lap("witness map");
            let wb: Vec<BigInteger256> = w.par_iter().map(|x| x.into_bigint()).collect();
            let hb: Vec<BigInteger256> = h.par_iter().map(|x| x.into_bigint()).collect();
            let private = &wb[key.n_public + 1..];
            let msm_a: G1Projective = ark_msm(&key.a, &wb);
            let msm_b1: G1Projective = ark_msm(&key.b1, &wb);
            let msm_b2: G2Projective = ark_msm::<G2Affine>(&key.b2, &wb);
            let msm_c: G1Projective = ark_msm(&key.c, private);
            let msm_h: G1Projective = ark_msm::<G1Affine>(&key.h, &hb);
            lap("msms (arkworks)");
            (msm_a, msm_b1, msm_b2, msm_c, msm_h)
        }
    };

    let a = key.alpha1.into_group() + msm_a + key.delta1 * r;
    let b2 = key.beta2.into_group() + msm_b2 + key.delta2 * s;
    let b1 = key.beta1.into_group() + msm_b1 + key.delta1 * s;
    let c = msm_c + msm_h + a * s + b1 * r - key.delta1 * (r * s);
    let (a, b2, c) = (a.into_affine(), b2.into_affine(), c.into_affine());
    if a.infinity || b2.infinity || c.infinity {
        return Err("degenerate proof (a point at infinity)".into());
    }
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&be32(&a.x));
    out.extend_from_slice(&be32(&a.y));
    out.extend_from_slice(&be32(&b2.x.c1));
    out.extend_from_slice(&be32(&b2.x.c0));
    out.extend_from_slice(&be32(&b2.y.c1));
    out.extend_from_slice(&be32(&b2.y.c0));
    out.extend_from_slice(&be32(&c.x));
    out.extend_from_slice(&be32(&c.y));
    Ok(out)
}
