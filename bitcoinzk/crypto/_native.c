/*
 * bitcoinzk.crypto._native -- BN254 scalar field, circomlib Poseidon and BabyJubJub in C.
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
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NATIVE_ABI_VERSION 3

__extension__ typedef unsigned __int128 u128;

typedef struct {
    uint64_t v[4];
} fe;

/* p = 0x30644E72E131A029B85045B68181585D2833E84879B9709143E1F593F0000001 */
static const fe P_MOD = {{0x43E1F593F0000001ULL, 0x2833E84879B97091ULL, 0xB85045B68181585DULL,
                          0x30644E72E131A029ULL}};
static uint64_t P_INV;   /* -p^-1 mod 2^64, computed at module init */
static fe R2;            /* 2^512 mod p (to enter Montgomery form) */
static fe ONE_M;         /* 1 in Montgomery form = 2^256 mod p */
static const fe ONE_RAW = {{1, 0, 0, 0}};

/* ---- 256-bit helpers on raw limbs ------------------------------------------------- */

static inline int u256_geq(const fe *a, const fe *b) {
    for (int i = 3; i >= 0; i--) {
        if (a->v[i] != b->v[i]) return a->v[i] > b->v[i];
    }
    return 1;
}

static inline int u256_is_zero(const fe *a) {
    return (a->v[0] | a->v[1] | a->v[2] | a->v[3]) == 0;
}

static inline int fe_eq(const fe *a, const fe *b) {
    return a->v[0] == b->v[0] && a->v[1] == b->v[1] && a->v[2] == b->v[2] && a->v[3] == b->v[3];
}

/* r = a - b, returns the borrow (0 or 1). */
static inline uint64_t u256_sub(fe *r, const fe *a, const fe *b) {
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 d = (u128)a->v[i] - b->v[i] - borrow;
        r->v[i] = (uint64_t)d;
        borrow = (uint64_t)(d >> 64) & 1;
    }
    return borrow;
}

/* r = a + b, returns the carry. */
static inline uint64_t u256_add(fe *r, const fe *a, const fe *b) {
    uint64_t carry = 0;
    for (int i = 0; i < 4; i++) {
        u128 s = (u128)a->v[i] + b->v[i] + carry;
        r->v[i] = (uint64_t)s;
        carry = (uint64_t)(s >> 64);
    }
    return carry;
}

/* ---- field arithmetic mod p (inputs and outputs in [0, p)) -------------------------- */

static inline void fe_add(fe *r, const fe *a, const fe *b) {
    /* a, b < p < 2^254: the sum fits in 256 bits. Unrolled, branch-free conditional
       subtraction (a branch would be mispredicted half the time). */
    u128 x = (u128)a->v[0] + b->v[0];
    const uint64_t s0 = (uint64_t)x;
    x = (u128)a->v[1] + b->v[1] + (uint64_t)(x >> 64);
    const uint64_t s1 = (uint64_t)x;
    x = (u128)a->v[2] + b->v[2] + (uint64_t)(x >> 64);
    const uint64_t s2 = (uint64_t)x;
    const uint64_t s3 = a->v[3] + b->v[3] + (uint64_t)(x >> 64);
    u128 y = (u128)s0 - P_MOD.v[0];
    const uint64_t d0 = (uint64_t)y;
    y = (u128)s1 - P_MOD.v[1] - ((uint64_t)(y >> 64) & 1);
    const uint64_t d1 = (uint64_t)y;
    y = (u128)s2 - P_MOD.v[2] - ((uint64_t)(y >> 64) & 1);
    const uint64_t d2 = (uint64_t)y;
    y = (u128)s3 - P_MOD.v[3] - ((uint64_t)(y >> 64) & 1);
    const uint64_t d3 = (uint64_t)y;
    const int lt = (int)((uint64_t)(y >> 64) & 1); /* s < p: keep s */
    r->v[0] = lt ? s0 : d0;
    r->v[1] = lt ? s1 : d1;
    r->v[2] = lt ? s2 : d2;
    r->v[3] = lt ? s3 : d3;
}

