//! The prover's primitives timed alone (`bzk bench primitives`), to compare them with
//! another library's on the same machine in the same run: the G1 and G2 MSMs as
//! `prove.rs` calls them (`msm::msm` on `FastBases`, the key's points converted
//! beforehand as at key load) and the witness map's FFT pair (iFFT on the domain, FFT
//! on the odd coset of the doubled domain, as `prove.rs`'s witness map runs them: on
//! halo2curves' `Fr` with `fft.rs`'s transforms where the MSMs are halo2curves', else
//! arkworks' `Radix2EvaluationDomain`).
//!
//! Points are distinct multiples of the generator, `P_i = s_i G` with `s_i = a + i b`
//! for random `a` and `b`: one addition per point (made on every core, not timed)
//! instead of a scalar multiplication, 10x faster to make at 2^20 points than fixed-base
//! tables, and an MSM's work does not depend on its points' discrete logarithms. The
//! MSMs' scalars are random and full width. Every result is checked against what the
//! points are built from: `sum t_i P_i = (sum s_i t_i) G`, a sum in Fr that costs next
//! to nothing at any size, so a wrong or skipped MSM cannot produce a figure.

use ark_bn254::{Fr, G1Projective, G2Projective};
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup, VariableBaseMSM};
use ark_ff::{Field, One, UniformRand, Zero};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use rand::{rngs::StdRng, SeedableRng};
use rayon::prelude::*;

use crate::fft;
use crate::msm::{self, FastBases};

/// Wall and process CPU seconds of one operation.
#[derive(Clone, Copy, Default)]
pub struct Timing {
    pub wall_s: f64,
    pub cpu_s: f64,
}

pub struct Report {
    /// "batch-affine" (the prover's MSM on this CPU, `batch_msm.rs`) or "arkworks" (its fallback).
    pub msm: &'static str,
    pub g1_msm: Timing,
    pub g2_msm: Timing,
    pub ifft: Timing,
    pub coset_fft: Timing,
    /// Seconds spent making the points and scalars (not part of any figure).
    pub setup_s: f64,
    /// With `reference`: the results equal arkworks' own MSM on the same input.
    pub g1_reference: Option<bool>,
    pub g2_reference: Option<bool>,
}

/// This process's CPU seconds, all threads (`CLOCK_PROCESS_CPUTIME_ID`: nanoseconds,
/// where /proc's 10 ms ticks, which the prover's trace reads, would blur small sizes).
#[cfg(target_os = "linux")]
fn cpu_s() -> f64 {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut t = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: libc's clock_gettime writes one timespec (two i64 on 64-bit Linux) to `t`
    let rc = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    if rc != 0 {
        return f64::NAN;
    }
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

#[cfg(not(target_os = "linux"))]
fn cpu_s() -> f64 {
    f64::NAN
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Timing) {
    let (t0, c0) = (std::time::Instant::now(), cpu_s());
    let out = f();
    (out, Timing { wall_s: t0.elapsed().as_secs_f64(), cpu_s: cpu_s() - c0 })
}

fn random_scalars(n: usize, rng: &mut StdRng) -> Vec<Fr> {
    (0..n).map(|_| Fr::rand(rng)).collect()
}

/// `n` points `(a + i b) G` for random `a`, `b`, and their scalars.
fn progression<G>(n: usize, rng: &mut StdRng) -> (Vec<G::Affine>, Vec<Fr>)
where
    G: CurveGroup<ScalarField = Fr>,
{
    const CHUNK: usize = 1 << 12;
    let (a, b) = (Fr::rand(rng), Fr::rand(rng));
    let step = (G::generator() * b).into_affine();
    let chunks: Vec<Vec<G>> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let (start, end) = (c * CHUNK, n.min((c + 1) * CHUNK));
            let mut p = G::generator() * (a + b * Fr::from(start as u64));
            let mut out = Vec::with_capacity(end - start);
            for _ in start..end {
                out.push(p);
                p += &step;
            }
            out
        })
        .collect();
    let scalars = (0..n).into_par_iter().map(|i| a + b * Fr::from(i as u64)).collect();
    (G::normalize_batch(&chunks.concat()), scalars)
}

fn dot(s: &[Fr], t: &[Fr]) -> Fr {
    s.par_iter().zip(t.par_iter()).map(|(a, b)| *a * b).sum()
}

/// The witness map's domain and coset for `n` evaluations (`prove.rs::witness_map`).
fn qap_domains(n: usize) -> (Radix2EvaluationDomain<Fr>, Radix2EvaluationDomain<Fr>) {
    let domain = Radix2EvaluationDomain::<Fr>::new(n).expect("domain");
    let shift = Radix2EvaluationDomain::<Fr>::new(2 * n).expect("domain").group_gen();
    let coset = domain.get_coset(shift).expect("coset");
    (domain, coset)
}

/// `sum c_j x^j`.
fn horner(c: &[Fr], x: Fr) -> Fr {
    c.iter().rev().fold(Fr::zero(), |acc, v| acc * x + v)
}

