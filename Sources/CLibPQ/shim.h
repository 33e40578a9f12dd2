#ifndef CLIBPQ_SHIM_H
#define CLIBPQ_SHIM_H
#include <libpq-fe.h>

// PG_DIAG_SQLSTATE is a character-literal macro ('C'), which the Swift importer drops.
// Remove when Swift imports character macros.
static const int clibpq_diag_sqlstate = PG_DIAG_SQLSTATE;
#endif
