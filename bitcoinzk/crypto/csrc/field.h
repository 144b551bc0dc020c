/*
 * The BN254 scalar field: 4 x 64-bit little-endian limbs in Montgomery form (R = 2^256),
 * always fully reduced to [0, p). Not constant time. The arithmetic is inline here, so
 * that Poseidon and the curve (other translation units) multiply without a call.
 */
#ifndef BITCOINZK_FIELD_H
#define BITCOINZK_FIELD_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

typedef struct {
    uint64_t v[4];
} fe;

/* p = 0x30644E72E131A029B85045B68181585D2833E84879B9709143E1F593F0000001 */
__attribute__((unused)) static const fe P_MOD = {{0x43E1F593F0000001ULL, 0x2833E84879B97091ULL,
                                                  0xB85045B68181585DULL, 0x30644E72E131A029ULL}};
extern uint64_t P_INV; /* -p^-1 mod 2^64, computed at module init */
extern fe R2;          /* 2^512 mod p (to enter Montgomery form) */
extern fe ONE_M;       /* 1 in Montgomery form = 2^256 mod p */
__attribute__((unused)) static const fe ONE_RAW = {{1, 0, 0, 0}};

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

void fe_pow(fe *r, const fe *a, const fe *e);
void fe_inv(fe *r, const fe *a);
void field_setup(void);

/* Python int <-> 256-bit limbs */
int u256_from_py(PyObject *o, fe *out);
PyObject *u256_to_py(const fe *a);
int fe_from_py(PyObject *o, fe *out_mont);
PyObject *fe_to_py(const fe *a_mont);

void sqrt_setup(void);
int selftest_mul(long n, uint64_t seed);
PyObject *py_sqrt(PyObject *self, PyObject *arg);
PyObject *py_selftest(PyObject *self, PyObject *args);

#endif
