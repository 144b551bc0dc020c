/*
 * bitcoinzk.crypto._native -- BN254 scalar field, circomlib Poseidon and BabyJubJub in C.
 *
 * The module: its method table and init. The code is split by concern under csrc/:
 * field.h/.c (the field), poseidon.c, curve.c (BabyJubJub) and eddsa.c.
 *
 * A speed-up only: every function here has a pure-Python reference in
 * poseidon.py / babyjub.py / eddsa.py and tests/crypto/test_native.py checks
 * them against each other. No constants are duplicated except the field
 * modulus itself (intrinsic to the Montgomery code and checked from Python at
 * import): Poseidon's C/S/M/P and the curve's a, d, B8, l are handed over by
 * the Python modules through poseidon_init() and curve_init().
 *
 * Field elements are 4 x 64-bit little-endian limbs in Montgomery form
 * (R = 2^256), always fully reduced to [0, p). Not constant time.
 *
 * C11 + unsigned __int128 (gcc/clang) + the CPython C API; no other dependency.
 */
#include "csrc/curve.h"
#include "csrc/eddsa.h"
#include "csrc/field.h"
#include "csrc/poseidon.h"

#define NATIVE_ABI_VERSION 3

/* ---- module ------------------------------------------------------------------------- */

static PyMethodDef native_methods[] = {
    {"poseidon_init", py_poseidon_init, METH_VARARGS,
     "poseidon_init(t, n_rounds_p, C, S, M, P) -> bool: install circomlib constants for width t "
     "(M and P flattened row-major). Idempotent: returns False if already installed."},
    {"poseidon", py_poseidon, METH_O,
     "poseidon(inputs: list[int] | tuple[int, ...]) -> int: circomlib Poseidon(len(inputs))."},
    {"merkle_path", (PyCFunction)(void (*)(void))py_merkle_path, METH_FASTCALL,
     "merkle_path(index, leaf, siblings) -> list[int]: the nodes from the leaf (level 0) up "
     "to the root of an 8-ary tree: node_{k+1} = Poseidon(8) of siblings[7k:7k+7] with node_k "
     "inserted at child position (index >> 3k) & 7. 7 siblings per level, at most 56."},
    {"curve_init", py_curve_init, METH_VARARGS,
     "curve_init(a, d, b8x, b8y, l) -> bool: install the BabyJubJub constants (idempotent)."},
    {"scalar_mul", py_scalar_mul, METH_VARARGS,
     "scalar_mul(x, y, k) -> (x, y): k * (x, y), 0 <= k < 2^256, same algorithm as "
     "babyjub.ext_mul."},
    {"base8_mul", py_base8_mul, METH_O, "base8_mul(k) -> (x, y): k * B8, 0 <= k < 2^256."},
    {"is_on_curve", py_is_on_curve, METH_VARARGS,
     "is_on_curve(x, y) -> bool: ints in [0, r) satisfying the curve equation."},
    {"sqrt", py_sqrt, METH_O,
     "sqrt(n) -> int | None: the square root babyjub._sqrt returns (same algorithm), "
     "n in [0, r)."},
    {"selftest", py_selftest, METH_VARARGS,
     "selftest(n, seed) -> bool: the multiplication in use agrees with the portable C one "
     "on n pseudo-random pairs."},
    {"eddsa_verify", py_eddsa_verify, METH_VARARGS,
     "eddsa_verify(ax, ay, msg, r8x, r8y, s) -> bool: eddsa.verify on plain ints."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_native",
    .m_doc = "BN254 field, circomlib Poseidon and BabyJubJub in C (see _native.c).",
    .m_size = -1,
    .m_methods = native_methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    field_setup();
    if (!selftest_mul(2000, 0x9E3779B97F4A7C15ULL)) {
        PyErr_SetString(PyExc_ImportError, "bitcoinzk.crypto._native: multiplication self-test failed");
        return NULL;
    }
    sqrt_setup();
    PyObject *m = PyModule_Create(&native_module);
    if (m == NULL) return NULL;
    fe praw = P_MOD;
    PyObject *pm = u256_to_py(&praw);
    if (pm == NULL || PyModule_AddObject(m, "FIELD_MODULUS", pm) < 0) {
        Py_XDECREF(pm);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "ABI_VERSION", NATIVE_ABI_VERSION) < 0 ||
        PyModule_AddIntConstant(m, "ASM", FE_MUL_ASM) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
