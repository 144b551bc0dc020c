//! A batch-affine bucket MSM on halo2curves' points (G1 and G2): signed windows, each
//! window's bucket additions in affine coordinates, `BATCH` at a time sharing one field
//! inversion (Montgomery's trick), so an addition costs 6 multiplications (G2: in Fq2)
//! instead of a mixed projective addition's 11.
//!
//! halo2curves' own `msm_best` does the same with 64-addition batches, a linear search
//! of the pending batch for every point, and projective fallbacks when a bucket is
//! already pending; here a point whose bucket is pending waits in a queue for the next
//! batch (a bucket occurs at most once per batch), found by a per-bucket batch stamp.

use halo2curves::bn256 as h2;
use halo2curves::ff::{Field, PrimeField};
use halo2curves::group::Group;
use halo2curves::CurveAffine;
use rayon::prelude::*;

/// An affine point's coordinates, read without `coordinates()`'s checks, and their
/// field's multiplication.
pub trait Xy: CurveAffine {
    fn xy(&self) -> (&Self::Base, &Self::Base);

    /// `a * b` in the coordinates' field.
    #[inline(always)]
    fn base_mul(a: &Self::Base, b: &Self::Base) -> Self::Base {
        *a * b
    }
}

impl Xy for h2::G1Affine {
    fn xy(&self) -> (&h2::Fq, &h2::Fq) {
        (&self.x, &self.y)
    }
}

impl Xy for h2::G2Affine {
    fn xy(&self) -> (&h2::Fq2, &h2::Fq2) {
        (&self.x, &self.y)
    }

    /// Karatsuba in Fq2 = Fq[u]/(u^2 + 1), inlined: three multiplications in Fq, and
    /// `v0 - v1` for the real part where halo2curves' generic tower negates then adds.
    /// halo2curves' own Fq2 multiplication is a call per product; this one made the
    /// G2 MSM 2^19 ~14% cheaper here (4.9 -> 4.2 core-s).
    #[inline(always)]
    fn base_mul(a: &h2::Fq2, b: &h2::Fq2) -> h2::Fq2 {
        let (v0, v1) = (*a.c0() * b.c0(), *a.c1() * b.c1());
        let c1 = (*a.c0() + a.c1()) * (*b.c0() + b.c1()) - v0 - v1;
        h2::Fq2::new(v0 - v1, c1)
    }
}

/// Window width for `n` scalars: the least work over all windows, `n` affine additions
/// and 2^(c-1) buckets' running sums (two projective additions each, weighed as three
/// affine ones apiece). Measured here on G1 2^20 and G2 2^19 random MSMs: it picks
/// c = 15 for both, the fastest, within a few percent of c = 14 and 16.
pub fn window_bits(n: usize) -> usize {
    (2..=16usize)
        .min_by_key(|&c| (255usize).div_ceil(c) * (n + 3 * (1usize << c)))
        .unwrap()
}

/// A scalar's canonical limbs, one zero limb past the top for `digit`'s reads.
fn limbs(s: &h2::Fr) -> [u64; 5] {
    let repr = s.to_repr();
    let mut l = [0u64; 5];
    for (i, x) in l.iter_mut().take(4).enumerate() {
        *x = u64::from_le_bytes(repr.as_ref()[8 * i..8 * i + 8].try_into().unwrap());
    }
    l
}

/// Window `w`'s signed digit in [-2^(c-1), 2^(c-1)] (Booth: with u the window's c bits,
/// b its top bit and `low` the bit below the window, `u + low - b * 2^c`); the digits
/// of all windows sum back to the scalar, `sum_w digit_w * 2^(wc)`, each window read
/// alone (no carry from the window below).
fn digit(l: &[u64; 5], w: usize, c: usize) -> i32 {
    let bit = w * c;
    if bit >= 256 {
        return 0;
    }
    let (limb, off) = (bit / 64, bit % 64);
    let mut u = l[limb] >> off;
    if off + c > 64 {
        u |= l[limb + 1] << (64 - off);
    }
    let u = (u & ((1u64 << c) - 1)) as i64;
    let low = match bit {
        0 => 0,
        _ => ((l[(bit - 1) / 64] >> ((bit - 1) % 64)) & 1) as i64,
    };
    let top = u >> (c - 1);
    (u + low - (top << c)) as i32
}

