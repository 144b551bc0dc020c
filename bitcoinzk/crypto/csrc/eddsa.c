#include "eddsa.h"

#include "curve.h"
#include "poseidon.h"

/*
 * eddsa.verify, exactly: msg < r, S < l, R8 and A on the curve, x(8A) != 0,
 * hm = Poseidon(R8x, R8y, Ax, Ay, msg), and S*B8 == R8 + hm*(8A).
 * Any int value is accepted (out-of-range values verify as False); non-ints raise TypeError.
 */
PyObject *py_eddsa_verify(PyObject *self, PyObject *args) {
    PyObject *o[6];
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOO:eddsa_verify", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5]))
        return NULL;
    if (curve_check() < 0) return NULL;
    const poseidon_consts *k5 = &PC[6];
    if (!k5->ready) {
        PyErr_SetString(PyExc_LookupError, "Poseidon constants for 5 inputs not installed");
        return NULL;
    }
    if (b8_table_ready() < 0) return NULL;
    /* ax, ay, msg, r8x, r8y, s */
    fe raw[6];
    int in_range = 1;
    for (int i = 0; i < 6; i++) {
        int rc = u256_from_py(o[i], &raw[i]);
        if (rc < 0) return NULL;
        if (rc == 0) in_range = 0;
    }
    if (!in_range) Py_RETURN_FALSE;
    for (int i = 0; i < 5; i++) {
        if (u256_geq(&raw[i], &P_MOD)) Py_RETURN_FALSE;
    }
    if (u256_geq(&raw[5], &SUB_ORDER)) Py_RETURN_FALSE;

    int ok = 0;
    Py_BEGIN_ALLOW_THREADS;
    fe ax, ay, msg, rx, ry;
    fe_to_mont(&ax, &raw[0]);
    fe_to_mont(&ay, &raw[1]);
    fe_to_mont(&msg, &raw[2]);
    fe_to_mont(&rx, &raw[3]);
    fe_to_mont(&ry, &raw[4]);
    if (on_curve(&rx, &ry) && on_curve(&ax, &ay)) {
        ext_pt a8;
        ext_from_affine(&a8, &ax, &ay);
        ext_double_t(&a8, &a8, 0);
        ext_double_t(&a8, &a8, 0);
        ext_double(&a8, &a8);
        if (!u256_is_zero(&a8.x)) {
            fe in[5] = {rx, ry, ax, ay, msg};
            fe hm_m, hm;
            poseidon_core(k5, in, &hm_m);
            fe_from_mont(&hm, &hm_m);
            ext_pt lhs, rhs, r8;
            base8_mul(&lhs, &raw[5]);
            ext_mul(&rhs, &a8, &hm);
            ext_from_affine(&r8, &rx, &ry);
            ext_add(&rhs, &r8, &rhs);
            ok = ext_eq(&lhs, &rhs);
        }
    }
    Py_END_ALLOW_THREADS;
    return PyBool_FromLong(ok);
}