static inline void fe_sub(fe *r, const fe *a, const fe *b) {
    u128 y = (u128)a->v[0] - b->v[0];
    const uint64_t d0 = (uint64_t)y;
    y = (u128)a->v[1] - b->v[1] - ((uint64_t)(y >> 64) & 1);
    const uint64_t d1 = (uint64_t)y;
    y = (u128)a->v[2] - b->v[2] - ((uint64_t)(y >> 64) & 1);
    const uint64_t d2 = (uint64_t)y;
    y = (u128)a->v[3] - b->v[3] - ((uint64_t)(y >> 64) & 1);
    const uint64_t d3 = (uint64_t)y;
    const uint64_t mask = (uint64_t)0 - ((uint64_t)(y >> 64) & 1); /* all ones iff a < b */
    u128 x = (u128)d0 + (P_MOD.v[0] & mask);
    r->v[0] = (uint64_t)x;
    x = (u128)d1 + (P_MOD.v[1] & mask) + (uint64_t)(x >> 64);
    r->v[1] = (uint64_t)x;
    x = (u128)d2 + (P_MOD.v[2] & mask) + (uint64_t)(x >> 64);
    r->v[2] = (uint64_t)x;
    r->v[3] = d3 + (P_MOD.v[3] & mask) + (uint64_t)(x >> 64);
}

static inline void fe_neg(fe *r, const fe *a) {
    if (u256_is_zero(a)) {
        *r = *a;
    } else {
        u256_sub(r, &P_MOD, a);
    }
}

/* Montgomery product a * b / 2^256 mod p (CIOS), portable C. */
static inline void fe_mul_c(fe *r, const fe *a, const fe *b) {
    uint64_t t[6] = {0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        u128 c = 0;
        uint64_t bi = b->v[i];
        for (int j = 0; j < 4; j++) {
            c += (u128)a->v[j] * bi + t[j];
            t[j] = (uint64_t)c;
            c >>= 64;
        }
        c += t[4];
        t[4] = (uint64_t)c;
        t[5] = (uint64_t)(c >> 64);

        uint64_t m = t[0] * P_INV;
        c = (u128)m * P_MOD.v[0] + t[0];
        c >>= 64;
        for (int j = 1; j < 4; j++) {
            c += (u128)m * P_MOD.v[j] + t[j];
            t[j - 1] = (uint64_t)c;
            c >>= 64;
        }
        c += t[4];
        t[3] = (uint64_t)c;
        t[4] = t[5] + (uint64_t)(c >> 64);
    }
    fe out = {{t[0], t[1], t[2], t[3]}};
    if (t[4] || u256_geq(&out, &P_MOD)) {
        u256_sub(&out, &out, &P_MOD);
    }
    *r = out;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(BITCOINZK_NO_ASM)
#define FE_MUL_ASM 1
/*
 * The same product in x86-64 assembly (plain mulq/adc, every x86-64 CPU): the "no-carry"
 * CIOS variant, valid because p's top limb is < 2^62 (t stays within 4 limbs and the
 * result within [0, 2p)). ~25% faster Poseidon than the C above, which gcc compiles to
 * ~380 instructions. Checked against fe_mul_c at import (native_selftest) and in tests.
 * Per round i:  (A, t0) = t0 + a0*b_i;  m = t0 * P_INV;  C = hi(t0 + m*p0);
 *   for j = 1..3:  (A, t_j) = t_j + a_j*b_i + A;  (C, t_{j-1}) = t_j + m*p_j + C;
 *   t3 = C + A.
 */
#define FE_MUL_ROUND(I)                                                                   \
    "movq " #I "*8(%[b]), %[bi]\n\t"                                                      \
    "movq 0(%[a]), %%rax\n\t mulq %[bi]\n\t addq %%rax, %[t0]\n\t adcq $0, %%rdx\n\t"     \
    "movq %%rdx, %[A]\n\t"                                                                \
    "movq %[t0], %[m]\n\t imulq %[inv], %[m]\n\t"                                         \
    "movq %[p0], %%rax\n\t mulq %[m]\n\t addq %[t0], %%rax\n\t adcq $0, %%rdx\n\t"       \
    "movq %%rdx, %[C]\n\t"                                                                \
    "movq 8(%[a]), %%rax\n\t mulq %[bi]\n\t addq %[A], %%rax\n\t adcq $0, %%rdx\n\t"      \
    "addq %%rax, %[t1]\n\t adcq $0, %%rdx\n\t movq %%rdx, %[A]\n\t"                         \
    "movq %[p1], %%rax\n\t mulq %[m]\n\t addq %[C], %%rax\n\t adcq $0, %%rdx\n\t"         \
    "addq %[t1], %%rax\n\t adcq $0, %%rdx\n\t movq %%rax, %[t0]\n\t movq %%rdx, %[C]\n\t"   \
    "movq 16(%[a]), %%rax\n\t mulq %[bi]\n\t addq %[A], %%rax\n\t adcq $0, %%rdx\n\t"     \
    "addq %%rax, %[t2]\n\t adcq $0, %%rdx\n\t movq %%rdx, %[A]\n\t"                         \
    "movq %[p2], %%rax\n\t mulq %[m]\n\t addq %[C], %%rax\n\t adcq $0, %%rdx\n\t"         \
    "addq %[t2], %%rax\n\t adcq $0, %%rdx\n\t movq %%rax, %[t1]\n\t movq %%rdx, %[C]\n\t"   \
    "movq 24(%[a]), %%rax\n\t mulq %[bi]\n\t addq %[A], %%rax\n\t adcq $0, %%rdx\n\t"     \
    "addq %%rax, %[t3]\n\t adcq $0, %%rdx\n\t movq %%rdx, %[A]\n\t"                         \
    "movq %[p3], %%rax\n\t mulq %[m]\n\t addq %[C], %%rax\n\t adcq $0, %%rdx\n\t"         \
    "addq %[t3], %%rax\n\t adcq $0, %%rdx\n\t movq %%rax, %[t2]\n\t"                        \
    "leaq (%%rdx, %[A]), %[t3]\n\t"

static inline void fe_mul_asm(fe *r, const fe *a, const fe *b) {
    uint64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0, A, C, m, bi;
    __asm__(FE_MUL_ROUND(0) FE_MUL_ROUND(1) FE_MUL_ROUND(2) FE_MUL_ROUND(3)
            : [t0] "+&r"(t0), [t1] "+&r"(t1), [t2] "+&r"(t2), [t3] "+&r"(t3), [A] "=&r"(A),
              [C] "=&r"(C), [m] "=&r"(m), [bi] "=&r"(bi)
            : [a] "r"(a->v), [b] "r"(b->v), [inv] "m"(P_INV), [p0] "m"(P_MOD.v[0]),
              [p1] "m"(P_MOD.v[1]), [p2] "m"(P_MOD.v[2]), [p3] "m"(P_MOD.v[3])
            : "rax", "rdx", "cc", "memory");
    fe out = {{t0, t1, t2, t3}};
    if (u256_geq(&out, &P_MOD)) u256_sub(&out, &out, &P_MOD);
    *r = out;
}

static inline void fe_mul(fe *r, const fe *a, const fe *b) { fe_mul_asm(r, a, b); }
#else
#define FE_MUL_ASM 0
static inline void fe_mul(fe *r, const fe *a, const fe *b) { fe_mul_c(r, a, b); }
#endif

/* ---- lazy reduction: 512-bit products, summed, reduced once ---------------------------
 *
 * For a, b < p, a*b < p^2 < 0.036 * 2^512, so up to 17 products (Poseidon's widest
 * matrix row) sum to < 0.61 * 2^512 and, adding the < p * 2^256 < 0.19 * 2^512 that
 * Montgomery reduction adds, never overflow 512 bits. The reduced value is then
 * < sum / 2^256 + p < 4.3 p, brought into [0, p) by at most 4 subtractions.
 */

typedef struct {
    uint64_t v[8];
} wide;

static inline void wide_mul(wide *r, const fe *a, const fe *b) {
    uint64_t t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        u128 c = 0;
        uint64_t bi = b->v[i];
        for (int j = 0; j < 4; j++) {
            c += (u128)a->v[j] * bi + t[i + j];
            t[i + j] = (uint64_t)c;
            c >>= 64;
        }
        t[i + 4] = (uint64_t)c;
    }
    memcpy(r->v, t, sizeof t);
}

