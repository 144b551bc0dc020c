/* ---- Poseidon (circomlib's optimised PoseidonEx, initialState = 0, one output) -------- */
#include "poseidon.h"

poseidon_consts PC[MAX_T + 1];

/* Copy a Python list/tuple of field elements into a freshly malloc'd Montgomery array. */
static fe *fe_array_from_py(PyObject *seq, Py_ssize_t expected, const char *what) {
    PyObject *fast = PySequence_Fast(seq, "constants must be a sequence");
    if (fast == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n != expected) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd constants, got %zd", what, expected, n);
        Py_DECREF(fast);
        return NULL;
    }
    fe *arr = (fe *)malloc(sizeof(fe) * (size_t)(n > 0 ? n : 1));
    if (arr == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return NULL;
    }
    PyObject **items = PySequence_Fast_ITEMS(fast);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (fe_from_py(items[i], &arr[i]) < 0) {
            free(arr);
            Py_DECREF(fast);
            return NULL;
        }
    }
    Py_DECREF(fast);
    return arr;
}

PyObject *py_poseidon_init(PyObject *self, PyObject *args) {
    int t, nrp;
    PyObject *c, *s, *m, *p;
    (void)self;
    if (!PyArg_ParseTuple(args, "iiOOOO:poseidon_init", &t, &nrp, &c, &s, &m, &p)) return NULL;
    if (t < 2 || t > MAX_T || nrp < 1 || nrp > 1000) {
        PyErr_SetString(PyExc_ValueError, "bad Poseidon width or round count");
        return NULL;
    }
    if (PC[t].ready) {
        /* Idempotent: constants are immutable once installed (other code may hold them). */
        Py_RETURN_FALSE;
    }
    fe *ca = fe_array_from_py(c, (Py_ssize_t)t * N_ROUNDS_F + nrp, "C");
    fe *sa = ca ? fe_array_from_py(s, (Py_ssize_t)nrp * (2 * t - 1), "S") : NULL;
    fe *ma = sa ? fe_array_from_py(m, (Py_ssize_t)t * t, "M") : NULL;
    fe *pa = ma ? fe_array_from_py(p, (Py_ssize_t)t * t, "P") : NULL;
    if (pa == NULL) {
        free(ca);
        free(sa);
        free(ma);
        return NULL;
    }
    PC[t].t = t;
    PC[t].n_rounds_p = nrp;
    PC[t].c = ca;
    PC[t].s = sa;
    PC[t].m = ma;
    PC[t].p = pa;
    PC[t].ready = 1;
    Py_RETURN_TRUE;
}

static inline void fe_pow5(fe *r, const fe *x) {
    fe x2, x4;
    fe_sqr(&x2, x);
    fe_sqr(&x4, &x2);
    fe_mul(r, &x4, x);
}

/* out[i] = sum_j m[j][i] * in[j], one reduction per output */
static inline void mix(fe *state, const fe *m, int t) {
    fe out[MAX_T];
    for (int i = 0; i < t; i++) {
        wide acc, prod;
        wide_mul(&acc, &m[i], &state[0]);
        for (int j = 1; j < t; j++) {
            wide_mul(&prod, &m[j * t + i], &state[j]);
            wide_add(&acc, &prod);
        }
        fe_redc(&out[i], &acc);
    }
    memcpy(state, out, sizeof(fe) * (size_t)t);
}

/* inputs: n = t - 1 Montgomery field elements; result in Montgomery form. */
void poseidon_core(const poseidon_consts *k, const fe *inputs, fe *result) {
    const int t = k->t;
    const int half = N_ROUNDS_F / 2;
    const fe *c = k->c;
    fe state[MAX_T];
    memset(&state[0], 0, sizeof(fe));
    for (int i = 1; i < t; i++) state[i] = inputs[i - 1];

    for (int i = 0; i < t; i++) fe_add(&state[i], &state[i], &c[i]);
    for (int r = 0; r < half - 1; r++) {
        for (int i = 0; i < t; i++) {
            fe_pow5(&state[i], &state[i]);
            fe_add(&state[i], &state[i], &c[(r + 1) * t + i]);
        }
        mix(state, k->m, t);
    }
    for (int i = 0; i < t; i++) {
        fe_pow5(&state[i], &state[i]);
        fe_add(&state[i], &state[i], &c[half * t + i]);
    }
    mix(state, k->p, t);

    const fe *s = k->s;
    const int base_c = (half + 1) * t;
    for (int r = 0; r < k->n_rounds_p; r++) {
        fe_pow5(&state[0], &state[0]);
        fe_add(&state[0], &state[0], &c[base_c + r]);
        const int off = (2 * t - 1) * r;
        wide acc, prod;
        wide_mul(&acc, &s[off], &state[0]);
        for (int j = 1; j < t; j++) {
            wide_mul(&prod, &s[off + j], &state[j]);
            wide_add(&acc, &prod);
        }
        const fe x0 = state[0];
        for (int j = 1; j < t; j++) {
            fe p1;
            fe_mul(&p1, &x0, &s[off + t + j - 1]);
            fe_add(&state[j], &state[j], &p1);
        }
        fe_redc(&state[0], &acc);
    }

    const int base_c2 = (half + 1) * t + k->n_rounds_p;
    for (int r = 0; r < half - 1; r++) {
        for (int i = 0; i < t; i++) {
            fe_pow5(&state[i], &state[i]);
            fe_add(&state[i], &state[i], &c[base_c2 + r * t + i]);
        }
        mix(state, k->m, t);
    }
    for (int i = 0; i < t; i++) fe_pow5(&state[i], &state[i]);
    wide acc, prod;
    wide_mul(&acc, &k->m[0], &state[0]);
    for (int j = 1; j < t; j++) {
        wide_mul(&prod, &k->m[j * t], &state[j]);
        wide_add(&acc, &prod);
    }
    fe_redc(result, &acc);
}

