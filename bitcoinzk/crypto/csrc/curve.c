/* ---- BabyJubJub in extended twisted Edwards coordinates ----------------------------- */
#include "curve.h"

static int CURVE_READY = 0;
static fe CURVE_A; /* Montgomery form */
static fe CURVE_D;
static ext_pt B8_EXT;
fe SUB_ORDER; /* l, raw */

#define COMB_WINDOW 8
#define COMB_WINDOWS 32 /* 256 bits */
static ext_pt *B8_TABLE = NULL; /* [COMB_WINDOWS][256] */

static void ext_zero(ext_pt *r) {
    memset(&r->x, 0, sizeof(fe));
    r->y = ONE_M;
    memset(&r->t, 0, sizeof(fe));
    r->z = ONE_M;
}

void ext_from_affine(ext_pt *r, const fe *x, const fe *y) {
    r->x = *x;
    r->y = *y;
    fe_mul(&r->t, x, y);
    r->z = ONE_M;
}

/* add-2008-hwcd for general a: exactly the formulas of babyjub.ext_add. */
void ext_add(ext_pt *r, const ext_pt *p1, const ext_pt *p2) {
    fe a, b, c, d, e, f, g, h, u, v;
    fe_mul(&a, &p1->x, &p2->x);
    fe_mul(&b, &p1->y, &p2->y);
    fe_mul(&c, &CURVE_D, &p1->t);
    fe_mul(&c, &c, &p2->t);
    fe_mul(&d, &p1->z, &p2->z);
    fe_add(&u, &p1->x, &p1->y);
    fe_add(&v, &p2->x, &p2->y);
    fe_mul(&e, &u, &v);
    fe_sub(&e, &e, &a);
    fe_sub(&e, &e, &b);
    fe_sub(&f, &d, &c);
    fe_add(&g, &d, &c);
    fe_mul(&h, &CURVE_A, &a);
    fe_sub(&h, &b, &h);
    fe_mul(&r->x, &e, &f);
    fe_mul(&r->y, &g, &h);
    fe_mul(&r->t, &e, &h);
    fe_mul(&r->z, &f, &g);
}

/*
 * dbl-2008-hwcd for general a: exactly the formulas of babyjub.ext_double. Doubling
 * never reads T, so with_t = 0 skips computing it when the next operation is another
 * doubling (the output is then only valid as input to ext_double).
 */
void ext_double_t(ext_pt *r, const ext_pt *p1, int with_t) {
    fe a, b, c, d, e, f, g, h, u;
    fe_sqr(&a, &p1->x);
    fe_sqr(&b, &p1->y);
    fe_sqr(&c, &p1->z);
    fe_add(&c, &c, &c);
    fe_mul(&d, &CURVE_A, &a);
    fe_add(&u, &p1->x, &p1->y);
    fe_sqr(&e, &u);
    fe_sub(&e, &e, &a);
    fe_sub(&e, &e, &b);
    fe_add(&g, &d, &b);
    fe_sub(&f, &g, &c);
    fe_sub(&h, &d, &b);
    fe_mul(&r->x, &e, &f);
    fe_mul(&r->y, &g, &h);
    if (with_t) fe_mul(&r->t, &e, &h);
    fe_mul(&r->z, &f, &g);
}

void ext_double(ext_pt *r, const ext_pt *p1) { ext_double_t(r, p1, 1); }

static int u256_bit_length(const fe *k) {
    for (int i = 3; i >= 0; i--) {
        if (k->v[i]) return 64 * i + 64 - __builtin_clzll(k->v[i]);
    }
    return 0;
}

static inline unsigned nibble(const fe *k, int shift) {
    return (unsigned)((k->v[shift / 64] >> (shift % 64)) & 15);
}

/*
 * k * pt with the fixed 4-bit window of babyjub.ext_mul, operation for operation
 * (table built by repeated ext_add, same doubling/adding order), so that it agrees with
 * the reference even for points off the curve, where the group law does not hold.
 */
