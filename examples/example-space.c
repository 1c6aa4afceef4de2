/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The main job on plain memory: build a guest address space out of several
 * regions, write and read typed values, cross a region boundary, and show
 * what an access to a hole reports.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <guestmem.h>
#include <guestmem/unix.h>

#define KiB 1024ull

static int add(struct gm_space *s, struct gm_region *r, int ret,
	       const char *what)
{
	if (!ret)
		ret = gm_space_add_region(s, r);
	if (ret) {
		fprintf(stderr, "example: %s: %s\n", what, gm_last_error());
		gm_region_destroy(r);
		return ret;
	}
	return 0;
}

int main(void)
{
	struct gm_region_info info[8];
	struct gm_space *s;
	struct gm_region *r;
	struct gm_view ring;
	char msg[] = "hello from across a region boundary";
	char back[sizeof(msg)];
	uint32_t u32;
	uint64_t u64, old;
	uint16_t le;
	ssize_t i, n;
	int ret;

	ret = gm_space_new(&s, "demo", 0);
	if (ret) {
		fprintf(stderr, "example: gm_space_new: %s\n", gm_last_error());
		return 1;
	}
	/* [0, 64K) anonymous, [64K, 128K) a memfd right after it, a hole,
	 * then [1M, 1M + 64K) read-only. */
	ret = gm_unix_region_new_anon(0, 64 * KiB, 0, &r);
	if (add(s, r, ret, "anonymous region"))
		goto fail;
	ret = gm_unix_region_new_memfd(64 * KiB, 64 * KiB, 0, &r);
	if (add(s, r, ret, "memfd region"))
		goto fail;
	ret = gm_unix_region_new_anon(1024 * KiB, 64 * KiB, GM_UNIX_RDONLY, &r);
	if (add(s, r, ret, "read-only region"))
		goto fail;

	n = gm_space_get_regions(s, info, 8);
	printf("space '%s' has %zd regions:\n", gm_space_name(s), n);
	for (i = 0; i < n && i < 8; i++)
		printf("  0x%08" PRIx64 "-0x%08" PRIx64 " %-6s %s\n",
		       info[i].gpa, info[i].gpa + info[i].size,
		       info[i].backend,
		       info[i].flags & GM_REGION_RDONLY ? "read-only"
							: "read-write");

	/* Typed values, host order and explicit byte order. */
	if (gm_write_u32(s, 0x100, 0xdeadbeef) ||
	    gm_write_le16(s, 0x104, 0x1234) ||
	    gm_read_u32(s, 0x100, &u32) || gm_read_le16(s, 0x104, &le))
		goto err;
	printf("wrote u32 0xdeadbeef at 0x100, read back 0x%" PRIx32 "\n", u32);
	printf("wrote le16 0x1234 at 0x104, read back 0x%" PRIx16 "\n", le);

	/* A u64 and a string that straddle the end of the first region. */
	if (gm_write_u64(s, 64 * KiB - 4, 0x1122334455667788ull) ||
	    gm_read_u64(s, 64 * KiB - 4, &u64))
		goto err;
	printf("u64 across 0x10000 (two regions): 0x%" PRIx64 "\n", u64);
	if (gm_write(s, 64 * KiB - 10, msg, sizeof(msg)) ||
	    gm_read(s, 64 * KiB - 10, back, sizeof(back)))
		goto err;
	printf("string across 0x10000: \"%s\"\n", back);

	/* An atomic counter and an inline view of a small "ring". */
	if (gm_atomic_fetch_add_u64(s, 0x200, 5, &old, GM_SEQ_CST) ||
	    gm_atomic_load_u64(s, 0x200, &u64, GM_ACQUIRE))
		goto err;
	printf("atomic fetch_add 5: old %" PRIu64 ", new %" PRIu64 "\n", old,
	       u64);
	if (gm_view_get(s, 0x1000, 4096, GM_PROT_READ | GM_PROT_WRITE, &ring))
		goto err;
	gm_view_atomic_store_u16(&ring, 0x1002, 7, GM_RELEASE);
	gm_view_read_u16(&ring, 0x1002, &le);
	printf("view of 0x1000-0x2000: ring idx stored and read inline: %u\n",
	       le);
	gm_view_put(&ring);

	/* Errors name the space, the operation, the range and the address. */
	ret = gm_read(s, 128 * KiB - 8, back, 16);
	printf("read across the hole at 0x20000 -> %d: %s\n", ret,
	       gm_last_error());
	ret = gm_write_u32(s, 1024 * KiB, 1);
	printf("write to the read-only region -> %d: %s\n", ret,
	       gm_last_error());

	gm_space_free(s);
	printf("done\n");
	return 0;
err:
	fprintf(stderr, "example: %s\n", gm_last_error());
fail:
	gm_space_free(s);
	return 1;
}
