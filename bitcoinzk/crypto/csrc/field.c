/* The BN254 scalar field: powers, inverses, square roots, Python ints, the self-test. */
#include "field.h"

uint64_t P_INV;
fe R2;
fe ONE_M;

/* a^e for a raw (non-Montgomery) exponent e, a in Montgomery form. */
void fe_pow(fe *r, const fe *a, const fe *e) {
    fe acc = ONE_M;
    for (int i = 255; i >= 0; i--) {
        fe_sqr(&acc, &acc);
        if ((e->v[i / 64] >> (i % 64)) & 1) {
            fe_mul(&acc, &acc, a);
        }
    }
    *r = acc;
}

/* a^-1 = a^(p-2); a must be non-zero. */
void fe_inv(fe *r, const fe *a) {
    fe e = P_MOD;
    e.v[0] -= 2; /* low limb is ...0001, no borrow */
    fe_pow(r, a, &e);
}

void field_setup(void) {
    /* Newton iteration for p^-1 mod 2^64 (p is odd). */
    uint64_t inv = 1;
    for (int i = 0; i < 7; i++) inv *= 2 - P_MOD.v[0] * inv;
    P_INV = (uint64_t)0 - inv;
    /* 2^512 mod p by 512 modular doublings of 1 (plain, non-Montgomery arithmetic). */
    fe x = {{1, 0, 0, 0}};
    for (int i = 0; i < 512; i++) {
        fe_add(&x, &x, &x);
        if (i == 255) ONE_M = x; /* 2^256 mod p */
    }
    R2 = x;
}

/* ---- Python int <-> 256-bit limbs --------------------------------------------------- */

/*
 * 1: ok, out holds the value; 0: an int that is negative or >= 2^256 (no error set);
 * -1: not an int / bool, or another error (exception set).
 */
int u256_from_py(PyObject *o, fe *out) {
    if (!PyLong_Check(o) || PyBool_Check(o)) {
        PyErr_Format(PyExc_TypeError, "expected int, got %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    unsigned char buf[32];
#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t n = PyLong_AsNativeBytes(o, buf, 32,
                                        Py_ASNATIVEBYTES_LITTLE_ENDIAN |
                                            Py_ASNATIVEBYTES_UNSIGNED_BUFFER |
                                            Py_ASNATIVEBYTES_REJECT_NEGATIVE);
    if (n < 0) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            return 0;
        }
        return -1;
    }
    if (n > 32) return 0;
#else
    if (_PyLong_AsByteArray((PyLongObject *)o, buf, 32, 1, 0) < 0) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            return 0;
        }
        return -1;
    }
#endif
    for (int i = 0; i < 4; i++) {
        uint64_t w = 0;
        for (int j = 7; j >= 0; j--) w = (w << 8) | buf[8 * i + j];
        out->v[i] = w;
    }
    return 1;
}

PyObject *u256_to_py(const fe *a) {
    unsigned char buf[32];
    for (int i = 0; i < 4; i++) {
        uint64_t w = a->v[i];
        for (int j = 0; j < 8; j++) {
            buf[8 * i + j] = (unsigned char)(w & 0xFF);
            w >>= 8;
        }
    }
#if PY_VERSION_HEX >= 0x030D0000
    return PyLong_FromUnsignedNativeBytes(buf, 32, Py_ASNATIVEBYTES_LITTLE_ENDIAN);
#else
    return _PyLong_FromByteArray(buf, 32, 1, 0);
#endif
}

/* A field element from Python: must be an int in [0, p). Returns 0 ok, -1 with exception. */
int fe_from_py(PyObject *o, fe *out_mont) {
    fe raw;
    int rc = u256_from_py(o, &raw);
    if (rc < 0) return -1;
    if (rc == 0 || u256_geq(&raw, &P_MOD)) {
        PyErr_SetString(PyExc_ValueError, "not a field element (0 <= x < r)");
        return -1;
    }
    fe_to_mont(out_mont, &raw);
    return 0;
}

PyObject *fe_to_py(const fe *a_mont) {
    fe raw;
    fe_from_mont(&raw, a_mont);
    return u256_to_py(&raw);
}

/* ---- square roots (babyjub._sqrt, same Tonelli-Shanks steps, so the same root) --------- */

static fe SQRT_Q;       /* (p - 1) / 2^28, odd */
static fe SQRT_Q1H;     /* (q + 1) / 2 */
static fe SQRT_C0;      /* 5^q in Montgomery form (5 is a non-residue) */
#define SQRT_S 28