/// `sum scalars[k] * points[which[k]]`.
pub fn msm<C: Xy>(points: &[C], which: &[u32], scalars: &[h2::Fr]) -> C::Curve {
    assert_eq!(which.len(), scalars.len());
    let n = scalars.len();
    if n == 0 {
        return C::Curve::identity();
    }
    let c = window_bits(n);
    // h2::Fr < 2^254 <= 2^(windows * c - 1): the top window's top bit is 0, so the
    // digits need no further window
    let windows = (h2::Fr::NUM_BITS as usize) / c + 1;
    let scalars: Vec<[u64; 5]> = scalars.par_iter().map(limbs).collect();
    let sums: Vec<C::Curve> = (0..windows)
        .into_par_iter()
        .map(|w| window_sum(points, which, &scalars, w, c))
        .collect();
    let mut acc = C::Curve::identity();
    for s in sums.iter().rev() {
        for _ in 0..c {
            acc = acc.double();
        }
        acc += s;
    }
    acc
}

/// Additions per shared inversion.
const BATCH: usize = 512;
/// Independent product chains in a batch's inversion.
const LANES: usize = 4;

/// The inverses of `acc`'s entries with one field inversion.
fn lane_inverses<F: Field>(acc: &[F; LANES]) -> [F; LANES] {
    let mut prefix = [F::ONE; LANES];
    let mut all = F::ONE;
    for (p, a) in prefix.iter_mut().zip(acc) {
        *p = all;
        all *= a;
    }
    let mut inv = all.invert().unwrap();
    let mut out = [F::ONE; LANES];
    for k in (0..LANES).rev() {
        out[k] = inv * prefix[k];
        inv *= acc[k];
    }
    out
}

/// Points waiting for their bucket's pending addition, at most.
const QUEUE: usize = 512;

/// The sum of the points whose digit is +-(b + 1) (signs applied), in affine
/// coordinates, and its bookkeeping in the same cache lines.
#[derive(Clone, Copy)]
struct Bucket<F> {
    x: F,
    y: F,
    /// the batch in which this bucket last had an addition pending
    stamp: u32,
    /// not the identity
    full: bool,
}

struct Window<'a, C: Xy> {
    points: &'a [C],
    buckets: Vec<Bucket<C::Base>>,
    batch_no: u32,
    /// pending additions: (bucket, point, negate)
    batch: Vec<(u32, u32, bool)>,
    queue: Vec<(u32, u32, bool)>,
    /// projective overflow per bucket, for points whose bucket is pending while the
    /// queue is full (many equal digits: repeated scalars, a narrow top window)
    spill: Vec<C::Curve>,
    /// Montgomery's trick's prefix products and differences
    prefix: Vec<C::Base>,
    dx: Vec<C::Base>,
}

impl<'a, C: Xy> Window<'a, C> {
    fn new(points: &'a [C], buckets: usize) -> Self {
        Self {
            points,
            buckets: vec![Bucket { x: C::Base::ZERO, y: C::Base::ZERO, stamp: u32::MAX, full: false }; buckets],
            batch_no: 0,
            batch: Vec::with_capacity(BATCH),
            queue: Vec::with_capacity(QUEUE),
            spill: Vec::new(),
            prefix: vec![C::Base::ZERO; BATCH],
            dx: vec![C::Base::ZERO; BATCH],
        }
    }

