//! Native Groth16 prover for bitcoinzk (BN254, arkworks with `parallel` + `asm`).
//!
//! Keys are snarkjs `.zkey` files (the ceremony format, and also what the native dev
//! setup writes), so one reader serves both and snarkjs can prove with the same key.
//! Proving follows snarkjs's QAP (the "circom reduction"): the constraint rows plus one
//! row `A = w[k]` per public signal, A and B interpolated over the domain, `C = A*B`
//! pointwise, all three evaluated on the odd coset of the doubled domain; the `.zkey`'s
//! H points already include `Z(tau)/delta` for that coset, so no division happens here.
//! Proofs verify with snarkjs, groth16py and the exported Vyper verifier.

mod batch_msm;
mod bench;
mod fft;
mod key;
mod msm;
mod prove;
mod setup;

use std::sync::Arc;

use pyo3::exceptions::{PyIOError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use key::Key;

fn io_err(e: String) -> PyErr {
    PyIOError::new_err(e)
}

/// A proving key held in memory; share one across threads (proving releases the GIL).
#[pyclass(frozen, module = "bitcoinzk.prover._arkprover")]
struct ProvingKey {
    key: Arc<Key>,
}

#[pymethods]
impl ProvingKey {
    /// Load a snarkjs Groth16 `.zkey` (memory-mapped, points taken as stored: no checks).
    #[staticmethod]
    fn load(py: Python<'_>, path: String) -> PyResult<Self> {
        let key = py
            .allow_threads(|| {
                let mut key = Key::load_zkey(&path)?;
                key.prepare();
                Ok::<_, String>(key)
            })
            .map_err(io_err)?;
        Ok(Self { key: Arc::new(key) })
    }

    /// Load a groth16py dev proving key (`ProvingKey.save`): its own CRS and R1CS, proven
    /// with arkworks' QAP, so proofs verify under groth16py's verifying key.
    #[staticmethod]
    fn load_groth16py(py: Python<'_>, path: String) -> PyResult<Self> {
        let key = py
            .allow_threads(|| {
                let mut key = setup::load_groth16py_key(&path)?;
                key.prepare();
                Ok::<_, String>(key)
            })
            .map_err(io_err)?;
        Ok(Self { key: Arc::new(key) })
    }

    #[getter]
    fn n_vars(&self) -> usize {
        self.key.n_vars
    }

    #[getter]
    fn n_public(&self) -> usize {
        self.key.n_public
    }

    #[getter]
    fn domain_size(&self) -> usize {
        self.key.domain_size
    }

    /// The verifying key as snarkjs `verification_key.json` text.
    fn verification_key_json(&self) -> String {
        self.key.vk_json()
    }

    /// Prove from a snarkjs `.wtns` file; 256 proof bytes (a, b, c; Ethereum layout).
    fn prove_wtns<'py>(&self, py: Python<'py>, wtns_path: String) -> PyResult<Bound<'py, PyBytes>> {
        let key = self.key.clone();
        let proof = py
            .allow_threads(move || {
                let data = std::fs::read(&wtns_path).map_err(|e| format!("{wtns_path}: {e}"))?;
                let w = prove::parse_wtns(&data)?;
                prove::prove(&key, &w)
            })
            .map_err(PyValueError::new_err)?;
        Ok(PyBytes::new(py, &proof))
    }

    /// Prove from the bytes of a `.wtns` file.
    fn prove_wtns_bytes<'py>(&self, py: Python<'py>, wtns: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let key = self.key.clone();
        let data = wtns.to_vec();
        let proof = py
            .allow_threads(move || {
                let w = prove::parse_wtns(&data)?;
                prove::prove(&key, &w)
            })
            .map_err(PyValueError::new_err)?;
        Ok(PyBytes::new(py, &proof))
    }

    /// Prove from the witness as integers (wire 0 is 1, then the public signals, ...).
    fn prove_witness<'py>(&self, py: Python<'py>, witness: Vec<num_ints::PyFr>) -> PyResult<Bound<'py, PyBytes>> {
        let key = self.key.clone();
        let w: Vec<ark_bn254::Fr> = witness.into_iter().map(|x| x.0).collect();
        let proof = py.allow_threads(move || prove::prove(&key, &w)).map_err(PyValueError::new_err)?;
        Ok(PyBytes::new(py, &proof))
    }
}

mod num_ints {
    use ark_ff::PrimeField;
    use pyo3::exceptions::PyValueError;
    use pyo3::prelude::*;

    /// A field element from a Python int in [0, r).
    pub struct PyFr(pub ark_bn254::Fr);

    impl<'py> FromPyObject<'py> for PyFr {
        fn extract_bound(ob: &Bound<'py, PyAny>) -> PyResult<Self> {
            let bytes: Vec<u8> = ob
                .call_method1("to_bytes", (32, "little"))
                .map_err(|_| PyValueError::new_err("witness value out of range"))?
                .extract()?;
            let mut limbs = [0u64; 4];
            for (i, l) in limbs.iter_mut().enumerate() {
                *l = u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().unwrap());
            }
            ark_bn254::Fr::from_bigint(ark_ff::BigInt(limbs))
                .map(PyFr)
                .ok_or_else(|| PyValueError::new_err("witness value >= field modulus"))
        }
    }
}