static void u256_shr(fe *r, const fe *a, int k) { /* 0 < k < 64 */
    for (int i = 0; i < 4; i++) {
        uint64_t hi = i < 3 ? a->v[i + 1] : 0;
        r->v[i] = (a->v[i] >> k) | (hi << (64 - k));
    }
}

void sqrt_setup(void) {
    fe pm1 = P_MOD;
    pm1.v[0] -= 1;
    u256_shr(&SQRT_Q, &pm1, SQRT_S);
    fe q1 = SQRT_Q, one = {{1, 0, 0, 0}};
    u256_add(&q1, &q1, &one);
    u256_shr(&SQRT_Q1H, &q1, 1);
    fe five = {{5, 0, 0, 0}}, five_m;
    fe_to_mont(&five_m, &five);
    fe_pow(&SQRT_C0, &five_m, &SQRT_Q);
}

/* Returns 1 and the root (Montgomery) if n (Montgomery, < p) is a square, else 0. */
static int fe_sqrt(fe *root_out, const fe *n) {
    if (u256_is_zero(n)) {
        *root_out = *n;
        return 1;
    }
    int m = SQRT_S;
    fe c = SQRT_C0, t, root;
    fe_pow(&t, n, &SQRT_Q);
    fe_pow(&root, n, &SQRT_Q1H);
    while (!fe_eq(&t, &ONE_M)) {
        int i = 0;
        fe t2 = t;
        while (!fe_eq(&t2, &ONE_M)) {
            fe_sqr(&t2, &t2);
            i++;
            if (i >= m) return 0; /* t has order 2^m: n is not a square */
        }
        fe b = c;
        for (int j = 0; j < m - i - 1; j++) fe_sqr(&b, &b);
        m = i;
        fe_sqr(&c, &b);
        fe_mul(&t, &t, &c);
        fe_mul(&root, &root, &b);
    }
    fe chk;
    fe_sqr(&chk, &root);
    if (!fe_eq(&chk, n)) return 0; /* unreachable for a prime modulus; belt and braces */
    *root_out = root;
    return 1;
}

PyObject *py_sqrt(PyObject *self, PyObject *arg) {
    (void)self;
    fe n, r;
    if (fe_from_py(arg, &n) < 0) return NULL;
    if (!fe_sqrt(&r, &n)) Py_RETURN_NONE;
    return fe_to_py(&r);
}

/* ---- self-test of the assembly multiplication against the portable C ------------------ */

static uint64_t xorshift(uint64_t *st) {
    uint64_t x = *st;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *st = x;
}

/* A field element < p: random limbs, or values next to 0, p, 2^64 k (carry edges). */
static void selftest_fe(fe *r, uint64_t *st) {
    uint64_t kind = xorshift(st) % 6;
    for (int i = 0; i < 4; i++) r->v[i] = xorshift(st);
    if (kind == 1) { /* p - small */
        fe d = {{xorshift(st) & 0xFFFF, 0, 0, 0}};
        u256_sub(r, &P_MOD, &d);
        if (u256_is_zero(&d)) r->v[0] -= 1;
        return;
    }
    if (kind == 2) { /* small */
        r->v[1] = r->v[2] = r->v[3] = 0;
        r->v[0] &= 0xFF;
        return;
    }
    if (kind == 3) { /* all-ones limbs below the top */
        r->v[0] = r->v[1] = r->v[2] = ~(uint64_t)0;
    }
    if (kind == 4) { /* only the top limb */
        r->v[0] = r->v[1] = r->v[2] = 0;
    }
    r->v[3] %= P_MOD.v[3]; /* now < p */
}

/* 1 iff fe_mul agrees with fe_mul_c on n pseudo-random pairs (trivially 1 without asm). */
int selftest_mul(long n, uint64_t seed) {
    uint64_t st = seed | 1;
    for (long i = 0; i < n; i++) {
        fe a, b, r1, r2;
        selftest_fe(&a, &st);
        selftest_fe(&b, &st);
        fe_mul(&r1, &a, &b);
        fe_mul_c(&r2, &a, &b);
        if (!fe_eq(&r1, &r2) || u256_geq(&r1, &P_MOD)) return 0;
    }
    return 1;
}

PyObject *py_selftest(PyObject *self, PyObject *args) {
    long n;
    unsigned long long seed;
    (void)self;
    if (!PyArg_ParseTuple(args, "lK:selftest", &n, &seed)) return NULL;
    return PyBool_FromLong(selftest_mul(n, (uint64_t)seed));
}
