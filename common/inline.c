/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Exported twins of the header's inline functions, for FFI users and for
 * binaries built against an older header.  Defining GM_INLINE before the
 * header turns each static inline into an ordinary exported definition.
 * [liburing ffi.c]
 */
#include "config.h"

#define GM_INLINE __attribute__((visibility("default")))
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#include <guestmem.h>