/// Single-party setup (UNSAFE for real funds) over the R1CS inside a groth16py dev
/// proving key; writes a snarkjs `.zkey` and the circuit's witness `.wasm`.
/// `progress(done, total)` is called between chunks of the point computations.
#[pyfunction]
#[pyo3(signature = (groth16py_key, zkey_out, wasm_out, progress=None))]
fn setup_from_groth16py(
    py: Python<'_>,
    groth16py_key: String,
    zkey_out: String,
    wasm_out: String,
    progress: Option<PyObject>,
) -> PyResult<(usize, usize, usize)> {
    py.allow_threads(move || {
        let r1cs = setup::read_groth16py_key(&groth16py_key, Some(&wasm_out))?;
        let report = |done: usize, total: usize| {
            if let Some(cb) = &progress {
                Python::with_gil(|py| {
                    let _ = cb.call1(py, (done, total));
                });
            }
        };
        let key = setup::setup(&r1cs, &report)?;
        key.save_zkey(&zkey_out)?;
        Ok((r1cs.n_vars, r1cs.n_constraints, key.domain_size))
    })
    .map_err(io_err)
}

/// (wires, public signals, constraints) of the R1CS in a groth16py dev key.
#[pyfunction]
fn groth16py_key_shape(py: Python<'_>, groth16py_key: String) -> PyResult<(usize, usize, usize)> {
    py.allow_threads(move || {
        let r1cs = setup::read_groth16py_key(&groth16py_key, None)?;
        Ok((r1cs.n_vars, r1cs.n_public, r1cs.n_constraints))
    })
    .map_err(io_err)
}

/// Copy the witness `.wasm` embedded in a saved groth16py proving key to `out`.
#[pyfunction]
fn extract_wasm(py: Python<'_>, groth16py_key: String, out: String) -> PyResult<()> {
    py.allow_threads(move || setup::extract_wasm(&groth16py_key, &out)).map_err(io_err)
}

/// The fast MSM (`batch_msm.rs`) against arkworks' on `n` random points (G1 and G2); false if they
/// differ. None if this CPU lacks BMI2/ADX (the prover then uses arkworks' MSM).
#[pyfunction]
fn msm_self_test(py: Python<'_>, n: usize, seed: u64) -> Option<bool> {
    if !msm::supported() {
        return None;
    }
    Some(py.allow_threads(move || msm::self_test(n, seed)))
}

/// The witness map's FFTs (halo2curves' `Fr`, `fft.rs`) against arkworks' on 2^log_n
/// random values; false if they differ. None if this CPU lacks BMI2/ADX (the prover
/// then uses arkworks' FFTs).
#[pyfunction]
fn fft_self_test(py: Python<'_>, log_n: u32, seed: u64) -> Option<bool> {
    if !msm::supported() {
        return None;
    }
    Some(py.allow_threads(move || fft::self_test(log_n, seed)))
}

/// True if proofs use the fast MSM and FFTs (halo2curves' fields: the CPU has BMI2 and ADX).
#[pyfunction]
fn fast_msm() -> bool {
    msm::supported()
}

/// Threads the prover uses (rayon's pool: RAYON_NUM_THREADS or the number of cores).
#[pyfunction]
fn threads() -> usize {
    rayon::current_num_threads()
}

/// The prover's G1 MSM over `g1_points`, G2 MSM over `g2_points` and the witness map's
/// FFT pair (iFFT + coset FFT) of `2^fft_log`, each timed alone on `threads` threads:
/// a dict of wall and process CPU seconds (`bench.rs`). ValueError if a result is wrong.
#[pyfunction]
#[pyo3(signature = (g1_points, g2_points, fft_log, threads=1, seed=1, reference=false))]
fn bench_primitives<'py>(
    py: Python<'py>,
    g1_points: usize,
    g2_points: usize,
    fft_log: u32,
    threads: usize,
    seed: u64,
    reference: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let r = py
        .allow_threads(move || bench::run(g1_points, g2_points, fft_log, threads, seed, reference))
        .map_err(PyValueError::new_err)?;
    let d = PyDict::new(py);
    d.set_item("msm", r.msm)?;
    d.set_item("g1_points", g1_points)?;
    d.set_item("g2_points", g2_points)?;
    d.set_item("fft_size", 1usize << fft_log)?;
    d.set_item("threads", threads)?;
    d.set_item("seed", seed)?;
    d.set_item("setup_s", r.setup_s)?;
    for (name, t) in [("g1_msm", r.g1_msm), ("g2_msm", r.g2_msm), ("ifft", r.ifft), ("coset_fft", r.coset_fft)] {
        d.set_item(format!("{name}_s"), t.wall_s)?;
        d.set_item(format!("{name}_cpu_s"), t.cpu_s)?;
    }
    d.set_item("g1_reference_ok", r.g1_reference)?;
    d.set_item("g2_reference_ok", r.g2_reference)?;
    Ok(d)
}

#[pymodule]
fn _arkprover(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ProvingKey>()?;
    m.add_function(wrap_pyfunction!(setup_from_groth16py, m)?)?;
    m.add_function(wrap_pyfunction!(groth16py_key_shape, m)?)?;
    m.add_function(wrap_pyfunction!(extract_wasm, m)?)?;
    m.add_function(wrap_pyfunction!(threads, m)?)?;
    m.add_function(wrap_pyfunction!(msm_self_test, m)?)?;
    m.add_function(wrap_pyfunction!(fft_self_test, m)?)?;
    m.add_function(wrap_pyfunction!(fast_msm, m)?)?;
    m.add_function(wrap_pyfunction!(bench_primitives, m)?)?;
    Ok(())
}
