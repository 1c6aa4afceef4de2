/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xen-blkback: a Xen block backend on libguestmem.
 *
 *   xen-blkback [--segments lease|copy] [--no-persistent] BACKEND-PATH IMAGE
 *
 * Serves the raw image IMAGE to the frontend of the vbd whose backend
 * directory the toolstack created at BACKEND-PATH (as libxl does:
 * frontend, frontend-id, online, state, mode, ...), until the frontend
 * closes, the toolstack sets online to 0 or the backend state to Closing,
 * the frontend's domain goes away, or SIGTERM/SIGINT.  Then it releases
 * everything and prints one line of counters on stdout.
 *
 * --segments lease (the default) maps each request's segments, copy has
 * Xen copy them.  In lease mode the backend offers feature-persistent
 * (unless --no-persistent): when the frontend offers it too, its grants
 * stay mapped in the library's cache from one request to the next.
 *
 * Exit status: 0 when nothing stayed mapped and no descriptor leaked, 1
 * otherwise, 2 on a usage or setup error.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xenbus.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: xen-blkback [--segments lease|copy] "
		   "[--no-persistent] BACKEND-PATH IMAGE\n");
}

/* Open descriptors of this process, or -1. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

/* Open the image; read-only when @mode says so or it cannot be written. */
static int open_image(const char *path, const char *mode, int *readonly,
		      uint64_t *sectors)
{
	struct stat st;
	int fd = -1;

	*readonly = mode && mode[0] == 'r';
	if (!*readonly) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0 && (errno == EACCES || errno == EROFS))
			*readonly = 1;
		else if (fd < 0)
			goto err;
	}
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto err;
	if (fstat(fd, &st))
		goto err;
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size % BLKBACK_SECTOR) {
		fprintf(stderr,
			"xen-blkback: %s: not a regular file of a non-zero "
			"multiple of %u bytes\n",
			path, BLKBACK_SECTOR);
		close(fd);
		return -1;
	}
	*sectors = (uint64_t)st.st_size / BLKBACK_SECTOR;
	return fd;
err:
	fprintf(stderr, "xen-blkback: %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Drain the watch events: 1 if any came, 0 if none, -1 when the
 * connection to xenstore failed. */
static int drain_watches(struct xs_handle *xs)
{
	char **vec;
	int any = 0;

	while ((vec = xs_check_watch(xs))) {
		any = 1;
		free(vec);
	}
	if (errno != EAGAIN) {
		fprintf(stderr, "xen-blkback: xenstore: %s\n", strerror(errno));
		return -1;
	}
	return any;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "segments", required_argument, NULL, 's' },
		{ "no-persistent", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gm_xen_stats st = { 0 };
	struct xb b = {
		.fd = -1, .mode = BLKBACK_LEASE, .persistent = 1, .state = -1
	};
	const char *image;
	char *mode_node = NULL;
	sigset_t sigs;
	int fds_start, fds_end, sfd = -1, xs_fd, c, ret, status = 2, stop = 0;
	uint64_t requests = 0, errors = 0, segments = 0;

	fds_start = count_fds();
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!strcmp(optarg, "lease"))
				b.mode = BLKBACK_LEASE;
			else if (!strcmp(optarg, "copy"))
				b.mode = BLKBACK_COPY;
			else {
				usage(stderr);
				return 2;
			}
			break;
		case 'n':
			b.persistent = 0;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	b.be = argv[optind];
	image = argv[optind + 1];

	/* Signals come through a signalfd; blocked before xenstore's
	 * reader thread starts, which inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) ||
	    (sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		fprintf(stderr, "xen-blkback: signalfd: %s\n",
			strerror(errno));
		goto out;
	}
	b.xs = xs_open(0);
	if (!b.xs) {
		fprintf(stderr, "xen-blkback: xs_open: %s\n", strerror(errno));
		goto out;
	}
	/* The watch pipe, before any watch: libxenstore signals an event
	 * on it only if it exists when the event comes. */
	xs_fd = xs_fileno(b.xs);
	if (xs_fd < 0) {
		fprintf(stderr, "xen-blkback: xs_fileno: %s\n",
			strerror(errno));
		goto out;
	}
	{
		char path[512];
		unsigned int len;

		snprintf(path, sizeof(path), "%s/mode", b.be);
		mode_node = xs_read(b.xs, XBT_NULL, path, &len);
	}
	b.fd = open_image(image, mode_node, &b.readonly, &b.sectors);
	if (b.fd < 0)
		goto out;
	b.xce = xenevtchn_open(NULL, 0);
	if (!b.xce) {
		fprintf(stderr, "xen-blkback: xenevtchn_open: %s\n",
			strerror(errno));
		goto out;
	}
	ret = gm_xen_open(&b.xen, NULL);
	if (ret) {
		fprintf(stderr, "xen-blkback: gm_xen_open: %s\n",
			gm_last_error());
		goto out;
	}
	if (xb_setup(&b))
		goto out;

	status = 0;
	stop = xb_changed(&b);
	while (!stop) {
		struct pollfd p[3] = {
			{ .fd = xs_fd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
			{ .fd = xb_bound(&b) ? xenevtchn_fd(b.xce) : -1,
			  .events = POLLIN },
		};

		if (poll(p, 3, b.more ? 0 : -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "xen-blkback: poll: %s\n",
				strerror(errno));
			break;
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				fprintf(stderr, "xen-blkback: signal %u\n",
					si.ssi_signo);
			break;
		}
		/* A descriptor in error would wake poll() for ever: end
		 * rather than spin. */
		if ((p[0].revents | p[2].revents) &
		    (POLLERR | POLLHUP | POLLNVAL)) {
			fprintf(stderr, "xen-blkback: %s failed\n",
				p[0].revents & (POLLERR | POLLHUP | POLLNVAL)
					? "the xenstore connection"
					: "the event channel");
			break;
		}
		if (p[2].revents || b.more)
			xb_event(&b, !!p[2].revents);
		if (p[0].revents) {
			ret = drain_watches(b.xs);
			if (ret < 0)
				break;
			if (ret)
				stop = xb_changed(&b);
		}
	}

out:
	xb_teardown(&b);
	requests = b.dev.count.requests;
	errors = b.dev.count.errors;
	segments = b.dev.count.segments;
	if (b.xen) {
		gm_xen_get_stats(b.xen, &st);
		gm_xen_close(b.xen);
	}
	if (b.xce)
		xenevtchn_close(b.xce);
	if (b.xs)
		xs_close(b.xs);
	free(mode_node);
	if (b.fd >= 0)
		close(b.fd);
	if (sfd >= 0)
		close(sfd);
	fds_end = count_fds();
	printf("xen-blkback: done requests=%" PRIu64 " errors=%" PRIu64
	       " segments=%" PRIu64 " map_calls=%" PRIu64
	       " unmap_calls=%" PRIu64 " mapped_bytes=%" PRIu64
	       " fds_leaked=%d\n",
	       requests, errors, segments, st.map_calls, st.unmap_calls,
	       st.mapped_bytes, fds_end - fds_start);
	fflush(stdout);
	if (status == 2)
		return 2;
	return st.mapped_bytes == 0 && fds_end == fds_start &&
			       b.dev.count.leases == 0
		       ? 0
		       : 1;
}