void ext_mul(ext_pt *r, const ext_pt *pt, const fe *k) {
    if (u256_is_zero(k)) {
        ext_zero(r);
        return;
    }
    ext_pt table[16];
    ext_zero(&table[0]);
    table[1] = *pt;
    for (int i = 2; i < 16; i++) ext_add(&table[i], &table[i - 1], pt);
    ext_pt acc;
    ext_zero(&acc);
    int started = 0;
    int top = (u256_bit_length(k) + 3) / 4 * 4 - 4;
    for (int shift = top; shift >= 0; shift -= 4) {
        if (started) {
            ext_double_t(&acc, &acc, 0);
            ext_double_t(&acc, &acc, 0);
            ext_double_t(&acc, &acc, 0);
            ext_double(&acc, &acc);
        }
        unsigned nib = nibble(k, shift);
        if (nib) {
            if (started) {
                ext_add(&acc, &acc, &table[nib]);
            } else {
                acc = table[nib];
                started = 1;
            }
        }
    }
    *r = acc;
}

/* Comb table T[j][v] = v * 2^(8j) * B8 (built once, on first use, with the GIL held). */
int b8_table_ready(void) {
    if (B8_TABLE != NULL) return 0;
    ext_pt *tab = (ext_pt *)malloc(sizeof(ext_pt) * COMB_WINDOWS * 256);
    if (tab == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    ext_pt b = B8_EXT;
    for (int j = 0; j < COMB_WINDOWS; j++) {
        ext_pt *row = &tab[j * 256];
        ext_zero(&row[0]);
        row[1] = b;
        for (int v = 2; v < 256; v++) ext_add(&row[v], &row[v - 1], &b);
        ext_add(&b, &row[255], &b);
    }
    B8_TABLE = tab;
    return 0;
}

/* k * B8 for any 256-bit k (B8 has order l, so this equals (k mod l) * B8). */
void base8_mul(ext_pt *r, const fe *k) {
    ext_pt acc;
    ext_zero(&acc);
    int started = 0;
    for (int j = 0; j < COMB_WINDOWS; j++) {
        unsigned v = (unsigned)((k->v[j / 8] >> (8 * (j % 8))) & 0xFF);
        if (v) {
            if (started) {
                ext_add(&acc, &acc, &B8_TABLE[(size_t)j * 256 + v]);
            } else {
                acc = B8_TABLE[(size_t)j * 256 + v];
                started = 1;
            }
        }
    }
    *r = acc;
}

/* Projective equality, as babyjub.ext_eq. */
int ext_eq(const ext_pt *p1, const ext_pt *p2) {
    fe l, r;
    fe_mul(&l, &p1->x, &p2->z);
    fe_mul(&r, &p2->x, &p1->z);
    if (!fe_eq(&l, &r)) return 0;
    fe_mul(&l, &p1->y, &p2->z);
    fe_mul(&r, &p2->y, &p1->z);
    return fe_eq(&l, &r);
}

/* a x^2 + y^2 == 1 + d x^2 y^2 (x, y in Montgomery form, already < p). */
int on_curve(const fe *x, const fe *y) {
    fe x2, y2, lhs, rhs;
    fe_sqr(&x2, x);
    fe_sqr(&y2, y);
    fe_mul(&lhs, &CURVE_A, &x2);
    fe_add(&lhs, &lhs, &y2);
    fe_mul(&rhs, &x2, &y2);
    fe_mul(&rhs, &rhs, &CURVE_D);
    fe_add(&rhs, &rhs, &ONE_M);
    return fe_eq(&lhs, &rhs);
}

/* Python tuple (x, y) from extended coordinates; ZeroDivisionError if Z == 0. */
static PyObject *ext_to_affine_py(const ext_pt *p) {
    if (u256_is_zero(&p->z)) {
        PyErr_SetString(PyExc_ZeroDivisionError, "point at infinity (Z = 0)");
        return NULL;
    }
    fe zi, x, y;
    fe_inv(&zi, &p->z);
    fe_mul(&x, &p->x, &zi);
    fe_mul(&y, &p->y, &zi);
    PyObject *px = fe_to_py(&x);
    if (px == NULL) return NULL;
    PyObject *py = fe_to_py(&y);
    if (py == NULL) {
        Py_DECREF(px);
        return NULL;
    }
    PyObject *res = PyTuple_Pack(2, px, py);
    Py_DECREF(px);
    Py_DECREF(py);
    return res;
}

int curve_check(void) {
    if (!CURVE_READY) {
        PyErr_SetString(PyExc_LookupError, "curve constants not installed (curve_init)");
        return -1;
    }
    return 0;
}

PyObject *py_curve_init(PyObject *self, PyObject *args) {
    PyObject *a, *d, *bx, *by, *l;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOO:curve_init", &a, &d, &bx, &by, &l)) return NULL;
    if (CURVE_READY) Py_RETURN_FALSE;
    fe am, dm, bxm, bym, lraw;
    if (fe_from_py(a, &am) < 0 || fe_from_py(d, &dm) < 0 || fe_from_py(bx, &bxm) < 0 ||
        fe_from_py(by, &bym) < 0) {
        return NULL;
    }
    int rc = u256_from_py(l, &lraw);
    if (rc < 0) return NULL;
    if (rc == 0) {
        PyErr_SetString(PyExc_ValueError, "subgroup order out of range");
        return NULL;
    }
    CURVE_A = am;
    CURVE_D = dm;
    if (!on_curve(&bxm, &bym)) {
        PyErr_SetString(PyExc_ValueError, "base point not on the curve");
        return NULL;
    }
    ext_from_affine(&B8_EXT, &bxm, &bym);
    SUB_ORDER = lraw;
    CURVE_READY = 1;
    Py_RETURN_TRUE;
}

/* Parse an affine point argument (ints in [0, p)). Returns 0 ok, -1 with exception. */
static int point_from_py(PyObject *x, PyObject *y, fe *xm, fe *ym) {
    if (fe_from_py(x, xm) < 0) return -1;
    if (fe_from_py(y, ym) < 0) return -1;
    return 0;
}

PyObject *py_scalar_mul(PyObject *self, PyObject *args) {
    PyObject *x, *y, *k;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO:scalar_mul", &x, &y, &k)) return NULL;
    if (curve_check() < 0) return NULL;
    fe xm, ym, kr;
    if (point_from_py(x, y, &xm, &ym) < 0) return NULL;
    int rc = u256_from_py(k, &kr);
    if (rc < 0) return NULL;
    if (rc == 0) {
        PyErr_SetString(PyExc_ValueError, "scalar must be in [0, 2^256)");
        return NULL;
    }
    ext_pt p, r;
    ext_from_affine(&p, &xm, &ym);
    ext_mul(&r, &p, &kr);
    return ext_to_affine_py(&r);
}

PyObject *py_base8_mul(PyObject *self, PyObject *k) {
    (void)self;
    if (curve_check() < 0 || b8_table_ready() < 0) return NULL;
    fe kr;
    int rc = u256_from_py(k, &kr);
    if (rc < 0) return NULL;
    if (rc == 0) {
        PyErr_SetString(PyExc_ValueError, "scalar must be in [0, 2^256)");
        return NULL;
    }
    ext_pt r;
    base8_mul(&r, &kr);
    return ext_to_affine_py(&r);
}

PyObject *py_is_on_curve(PyObject *self, PyObject *args) {
    PyObject *x, *y;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO:is_on_curve", &x, &y)) return NULL;
    if (curve_check() < 0) return NULL;
    fe xr, yr, xm, ym;
    int rx = u256_from_py(x, &xr);
    if (rx < 0) return NULL;
    int ry = u256_from_py(y, &yr);
    if (ry < 0) return NULL;
    if (rx == 0 || ry == 0 || u256_geq(&xr, &P_MOD) || u256_geq(&yr, &P_MOD)) Py_RETURN_FALSE;
    fe_to_mont(&xm, &xr);
    fe_to_mont(&ym, &yr);
    return PyBool_FromLong(on_curve(&xm, &ym));
}
