//! The snarkjs `.zkey` (Groth16) format: read and write.
//!
//! Layout (snarkjs `zkey_utils.js`): "zkey", version 1, then sections (u32 type, u64
//! size): 1 protocol (1 = Groth16); 2 header (n8q, q, n8r, r, nVars, nPublic,
//! domainSize, alpha1, beta1, beta2, gamma2, delta1, delta2); 3 IC; 4 A and B
//! coefficients (u32 count, then matrix, constraint, signal, value); 5 A, 6 B1, 7 B2,
//! 8 C (private signals), 9 H (domainSize points); 10 contributions. Field elements
//! are little-endian Montgomery form; a point at infinity is all zeros; coefficient
//! values carry one extra Montgomery factor (x * R^2 as stored).

use std::fs::File;
use std::io::{BufWriter, Write};

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, MontConfig, PrimeField};
use rayon::prelude::*;

/// One QAP matrix in compressed rows: row i's terms are `start[i]..start[i+1]`.
pub struct Matrix {
    pub start: Vec<usize>,
    pub signal: Vec<u32>,
    pub value: Vec<Fr>,
}

impl Matrix {
    /// Rows from (row, signal, value) terms, `rows` rows.
    pub fn from_terms(rows: usize, terms: &[(u32, u32, Fr)]) -> Self {
        let mut count = vec![0usize; rows + 1];
        for &(r, _, _) in terms {
            count[r as usize + 1] += 1;
        }
        for i in 0..rows {
            count[i + 1] += count[i];
        }
        let start = count.clone();
        let mut next = count;
        let mut signal = vec![0u32; terms.len()];
        let mut value = vec![Fr::from(0u64); terms.len()];
        for &(r, s, v) in terms {
            let at = next[r as usize];
            next[r as usize] += 1;
            signal[at] = s;
            value[at] = v;
        }
        Self { start, signal, value }
    }

    pub fn rows(&self) -> usize {
        self.start.len() - 1
    }

    pub fn nnz(&self) -> usize {
        self.signal.len()
    }
}

pub struct Key {
    pub n_vars: usize,
    pub n_public: usize,
    pub domain_size: usize,
    pub alpha1: G1Affine,
    pub beta1: G1Affine,
    pub beta2: G2Affine,
    pub gamma2: G2Affine,
    pub delta1: G1Affine,
    pub delta2: G2Affine,
    pub ic: Vec<G1Affine>,
    pub a: Vec<G1Affine>,
    pub b1: Vec<G1Affine>,
    pub b2: Vec<G2Affine>,
    pub c: Vec<G1Affine>,
    pub h: Vec<G1Affine>,
    /// A and B over `domain_size` rows, the public-signal rows included.
    pub ma: Matrix,
    pub mb: Matrix,
    /// arkworks' own QAP (a groth16py key): H points for `n - 1` powers of tau times
    /// `Z(tau)/delta`, evaluations on the coset of the field's generator, divided by Z.
    pub libsnark: bool,
    /// The MSM bases in halo2curves' form (`prepare`): then `a`..`h` above are empty.
    pub fast: Option<crate::msm::FastBases>,
    /// `ma` and `mb`'s values in halo2curves' form (`prepare`, snarkjs's QAP only):
    /// then their `value` vectors above are empty.
    pub fast_values: Option<[Vec<halo2curves::bn256::Fr>; 2]>,
}

fn limbs(b: &[u8]) -> [u64; 4] {
    let mut l = [0u64; 4];
    for (i, x) in l.iter_mut().enumerate() {
        *x = u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap());
    }
    l
}

fn fq(b: &[u8]) -> Fq {
    Fq::new_unchecked(BigInt(limbs(b)))
}

pub fn g1(b: &[u8]) -> G1Affine {
    if b.iter().all(|&x| x == 0) {
        return G1Affine::zero();
    }
    G1Affine::new_unchecked(fq(&b[..32]), fq(&b[32..64]))
}

pub fn g2(b: &[u8]) -> G2Affine {
    if b.iter().all(|&x| x == 0) {
        return G2Affine::zero();
    }
    let x = Fq2::new(fq(&b[..32]), fq(&b[32..64]));
    let y = Fq2::new(fq(&b[64..96]), fq(&b[96..128]));
    G2Affine::new_unchecked(x, y)
}