PyObject *py_poseidon(PyObject *self, PyObject *arg) {
    (void)self;
    if (!PyList_Check(arg) && !PyTuple_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "poseidon inputs must be a list or tuple");
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(arg);
    if (n < 1 || n > MAX_T - 1) {
        PyErr_SetString(PyExc_ValueError, "Poseidon takes 1..16 inputs");
        return NULL;
    }
    const poseidon_consts *k = &PC[n + 1];
    if (!k->ready) {
        PyErr_SetString(PyExc_LookupError, "Poseidon constants for this arity not installed");
        return NULL;
    }
    fe in[MAX_T];
    PyObject **items = PySequence_Fast_ITEMS(arg);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (fe_from_py(items[i], &in[i]) < 0) return NULL;
    }
    fe out;
    poseidon_core(k, in, &out);
    return fe_to_py(&out);
}

#define MERKLE_ARITY 8
#define MERKLE_SIBLINGS (MERKLE_ARITY - 1) /* per level */
#define MERKLE_MAX_LEVELS 8
#define MERKLE_MAX_SIBLINGS (MERKLE_MAX_LEVELS * MERKLE_SIBLINGS)

/*
 * merkle_path(index, leaf, siblings) -> [node_0 = leaf, node_1, ..., node_L = root] up an
 * 8-ary tree: at level k the node sits at child position p_k = (index >> 3k) & 7, and
 * node_{k+1} = Poseidon(8) of the 8 children in order, i.e. siblings[7k : 7k + 7] with
 * node_k inserted at position p_k -- tree.py's loop, in one call. index is any int (only
 * its low bits are read, two's complement like Python's >>); leaf and siblings are checked
 * like poseidon()'s inputs (TypeError / ValueError), siblings a list or tuple whose length
 * is a multiple of 7 and at most 56 (ValueError otherwise).
 */
PyObject *py_merkle_path(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "merkle_path expected 3 arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *index = args[0], *leaf = args[1], *sibs = args[2];
    if (!PyLong_Check(index)) {
        PyErr_Format(PyExc_TypeError, "merkle_path index must be an int, got %.100s",
                     Py_TYPE(index)->tp_name);
        return NULL;
    }
    if (!PyList_Check(sibs) && !PyTuple_Check(sibs)) {
        PyErr_SetString(PyExc_TypeError, "merkle_path siblings must be a list or tuple");
        return NULL;
    }
    const Py_ssize_t n_sibs = PySequence_Fast_GET_SIZE(sibs);
    if (n_sibs > MERKLE_MAX_SIBLINGS || n_sibs % MERKLE_SIBLINGS != 0) {
        PyErr_SetString(PyExc_ValueError,
                        "merkle_path takes 7 siblings per level and at most 8 levels (56)");
        return NULL;
    }
    const Py_ssize_t n = n_sibs / MERKLE_SIBLINGS; /* levels */
    const poseidon_consts *k = &PC[MERKLE_ARITY + 1];
    if (!k->ready) {
        PyErr_SetString(PyExc_LookupError, "Poseidon constants for 8 inputs not installed");
        return NULL;
    }
    /* index mod 2^64 (two's complement for negatives): bits 0..23 as Python's (index >> 3k) & 7 */
    const unsigned long long bits = PyLong_AsUnsignedLongLongMask(index);
    if (bits == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    fe node[MERKLE_MAX_LEVELS + 1], sib[MERKLE_MAX_SIBLINGS];
    if (fe_from_py(leaf, &node[0]) < 0) return NULL;
    PyObject **items = PySequence_Fast_ITEMS(sibs);
    for (Py_ssize_t i = 0; i < n_sibs; i++) {
        if (fe_from_py(items[i], &sib[i]) < 0) return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        const int pos = (int)((bits >> (3 * i)) & 7);
        const fe *level_sibs = &sib[i * MERKLE_SIBLINGS];
        fe in[MERKLE_ARITY];
        for (int j = 0; j < pos; j++) in[j] = level_sibs[j];
        in[pos] = node[i];
        for (int j = pos + 1; j < MERKLE_ARITY; j++) in[j] = level_sibs[j - 1];
        poseidon_core(k, in, &node[i + 1]);
    }
    PyObject *out = PyList_New(n + 1);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i <= n; i++) {
        /* level 0 is the leaf itself (a fresh int only for int subclasses) */
        PyObject *v = (i == 0 && PyLong_CheckExact(leaf)) ? Py_NewRef(leaf) : fe_to_py(&node[i]);
        if (v == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, v);
    }
    return out;
}
