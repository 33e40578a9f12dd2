#ifndef CFASTCGI_SHIM_H
#define CFASTCGI_SHIM_H
// libfcgi imports as is. The only addition: FCGX_FPrintF is variadic, so Swift cannot call it;
// we write with FCGX_PutStr instead and need nothing from here but the headers.
#include <fcgiapp.h>
#endif