fn put_fq(out: &mut Vec<u8>, x: &Fq) {
    for l in x.0 .0 {
        out.extend_from_slice(&l.to_le_bytes());
    }
}

pub fn put_g1(out: &mut Vec<u8>, p: &G1Affine) {
    if p.infinity {
        out.extend_from_slice(&[0u8; 64]);
    } else {
        put_fq(out, &p.x);
        put_fq(out, &p.y);
    }
}

pub fn put_g2(out: &mut Vec<u8>, p: &G2Affine) {
    if p.infinity {
        out.extend_from_slice(&[0u8; 128]);
    } else {
        put_fq(out, &p.x.c0);
        put_fq(out, &p.x.c1);
        put_fq(out, &p.y.c0);
        put_fq(out, &p.y.c1);
    }
}

fn points<T: Send>(data: &[u8], size: usize, n: usize, f: fn(&[u8]) -> T) -> Result<Vec<T>, String> {
    if data.len() != size * n {
        return Err(format!("zkey section holds {} bytes, expected {}", data.len(), size * n));
    }
    Ok(data.par_chunks_exact(size).map(f).collect())
}

fn u32_at(d: &[u8], at: usize) -> usize {
    u32::from_le_bytes(d[at..at + 4].try_into().unwrap()) as usize
}

/// The field element whose stored zkey coefficient form is `x * R^2`.
fn coef_from_zkey(b: &[u8]) -> Fr {
    Fr::new_unchecked(Fr::new_unchecked(BigInt(limbs(b))).into_bigint())
}

fn coef_to_zkey(x: &Fr) -> [u64; 4] {
    let r = Fr::from_bigint(<ark_bn254::FrConfig as MontConfig<4>>::R).unwrap();
    (*x * r).0 .0
}

