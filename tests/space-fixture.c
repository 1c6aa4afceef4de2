/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fixture the test-space* programs share (space-fixture.h). */
#include "space-fixture.h"

/* Make a fake region; the test fails if it cannot. */
struct fake_region *fake_new(struct fake_config cfg)
{
	struct fake_region *f;

	assert_int_equal(fake_region_new(&cfg, &f), 0);
	return f;
}

/* Make a fake region and add it to @s. */
struct fake_region *fake_add(struct gm_space *s, struct fake_config cfg)
{
	struct fake_region *f = fake_new(cfg);

	assert_int_equal(gm_space_add_region(s, fake_gm(f)), 0);
	return f;
}

int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const struct params *p = *state;

	if (!fx)
		return -1;
	fx->chunk = p ? p->chunk : 0;
	fake_violations_reset();
	if (gm_space_new(&fx->s, SPACE_NAME, p ? p->space_flags : 0)) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

int teardown(void **state)
{
	struct fixture *fx = *state;
	int ret = 0;

	gm_space_free(fx->s);
	fake_graveyard_free();
	if (fake_violations()) {
		print_error("fake backend: %lu contract violation(s), first: "
			    "%s\n",
			    fake_violations(), fake_violation_msg());
		ret = -1;
	}
	free(fx);
	return ret;
}