    /// Bucket b += (or -=) point p: at once if the bucket is empty or the sum needs
    /// no batch (a doubling, or the point's negative), queued if b is pending already.
    fn add(&mut self, b: u32, p: u32, neg: bool) {
        let bi = b as usize;
        if self.buckets[bi].stamp == self.batch_no {
            if self.queue.len() < QUEUE {
                self.queue.push((b, p, neg));
            } else {
                if self.spill.is_empty() {
                    self.spill = vec![C::Curve::identity(); self.buckets.len()];
                }
                let q = self.points[p as usize];
                self.spill[bi] += if neg { -q } else { q };
            }
            return;
        }
        let (x, y) = self.points[p as usize].xy();
        let y = if neg { -*y } else { *y };
        let bucket = &mut self.buckets[bi];
        if !bucket.full {
            (bucket.x, bucket.y, bucket.full) = (*x, y, true);
            return;
        }
        if bucket.x == *x {
            if bucket.y == y {
                // doubling: rare (a point equal to the bucket), one inversion of its own
                let (x1, y1) = (bucket.x, bucket.y);
                let xx = x1.square();
                let lambda = (xx + xx + xx) * (y1 + y1).invert().unwrap();
                let x3 = lambda.square() - x1 - x1;
                bucket.y = lambda * (x1 - x3) - y1;
                bucket.x = x3;
            } else {
                bucket.full = false;
            }
            return;
        }
        bucket.stamp = self.batch_no;
        self.batch.push((b, p, neg));
        if self.batch.len() == BATCH {
            self.flush();
        }
    }

    /// The pending additions, one inversion for all; then the queued ones get a turn.
    fn flush(&mut self) {
        let m = self.batch.len();
        if m > 0 {
            // LANES interleaved product chains, so one multiplication need not wait
            // for the previous one (measured: 1-2% on G2)
            let mut acc = [C::Base::ONE; LANES];
            for (k, &(b, p, _)) in self.batch.iter().enumerate() {
                let d = *self.points[p as usize].xy().0 - self.buckets[b as usize].x;
                self.prefix[k] = acc[k % LANES];
                self.dx[k] = d;
                acc[k % LANES] = C::base_mul(&acc[k % LANES], &d);
            }
            let mut inv = lane_inverses(&acc);
            for (k, &(b, p, neg)) in self.batch.iter().enumerate().rev() {
                let d_inv = C::base_mul(&inv[k % LANES], &self.prefix[k]);
                inv[k % LANES] = C::base_mul(&inv[k % LANES], &self.dx[k]);
                let (px, py) = self.points[p as usize].xy();
                let bucket = &mut self.buckets[b as usize];
                let (x1, y1) = (bucket.x, bucket.y);
                let lambda = C::base_mul(&(if neg { -*py - y1 } else { *py - y1 }), &d_inv);
                let x3 = lambda.square() - x1 - px;
                bucket.y = C::base_mul(&lambda, &(x1 - x3)) - y1;
                bucket.x = x3;
            }
            self.batch.clear();
        }
        self.batch_no += 1;
        let queued = std::mem::take(&mut self.queue);
        for &(b, p, neg) in &queued {
            self.add(b, p, neg);
        }
        // keep the queue's allocation when nothing was re-queued
        if self.queue.is_empty() {
            self.queue = queued;
            self.queue.clear();
        }
    }

    /// sum over b of (b + 1) * bucket b (running sums from the top bucket down)
    fn total(mut self) -> C::Curve {
        while !self.batch.is_empty() || !self.queue.is_empty() {
            self.flush();
        }
        let mut running = C::Curve::identity();
        let mut total = C::Curve::identity();
        for b in (0..self.buckets.len()).rev() {
            let bucket = &self.buckets[b];
            if bucket.full {
                running += C::from_xy(bucket.x, bucket.y).unwrap();
            }
            if let Some(s) = self.spill.get(b) {
                running += s;
            }
            total += running;
        }
        total
    }
}

/// Window `w`'s sum, `sum_k digit_w(scalars[k]) * points[which[k]]`.
fn window_sum<C: Xy>(
    points: &[C],
    which: &[u32],
    scalars: &[[u64; 5]],
    w: usize,
    c: usize,
) -> C::Curve {
    let mut win = Window::new(points, 1 << (c - 1));
    for (s, &p) in scalars.iter().zip(which) {
        let d = digit(s, w, c);
        if d != 0 {
            win.add(d.unsigned_abs() - 1, p, d < 0);
        }
    }
    win.total()
}