/// The prover's FFT pair on halo2curves' `Fr` (`fft.rs`, as `prove.rs` runs it): the
/// inverse with its twiddles (both directions, as arkworks makes its own per call), then
/// the coset's scale table, the scaling and the forward transform. The prover makes the
/// tables once for A, B and C, so these figures are an upper bound on its per-vector
/// cost. Returns the coefficients (natural order) and the coset's evaluations in
/// arkworks' form for the checks below.
fn fast_fft_pair(
    pool: &rayon::ThreadPool,
    evals: &[Fr],
    domain: &Radix2EvaluationDomain<Fr>,
    coset: &Radix2EvaluationDomain<Fr>,
) -> (Vec<Fr>, Vec<Fr>, Timing, Timing) {
    let n = evals.len();
    let mut v = msm::frs_to_h2(evals);
    let (d, ifft) = pool.install(|| {
        timed(|| {
            let d = fft::Domain::new(n, msm::fr_to_h2(&domain.group_gen()));
            d.ifft_unscaled_dif(&mut v);
            d
        })
    });
    let log_n = n.trailing_zeros();
    let n_inv = Fr::from(n as u64).inverse().expect("n < r");
    let coefficients: Vec<Fr> = (0..n)
        .map(|j| {
            let p = if log_n == 0 { 0 } else { j.reverse_bits() >> (usize::BITS - log_n) };
            msm::fr_from_h2(&v[p]) * n_inv
        })
        .collect();
    let ((), coset_fft) = pool.install(|| {
        timed(|| {
            let scale = fft::coset_scale(n, msm::fr_to_h2(&coset.coset_offset()));
            v.par_iter_mut().zip(scale.par_iter()).for_each(|(x, s)| *x *= s);
            d.fft_dit(&mut v);
        })
    });
    let v = v.iter().map(msm::fr_from_h2).collect();
    (coefficients, v, ifft, coset_fft)
}

/// Time the G1 MSM over `g1` points, the G2 MSM over `g2` points and the FFT pair of
/// `2^fft_log` on a pool of `threads` threads; `reference` also runs arkworks' MSM on
/// the same input (slow: for small sizes).
pub fn run(
    g1: usize,
    g2: usize,
    fft_log: u32,
    threads: usize,
    seed: u64,
    reference: bool,
) -> Result<Report, String> {
    if g1 == 0 || g2 == 0 || threads == 0 {
        return Err("sizes and threads must be at least 1".into());
    }
    if !(1..=27).contains(&fft_log) {
        // the coset needs a root of unity of order 2^(fft_log + 1); Fr has 2^28
        return Err("fft_log must be in 1..=27".into());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| format!("thread pool: {e}"))?;

    let t_setup = std::time::Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let (p1, s1) = progression::<G1Projective>(g1, &mut rng);
    let (p2, s2) = progression::<G2Projective>(g2, &mut rng);
    let t1 = random_scalars(g1, &mut rng);
    let t2 = random_scalars(g2, &mut rng);
    let evals = random_scalars(1 << fft_log, &mut rng);
    let fast = msm::supported();
    let (b1, b2) = if fast { (Some(FastBases::g1(&p1)), Some(FastBases::g2(&p2))) } else { (None, None) };
    if p1.iter().any(|p| p.is_zero()) || p2.iter().any(|p| p.is_zero()) {
        // FastBases drops such points: the MSM would be smaller than asked
        return Err("a random point is at infinity".into());
    }
    let setup_s = t_setup.elapsed().as_secs_f64();

    let (r1, g1_msm) = match &b1 {
        Some(b) => {
            // converted before the clock starts, as the prover converts the witness once
            let t = msm::frs_to_h2(&t1);
            pool.install(|| timed(|| msm::g1_from_h2(&msm::msm(b, &t))))
        }
        None => pool.install(|| timed(|| G1Projective::msm(&p1, &t1).expect("lengths"))),
    };
    if r1 != G1Projective::generator() * dot(&s1, &t1) {
        return Err("the G1 MSM is wrong".into());
    }
    let (r2, g2_msm) = match &b2 {
        Some(b) => {
            let t = msm::frs_to_h2(&t2);
            pool.install(|| timed(|| msm::g2_from_h2(&msm::msm(b, &t))))
        }
        None => pool.install(|| timed(|| G2Projective::msm(&p2, &t2).expect("lengths"))),
    };
    if r2 != G2Projective::generator() * dot(&s2, &t2) {
        return Err("the G2 MSM is wrong".into());
    }

    let (domain, coset) = qap_domains(evals.len());
    let (coefficients, v, ifft, coset_fft) = if fast {
        fast_fft_pair(&pool, &evals, &domain, &coset)
    } else {
        let mut v = evals.clone();
        let ((), ifft) = pool.install(|| timed(|| domain.ifft_in_place(&mut v)));
        let coefficients = v.clone();
        let ((), coset_fft) = pool.install(|| timed(|| coset.fft_in_place(&mut v)));
        (coefficients, v, ifft, coset_fft)
    };
    // the coefficients interpolate the inputs (at 1 and at the domain's generator), and
    // the output is their polynomial on the coset (at its offset and the next point)
    let w = domain.group_gen();
    let x0 = coset.coset_offset();
    let ok = horner(&coefficients, Fr::one()) == evals[0]
        && horner(&coefficients, w) == evals[1 % evals.len()]
        && horner(&coefficients, x0) == v[0]
        && horner(&coefficients, x0 * w) == v[1 % v.len()];
    if !ok {
        return Err("the FFT pair is wrong".into());
    }

    let (g1_reference, g2_reference) = if reference {
        let ark1 = G1Projective::msm(&p1, &t1).expect("lengths");
        let ark2 = G2Projective::msm(&p2, &t2).expect("lengths");
        (Some(ark1 == r1), Some(ark2 == r2))
    } else {
        (None, None)
    };
    Ok(Report {
        msm: if fast { "batch-affine" } else { "arkworks" },
        g1_msm,
        g2_msm,
        ifft,
        coset_fft,
        setup_s,
        g1_reference,
        g2_reference,
    })
}
