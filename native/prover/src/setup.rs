//! Single-party Groth16 setup over a circuit's R1CS, in snarkjs's conventions (the
//! `.zkey` it writes proves with this crate and with snarkjs alike). UNSAFE for real
//! funds: whoever runs it knows tau, alpha, beta, gamma, delta.
//!
//! The R1CS and the witness `.wasm` come from a groth16py dev proving key saved with
//! `ProvingKey.save` (its in-process circom compiler is the only one here that compiles
//! the production circuit): "g16pk1", the arkworks CRS (uncompressed), one byte, the
//! `.wasm` (u64 length + bytes), one byte (0: the compiler's R1CS follows), then u64
//! wires, u64 public signals, u64 constraints, and per constraint A, B, C each as a u64
//! term count and (u64 wire, 32-byte little-endian coefficient) terms.

use std::fs::File;

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::scalar_mul::BatchMulPreprocessing;
use ark_ec::{CurveGroup, PrimeGroup};
use ark_ff::{BigInt, Field, One, PrimeField, UniformRand, Zero};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use ark_serialize::CanonicalDeserialize;
use rand::rngs::OsRng;
use rayon::prelude::*;

use crate::key::{Key, Matrix};

pub struct R1cs {
    pub n_vars: usize,
    pub n_public: usize,
    pub n_constraints: usize,
    /// (row, wire, value) per matrix
    pub a: Vec<(u32, u32, Fr)>,
    pub b: Vec<(u32, u32, Fr)>,
    pub c: Vec<(u32, u32, Fr)>,
}

struct Reader<'a> {
    d: &'a [u8],
    p: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let s = self.d.get(self.p..self.p + n).ok_or("groth16py key is truncated")?;
        self.p += n;
        Ok(s)
    }
    fn u64(&mut self) -> Result<usize, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()) as usize)
    }
    fn skip_vec(&mut self, size: usize) -> Result<(), String> {
        let n = self.u64()?;
        self.take(n * size).map(|_| ())
    }
}

/// Skip the CRS, return a reader at the `.wasm` length.
fn past_crs(d: &[u8]) -> Result<Reader<'_>, String> {
    if d.len() < 6 || &d[..6] != b"g16pk1" {
        return Err("not a groth16py proving key (g16pk1)".into());
    }
    let mut r = Reader { d, p: 6 };
    r.take(64 + 3 * 128)?; // alpha_g1, beta_g2, gamma_g2, delta_g2
    r.skip_vec(64)?; // gamma_abc_g1
    r.take(128)?; // beta_g1, delta_g1
    r.skip_vec(64)?; // a_query
    r.skip_vec(64)?; // b_g1_query
    r.skip_vec(128)?; // b_g2_query
    r.skip_vec(64)?; // h_query
    r.skip_vec(64)?; // l_query
    r.take(1)?;
    Ok(r)
}

fn map(path: &str) -> Result<memmap2::Mmap, String> {
    let file = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    // SAFETY: key files are written once, atomically, and not modified afterwards.
    unsafe { memmap2::Mmap::map(&file) }.map_err(|e| format!("{path}: {e}"))
}

pub fn extract_wasm(path: &str, out: &str) -> Result<(), String> {
    let m = map(path)?;
    let mut r = past_crs(&m)?;
    let n = r.u64()?;
    let wasm = r.take(n)?;
    if wasm.len() < 4 || &wasm[..4] != b"\0asm" {
        return Err("no witness .wasm in the groth16py key".into());
    }
    std::fs::write(out, wasm).map_err(|e| format!("{out}: {e}"))
}