static inline void wide_add(wide *acc, const wide *x) {
    u128 c = 0;
    for (int i = 0; i < 8; i++) {
        c += (u128)acc->v[i] + x->v[i];
        acc->v[i] = (uint64_t)c;
        c >>= 64;
    }
}

/* Montgomery reduction T / 2^256 mod p, fully reduced; T < 0.81 * 2^512 (see above). */
static inline void fe_redc(fe *r, const wide *in) {
    uint64_t t[8];
    memcpy(t, in->v, sizeof t);
    uint64_t carry_hi = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t m = t[i] * P_INV;
        u128 c = 0;
        for (int j = 0; j < 4; j++) {
            c += (u128)m * P_MOD.v[j] + t[i + j];
            t[i + j] = (uint64_t)c;
            c >>= 64;
        }
        c += (u128)t[i + 4] + carry_hi;
        t[i + 4] = (uint64_t)c;
        carry_hi = (uint64_t)(c >> 64);
    }
    fe out = {{t[4], t[5], t[6], t[7]}};
    while (u256_geq(&out, &P_MOD)) u256_sub(&out, &out, &P_MOD);
    *r = out;
}

static inline void fe_sqr(fe *r, const fe *a) { fe_mul(r, a, a); }

static inline void fe_to_mont(fe *r, const fe *a) { fe_mul(r, a, &R2); }

static inline void fe_from_mont(fe *r, const fe *a) { fe_mul(r, a, &ONE_RAW); }

