/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/guestmem-xensim, the guestmem(1) tool linked with this file and
 * tests/libxensim.la instead of the Xen libraries: create simulated
 * domains and grants before the tool runs, from the environment variable
 * GUESTMEM_XENSIM_SETUP, a ';'-separated list of:
 *
 *   domain=DOMID,PAGES          a domain with PAGES zeroed 4 KiB frames
 *   maxgpfn=DOMID,GFN           what xc_domain_maximum_gpfn() reports
 *   hole=DOMID,GFN,COUNT        frames with no page (a hole of the physmap)
 *   grant=DOMID,GFN,COUNT[,ro]  grant COUNT frames from GFN to dom0; refs
 *                               are consecutive from 8 in each domain
 *   badframe=DOMID,GFN[,ERRNO]  foreign maps of GFN fail (default EINVAL)
 *   poke=DOMID,GPA,TEXT         put TEXT into the domain's memory at GPA
 *
 * A bad list fails with exit code 2 before the tool starts.  Nothing of
 * this is in the installed tool, which has no hook for it: the setup runs
 * as a constructor, before main().
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h" /* the tool's own, in tools/ */
#include "xensim/xensim.h"

static int num(const char *s, uint64_t *v)
{
	return cli_parse_u64(s, v);
}

static int item(char *it)
{
	char *eq = strchr(it, '='), *f[4] = { NULL };
	uint64_t a = 0, b = 0, n = 0;
	uint32_t ref;
	size_t nf = 0;
	int ret;

	if (!eq)
		return -EINVAL;
	*eq = '\0';
	for (char *p = eq + 1; p && nf < 4; nf++) {
		f[nf] = p;
		/* poke's text may contain commas: it is the last field. */
		if (!strcmp(it, "poke") && nf == 2)
			p = NULL;
		else if ((p = strchr(p, ',')))
			*p++ = '\0';
	}
	if (nf < 2 || num(f[0], &a) || (strcmp(it, "poke") && num(f[1], &b)))
		return -EINVAL;
	if (!strcmp(it, "domain"))
		return xensim_domain_create((uint32_t)a, b, XENSIM_DOM_HVM);
	if (!strcmp(it, "maxgpfn"))
		return xensim_domain_set_max_gpfn((uint32_t)a, b);
	if (!strcmp(it, "hole")) {
		if (nf < 3 || num(f[2], &n))
			return -EINVAL;
		return xensim_domain_set_populated((uint32_t)a, b, n, 0);
	}
	if (!strcmp(it, "grant")) {
		if (nf < 3 || num(f[2], &n))
			return -EINVAL;
		return xensim_grant_share_range((uint32_t)a, b, (uint32_t)n,
						!(f[3] && !strcmp(f[3], "ro")),
						&ref);
	}
	if (!strcmp(it, "badframe")) {
		n = EINVAL;
		if (f[2] && num(f[2], &n))
			return -EINVAL;
		return xensim_frame_set_error((uint32_t)a, b, -(int)n, -1);
	}
	if (!strcmp(it, "poke")) {
		uint8_t *mem = xensim_domain_mem((uint32_t)a);

		if (nf < 3 || num(f[1], &b) || !mem)
			return -EINVAL;
		memcpy(mem + b, f[2], strlen(f[2]));
		return 0;
	}
	ret = -EINVAL;
	return ret;
}

static void __attribute__((constructor)) xensim_setup(void)
{
	const char *env = getenv("GUESTMEM_XENSIM_SETUP");
	char *s, *it, *save = NULL;
	int ret = 0;

	if (!env)
		return;
	s = strdup(env);
	if (!s)
		exit(cli_nomem());
	for (it = strtok_r(s, ";", &save); it && !ret;
	     it = strtok_r(NULL, ";", &save)) {
		char copy[256];

		snprintf(copy, sizeof(copy), "%s", it);
		ret = item(it);
		if (ret)
			cli_err("GUESTMEM_XENSIM_SETUP: '%s': %s", copy,
				strerror(-ret));
	}
	free(s);
	if (ret)
		exit(CLI_USAGE);
}
