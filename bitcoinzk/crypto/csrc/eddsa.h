/* EdDSA-Poseidon verification over BabyJubJub (circomlib's, as eddsa.verify). */
#ifndef BITCOINZK_EDDSA_H
#define BITCOINZK_EDDSA_H

#include "field.h"

PyObject *py_eddsa_verify(PyObject *self, PyObject *args);

#endif
