/* circomlib's optimised PoseidonEx (initialState = 0, one output) and 8-ary Merkle paths. */
#ifndef BITCOINZK_POSEIDON_H
#define BITCOINZK_POSEIDON_H

#include "field.h"

#define MAX_T 17
#define N_ROUNDS_F 8

typedef struct {
    int ready;
    int t;
    int n_rounds_p;
    fe *c; /* t * 8 + n_rounds_p */
    fe *s; /* n_rounds_p * (2t - 1) */
    fe *m; /* t * t, row-major: m[i * t + j] = M[i][j] */
    fe *p; /* t * t */
} poseidon_consts;

extern poseidon_consts PC[MAX_T + 1];

void poseidon_core(const poseidon_consts *k, const fe *inputs, fe *result);
PyObject *py_poseidon_init(PyObject *self, PyObject *args);
PyObject *py_poseidon(PyObject *self, PyObject *arg);
PyObject *py_merkle_path(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

#endif