impl Key {
    pub fn load_zkey(path: &str) -> Result<Self, String> {
        let file = File::open(path).map_err(|e| format!("{path}: {e}"))?;
        // SAFETY: the key file is not modified while loaded (keys are written atomically).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| format!("{path}: {e}"))?;
        let d: &[u8] = &map;
        if d.len() < 12 || &d[..4] != b"zkey" {
            return Err(format!("{path} is not a .zkey file"));
        }
        let n_sections = u32_at(d, 8);
        let mut sections: [Option<(usize, usize)>; 11] = [None; 11];
        let mut p = 12;
        for _ in 0..n_sections {
            let kind = u32_at(d, p);
            let size = u64::from_le_bytes(d[p + 4..p + 12].try_into().unwrap()) as usize;
            p += 12;
            if kind < sections.len() {
                sections[kind] = Some((p, size));
            }
            p += size;
        }
        let sec = |k: usize| -> Result<&[u8], String> {
            let (at, size) = sections[k].ok_or(format!("zkey has no section {k}"))?;
            d.get(at..at + size).ok_or(format!("zkey section {k} is truncated"))
        };
        if u32_at(sec(1)?, 0) != 1 {
            return Err("not a Groth16 zkey".into());
        }
        let h = sec(2)?;
        if u32_at(h, 0) != 32 || u32_at(h, 36) != 32 {
            return Err("zkey is not over BN254".into());
        }
        let mut q = 4;
        let q_le = &h[q..q + 32];
        if BigInt(limbs(q_le)) != <ark_bn254::FqConfig as MontConfig<4>>::MODULUS {
            return Err("zkey is not over BN254".into());
        }
        q = 72;
        let n_vars = u32_at(h, q);
        let n_public = u32_at(h, q + 4);
        let domain_size = u32_at(h, q + 8);
        q += 12;
        let alpha1 = g1(&h[q..q + 64]);
        let beta1 = g1(&h[q + 64..q + 128]);
        let beta2 = g2(&h[q + 128..q + 256]);
        let gamma2 = g2(&h[q + 256..q + 384]);
        let delta1 = g1(&h[q + 384..q + 448]);
        let delta2 = g2(&h[q + 448..q + 576]);

        let coeffs = sec(4)?;
        let n_coeffs = u32_at(coeffs, 0);
        let body = coeffs.get(4..4 + n_coeffs * 44).ok_or("zkey coefficients truncated")?;
        // Two passes straight into compressed rows: no list of all terms in between (at
        // B=64 that list alone was 1.2 GB of the load's peak).
        let mut start = [vec![0usize; domain_size + 1], vec![0usize; domain_size + 1]];
        for c in body.chunks_exact(44) {
            let (m, r, s) = (u32_at(c, 0), u32_at(c, 4), u32_at(c, 8));
            if m > 1 || r >= domain_size || s >= n_vars {
                return Err("zkey coefficient out of range".into());
            }
            start[m][r + 1] += 1;
        }
        for st in start.iter_mut() {
            for i in 0..domain_size {
                st[i + 1] += st[i];
            }
        }
        let mut next = start.clone();
        let mut signal = [vec![0u32; start[0][domain_size]], vec![0u32; start[1][domain_size]]];
        let mut value = [vec![Fr::from(0u64); signal[0].len()], vec![Fr::from(0u64); signal[1].len()]];
        for c in body.chunks_exact(44) {
            let (m, r) = (u32_at(c, 0), u32_at(c, 4));
            let at = next[m][r];
            next[m][r] += 1;
            signal[m][at] = u32_at(c, 8) as u32;
            value[m][at] = coef_from_zkey(&c[12..44]);
        }
        drop(next);
        let [sa, sb] = signal;
        let [va, vb] = value;
        let [sta, stb] = start;
        let ma = Matrix { start: sta, signal: sa, value: va };
        let mb = Matrix { start: stb, signal: sb, value: vb };
        // the parsed coefficients no longer need the file's pages in memory
        let (at, size) = sections[4].unwrap();
        // SAFETY: the range is not read again (points live in other sections).
        let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, at, size) };
        let n_private = n_vars - n_public - 1;
        Ok(Self {
            n_vars,
            n_public,
            domain_size,
            alpha1,
            beta1,
            beta2,
            gamma2,
            delta1,
            delta2,
            ic: points(sec(3)?, 64, n_public + 1, g1)?,
            a: points(sec(5)?, 64, n_vars, g1)?,
            b1: points(sec(6)?, 64, n_vars, g1)?,
            b2: points(sec(7)?, 128, n_vars, g2)?,
            c: points(sec(8)?, 64, n_private, g1)?,
            h: points(sec(9)?, 64, domain_size, g1)?,
            ma,
            mb,
            libsnark: false,
            fast: None,
            fast_values: None,
        })
    }

    /// Move the MSM bases to halo2curves' form where the CPU runs its assembly, one
    /// vector at a time so the key's memory does not double while converting.
    pub fn prepare(&mut self) {
        use crate::msm::FastBases;
        if self.fast.is_some() || !crate::msm::supported() {
            return;
        }
        let a = FastBases::g1(&std::mem::take(&mut self.a));
        let b1 = FastBases::g1(&std::mem::take(&mut self.b1));
        let b2 = FastBases::g2(&std::mem::take(&mut self.b2));
        let c = FastBases::g1(&std::mem::take(&mut self.c));
        let h = FastBases::g1(&std::mem::take(&mut self.h));
        self.fast = Some(FastBases { a, b1, b2, c, h });
        if !self.libsnark {
            let a = crate::msm::frs_to_h2(&std::mem::take(&mut self.ma.value));
            let b = crate::msm::frs_to_h2(&std::mem::take(&mut self.mb.value));
            self.fast_values = Some([a, b]);
        }
    }

    pub fn save_zkey(&self, path: &str) -> Result<(), String> {
        if self.fast.is_some() {
            return Err("a key prepared for proving no longer holds its points in .zkey form".into());
        }
        if self.libsnark {
            return Err("a groth16py key has no .zkey form (other H points)".into());
        }
        let mut head = Vec::new();
        head.extend_from_slice(b"zkey");
        head.extend_from_slice(&1u32.to_le_bytes());
        head.extend_from_slice(&10u32.to_le_bytes());
        {
            let file = File::create(path).map_err(|e| format!("{path}: {e}"))?;
            let mut out = BufWriter::with_capacity(1 << 22, file);
            out.write_all(&head).map_err(|e| e.to_string())?;
            let mut w = |kind: u32, body: &[u8]| -> Result<(), String> {
                out.write_all(&kind.to_le_bytes()).map_err(|e| e.to_string())?;
                out.write_all(&(body.len() as u64).to_le_bytes()).map_err(|e| e.to_string())?;
                out.write_all(body).map_err(|e| e.to_string())
            };
            w(1, &1u32.to_le_bytes())?;
            let mut h = Vec::new();
            h.extend_from_slice(&32u32.to_le_bytes());
            for l in <ark_bn254::FqConfig as MontConfig<4>>::MODULUS.0 {
                h.extend_from_slice(&l.to_le_bytes());
            }
            h.extend_from_slice(&32u32.to_le_bytes());
            for l in <ark_bn254::FrConfig as MontConfig<4>>::MODULUS.0 {
                h.extend_from_slice(&l.to_le_bytes());
            }
            for v in [self.n_vars, self.n_public, self.domain_size] {
                h.extend_from_slice(&(v as u32).to_le_bytes());
            }
            put_g1(&mut h, &self.alpha1);
            put_g1(&mut h, &self.beta1);
            put_g2(&mut h, &self.beta2);
            put_g2(&mut h, &self.gamma2);
            put_g1(&mut h, &self.delta1);
            put_g2(&mut h, &self.delta2);
            w(2, &h)?;
            w(3, &g1_bytes(&self.ic))?;
            let mut c = Vec::with_capacity(4 + 44 * (self.ma.nnz() + self.mb.nnz()));
            c.extend_from_slice(&((self.ma.nnz() + self.mb.nnz()) as u32).to_le_bytes());
            for (m, mat) in [(0u32, &self.ma), (1u32, &self.mb)] {
                for row in 0..mat.rows() {
                    for t in mat.start[row]..mat.start[row + 1] {
                        c.extend_from_slice(&m.to_le_bytes());
                        c.extend_from_slice(&(row as u32).to_le_bytes());
                        c.extend_from_slice(&mat.signal[t].to_le_bytes());
                        for l in coef_to_zkey(&mat.value[t]) {
                            c.extend_from_slice(&l.to_le_bytes());
                        }
                    }
                }
            }
            w(4, &c)?;
            drop(c);
            w(5, &g1_bytes(&self.a))?;
            w(6, &g1_bytes(&self.b1))?;
            let mut b2 = Vec::with_capacity(128 * self.b2.len());
            for p in &self.b2 {
                put_g2(&mut b2, p);
            }
            w(7, &b2)?;
            drop(b2);
            w(8, &g1_bytes(&self.c))?;
            w(9, &g1_bytes(&self.h))?;
            // no contributions: a single-party dev key (64-byte hash, 0 contributions)
            w(10, &[0u8; 68])?;
            out.flush().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    pub fn vk_json(&self) -> String {
        fn fqs(x: &Fq) -> String {
            x.into_bigint().to_string()
        }
        fn p1(p: &G1Affine) -> String {
            if p.infinity {
                return "[\"0\",\"1\",\"0\"]".into();
            }
            format!("[\"{}\",\"{}\",\"1\"]", fqs(&p.x), fqs(&p.y))
        }
        fn p2(p: &G2Affine) -> String {
            format!(
                "[[\"{}\",\"{}\"],[\"{}\",\"{}\"],[\"1\",\"0\"]]",
                fqs(&p.x.c0),
                fqs(&p.x.c1),
                fqs(&p.y.c0),
                fqs(&p.y.c1)
            )
        }
        let ic: Vec<String> = self.ic.iter().map(p1).collect();
        format!(
            "{{\"protocol\":\"groth16\",\"curve\":\"bn128\",\"nPublic\":{},\"vk_alpha_1\":{},\"vk_beta_2\":{},\"vk_gamma_2\":{},\"vk_delta_2\":{},\"IC\":[{}]}}",
            self.n_public,
            p1(&self.alpha1),
            p2(&self.beta2),
            p2(&self.gamma2),
            p2(&self.delta2),
            ic.join(",")
        )
    }
}

fn g1_bytes(v: &[G1Affine]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * v.len());
    for p in v {
        put_g1(&mut out, p);
    }
    out
}