/* a^e for a raw (non-Montgomery) exponent e, a in Montgomery form. */
static void fe_pow(fe *r, const fe *a, const fe *e) {
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
static void fe_inv(fe *r, const fe *a) {
    fe e = P_MOD;
    e.v[0] -= 2; /* low limb is ...0001, no borrow */
    fe_pow(r, a, &e);
}

static void field_setup(void) {
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
static int u256_from_py(PyObject *o, fe *out) {
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

static PyObject *u256_to_py(const fe *a) {
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
static int fe_from_py(PyObject *o, fe *out_mont) {
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

static PyObject *fe_to_py(const fe *a_mont) {
    fe raw;
    fe_from_mont(&raw, a_mont);
    return u256_to_py(&raw);
}

/* ---- Poseidon (circomlib's optimised PoseidonEx, initialState = 0, one output) -------- */

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

static poseidon_consts PC[MAX_T + 1];

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

static PyObject *py_poseidon_init(PyObject *self, PyObject *args) {
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
static void poseidon_core(const poseidon_consts *k, const fe *inputs, fe *result) {
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

static PyObject *py_poseidon(PyObject *self, PyObject *arg) {
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
static PyObject *py_merkle_path(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
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

/* ---- BabyJubJub in extended twisted Edwards coordinates ----------------------------- */

typedef struct {
    fe x, y, t, z;
} ext_pt;

static int CURVE_READY = 0;
static fe CURVE_A; /* Montgomery form */
static fe CURVE_D;
static ext_pt B8_EXT;
static fe SUB_ORDER; /* l, raw */

#define COMB_WINDOW 8
#define COMB_WINDOWS 32 /* 256 bits */
static ext_pt *B8_TABLE = NULL; /* [COMB_WINDOWS][256] */

static void ext_zero(ext_pt *r) {
    memset(&r->x, 0, sizeof(fe));
    r->y = ONE_M;
    memset(&r->t, 0, sizeof(fe));
    r->z = ONE_M;
}

static void ext_from_affine(ext_pt *r, const fe *x, const fe *y) {
    r->x = *x;
    r->y = *y;
    fe_mul(&r->t, x, y);
    r->z = ONE_M;
}

/* add-2008-hwcd for general a: exactly the formulas of babyjub.ext_add. */
static void ext_add(ext_pt *r, const ext_pt *p1, const ext_pt *p2) {
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
static inline void ext_double_t(ext_pt *r, const ext_pt *p1, int with_t) {
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

static void ext_double(ext_pt *r, const ext_pt *p1) { ext_double_t(r, p1, 1); }

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
static void ext_mul(ext_pt *r, const ext_pt *pt, const fe *k) {
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
static int b8_table_ready(void) {
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
static void base8_mul(ext_pt *r, const fe *k) {
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
static int ext_eq(const ext_pt *p1, const ext_pt *p2) {
    fe l, r;
    fe_mul(&l, &p1->x, &p2->z);
    fe_mul(&r, &p2->x, &p1->z);
    if (!fe_eq(&l, &r)) return 0;
    fe_mul(&l, &p1->y, &p2->z);
    fe_mul(&r, &p2->y, &p1->z);
    return fe_eq(&l, &r);
}

/* a x^2 + y^2 == 1 + d x^2 y^2 (x, y in Montgomery form, already < p). */
static int on_curve(const fe *x, const fe *y) {
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

static int curve_check(void) {
    if (!CURVE_READY) {
        PyErr_SetString(PyExc_LookupError, "curve constants not installed (curve_init)");
        return -1;
    }
    return 0;
}

static PyObject *py_curve_init(PyObject *self, PyObject *args) {
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

static PyObject *py_scalar_mul(PyObject *self, PyObject *args) {
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

static PyObject *py_base8_mul(PyObject *self, PyObject *k) {
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

static PyObject *py_is_on_curve(PyObject *self, PyObject *args) {
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

/*
 * eddsa.verify, exactly: msg < r, S < l, R8 and A on the curve, x(8A) != 0,
 * hm = Poseidon(R8x, R8y, Ax, Ay, msg), and S*B8 == R8 + hm*(8A).
 * Any int value is accepted (out-of-range values verify as False); non-ints raise TypeError.
 */
static PyObject *py_eddsa_verify(PyObject *self, PyObject *args) {
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

static void sqrt_setup(void) {
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

static PyObject *py_sqrt(PyObject *self, PyObject *arg) {
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
static int selftest_mul(long n, uint64_t seed) {
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

static PyObject *py_selftest(PyObject *self, PyObject *args) {
    long n;
    unsigned long long seed;
    (void)self;
    if (!PyArg_ParseTuple(args, "lK:selftest", &n, &seed)) return NULL;
    return PyBool_FromLong(selftest_mul(n, (uint64_t)seed));
}

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
