/* BabyJubJub in extended twisted Edwards coordinates. */
#ifndef BITCOINZK_CURVE_H
#define BITCOINZK_CURVE_H

#include "field.h"

typedef struct {
    fe x, y, t, z;
} ext_pt;

extern fe SUB_ORDER; /* l, raw */

void ext_from_affine(ext_pt *r, const fe *x, const fe *y);
void ext_add(ext_pt *r, const ext_pt *p1, const ext_pt *p2);
void ext_double_t(ext_pt *r, const ext_pt *p1, int with_t);
void ext_double(ext_pt *r, const ext_pt *p1);
void ext_mul(ext_pt *r, const ext_pt *pt, const fe *k);
int b8_table_ready(void);
void base8_mul(ext_pt *r, const fe *k);
int ext_eq(const ext_pt *p1, const ext_pt *p2);
int on_curve(const fe *x, const fe *y);
int curve_check(void);
PyObject *py_curve_init(PyObject *self, PyObject *args);
PyObject *py_scalar_mul(PyObject *self, PyObject *args);
PyObject *py_base8_mul(PyObject *self, PyObject *k);
PyObject *py_is_on_curve(PyObject *self, PyObject *args);

#endif
