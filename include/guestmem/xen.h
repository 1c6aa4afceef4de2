/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libguestmem Xen backend: placeholder until the Xen backend lands. */
#ifndef GUESTMEM_XEN_H
#define GUESTMEM_XEN_H
#include "../guestmem.h"
#endif
