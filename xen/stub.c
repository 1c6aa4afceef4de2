/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder: built when configure found no Xen (--with-xen=no). */
#include "config.h"