pub fn read_groth16py_key(path: &str, wasm_out: Option<&str>) -> Result<R1cs, String> {
    let m = map(path)?;
    let mut r = past_crs(&m)?;
    let n = r.u64()?;
    let wasm = r.take(n)?;
    if let Some(out) = wasm_out {
        std::fs::write(out, wasm).map_err(|e| format!("{out}: {e}"))?;
    }
    if r.take(1)?[0] != 0 {
        return Err("this groth16py key holds no compiler R1CS (an imported key?)".into());
    }
    let (n_vars, n_public, n_constraints) = (r.u64()?, r.u64()?, r.u64()?);
    let mut mats: [Vec<(u32, u32, Fr)>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for row in 0..n_constraints {
        for mat in mats.iter_mut() {
            let k = r.u64()?;
            for _ in 0..k {
                let wire = r.u64()?;
                let v = r.take(32)?;
                let mut l = [0u64; 4];
                for (i, x) in l.iter_mut().enumerate() {
                    *x = u64::from_le_bytes(v[8 * i..8 * i + 8].try_into().unwrap());
                }
                let value = Fr::from_bigint(BigInt(l)).ok_or("R1CS coefficient >= modulus")?;
                if wire >= n_vars {
                    return Err("R1CS wire out of range".into());
                }
                mat.push((row as u32, wire as u32, value));
            }
        }
    }
    let [a, b, c] = mats;
    Ok(R1cs { n_vars, n_public, n_constraints, a, b, c })
}

/// Points computed per progress report.
const CHUNK: usize = 1 << 16;

fn batch<G>(base: G, scalars: &[Fr], done: &mut usize, total: usize, report: &dyn Fn(usize, usize)) -> Vec<G::MulBase>
where
    G: ark_ec::scalar_mul::ScalarMul<ScalarField = Fr> + Send + Sync,
    G::MulBase: Send,
{
    let table = BatchMulPreprocessing::new(base, scalars.len());
    let mut out = Vec::with_capacity(scalars.len());
    for chunk in scalars.chunks(CHUNK) {
        out.extend(table.batch_mul(chunk));
        *done += chunk.len();
        report(*done, total);
    }
    out
}

pub fn setup(r1cs: &R1cs, report: &dyn Fn(usize, usize)) -> Result<Key, String> {
    let (nv, np, nc) = (r1cs.n_vars, r1cs.n_public, r1cs.n_constraints);
    let domain = Radix2EvaluationDomain::<Fr>::new(nc + np + 1).ok_or("circuit too large")?;
    let n = domain.size();
    let rng = &mut OsRng;
    let (tau, alpha, beta, gamma, delta) =
        (Fr::rand(rng), Fr::rand(rng), Fr::rand(rng), Fr::rand(rng), Fr::rand(rng));

    // A gets one extra row per public signal (and the constant wire): A[nc + k][k] = 1.
    let mut ta = r1cs.a.clone();
    for k in 0..=np {
        ta.push(((nc + k) as u32, k as u32, Fr::one()));
    }
    let lag = domain.evaluate_all_lagrange_coefficients(tau);
    let at_tau = |terms: &[(u32, u32, Fr)]| {
        let mut v = vec![Fr::zero(); nv];
        for &(row, wire, value) in terms {
            v[wire as usize] += lag[row as usize] * value;
        }
        v
    };
    let (at, (bt, ct)) = rayon::join(|| at_tau(&ta), || rayon::join(|| at_tau(&r1cs.b), || at_tau(&r1cs.c)));
    drop(lag);
    let gamma_inv = gamma.inverse().unwrap();
    let delta_inv = delta.inverse().unwrap();
    let combo: Vec<Fr> = (0..nv)
        .into_par_iter()
        .map(|j| {
            let x = beta * at[j] + alpha * bt[j] + ct[j];
            if j <= np {
                x * gamma_inv
            } else {
                x * delta_inv
            }
        })
        .collect();
    drop(ct);
    // H_i = -Z(tau) * L'_i(tau) / (2 delta), L' the Lagrange basis of the odd coset where
    // the prover evaluates A*B - C (there Z = x^n - 1 = -2).
    let shift = Radix2EvaluationDomain::<Fr>::new(2 * n).unwrap().group_gen();
    let coset = domain.get_coset(shift).unwrap();
    let z = tau.pow([n as u64]) - Fr::one();
    let factor = -z * delta_inv * Fr::from(2u64).inverse().unwrap();
    let hs: Vec<Fr> = coset.evaluate_all_lagrange_coefficients(tau).into_par_iter().map(|l| l * factor).collect();

    let g1 = G1Projective::generator();
    let g2 = G2Projective::generator();
    let total = 3 * nv + n + nv * 3; // a G2 point costs about three G1 points
    let mut done = 0usize;
    let a: Vec<G1Affine> = batch(g1, &at, &mut done, total, report);
    let b1: Vec<G1Affine> = batch(g1, &bt, &mut done, total, report);
    let lc: Vec<G1Affine> = batch(g1, &combo, &mut done, total, report);
    let h: Vec<G1Affine> = batch(g1, &hs, &mut done, total, report);
    let mut done2 = 0usize;
    let b2: Vec<G2Affine> = batch(g2, &bt, &mut done2, nv, &|d, _| report(done + 3 * d, total));

    let ma = Matrix::from_terms(n, &ta);
    let tb: Vec<(u32, u32, Fr)> = r1cs.b.clone();
    let mb = Matrix::from_terms(n, &tb);
    Ok(Key {
        n_vars: nv,
        n_public: np,
        domain_size: n,
        alpha1: (g1 * alpha).into_affine(),
        beta1: (g1 * beta).into_affine(),
        beta2: (g2 * beta).into_affine(),
        gamma2: (g2 * gamma).into_affine(),
        delta1: (g1 * delta).into_affine(),
        delta2: (g2 * delta).into_affine(),
        ic: lc[..=np].to_vec(),
        c: lc[np + 1..].to_vec(),
        a,
        b1,
        b2,
        h,
        ma,
        mb,
        libsnark: false,
        fast: None,
        fast_values: None,
    })
}

fn points<T: CanonicalDeserialize + Send>(r: &mut Reader<'_>, size: usize) -> Result<Vec<T>, String> {
    let n = r.u64()?;
    let bytes = r.take(n * size)?;
    bytes
        .par_chunks_exact(size)
        .map(|b| T::deserialize_uncompressed_unchecked(b).map_err(|e| format!("bad point: {e}")))
        .collect()
}

fn point<T: CanonicalDeserialize>(r: &mut Reader<'_>, size: usize) -> Result<T, String> {
    T::deserialize_uncompressed_unchecked(r.take(size)?).map_err(|e| format!("bad point: {e}"))
}

/// A groth16py dev key as it is (its CRS, arkworks' QAP, and the compiler's R1CS): the
/// native prover proves with it under groth16py's verifying key, with no setup of its own.
pub fn load_groth16py_key(path: &str) -> Result<Key, String> {
    let m = map(path)?;
    if m.len() < 6 || &m[..6] != b"g16pk1" {
        return Err("not a groth16py proving key (g16pk1)".into());
    }
    let mut r = Reader { d: &m, p: 6 };
    let alpha1: G1Affine = point(&mut r, 64)?;
    let beta2: G2Affine = point(&mut r, 128)?;
    let gamma2: G2Affine = point(&mut r, 128)?;
    let delta2: G2Affine = point(&mut r, 128)?;
    let ic: Vec<G1Affine> = points(&mut r, 64)?;
    let beta1: G1Affine = point(&mut r, 64)?;
    let delta1: G1Affine = point(&mut r, 64)?;
    let a: Vec<G1Affine> = points(&mut r, 64)?;
    let b1: Vec<G1Affine> = points(&mut r, 64)?;
    let b2: Vec<G2Affine> = points(&mut r, 128)?;
    let h: Vec<G1Affine> = points(&mut r, 64)?;
    let c: Vec<G1Affine> = points(&mut r, 64)?;
    drop(m);
    let r1cs = read_groth16py_key(path, None)?;
    let (nv, np, nc) = (r1cs.n_vars, r1cs.n_public, r1cs.n_constraints);
    let domain = Radix2EvaluationDomain::<Fr>::new(nc + np + 1).ok_or("circuit too large")?;
    let n = domain.size();
    if a.len() != nv || b2.len() != nv || c.len() != nv - np - 1 || h.len() + 1 != n {
        return Err("groth16py key: CRS and R1CS sizes disagree".into());
    }
    let mut ta = r1cs.a;
    for k in 0..=np {
        ta.push(((nc + k) as u32, k as u32, Fr::one()));
    }
    let (ma, mb) = rayon::join(|| Matrix::from_terms(n, &ta), || Matrix::from_terms(n, &r1cs.b));
    Ok(Key {
        n_vars: nv,
        n_public: np,
        domain_size: n,
        alpha1,
        beta1,
        beta2,
        gamma2,
        delta1,
        delta2,
        ic,
        a,
        b1,
        b2,
        c,
        h,
        ma,
        mb,
        libsnark: true,
        fast: None,
        fast_values: None,
    })
}
