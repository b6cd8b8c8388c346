/* SPDX-License-Identifier: ISC */
/*
 * ports.h - loopback ports for a test's daemons that no other test of the
 * run takes, whatever runs beside it.
 *
 * Tests run in parallel (make -j) and each starts daemons on fixed ports
 * of its config files, so two tests must never pick the same ones.  Each
 * test takes blocks of FGT_BLOCK ports under a lock file per block
 * (flock, held by the test's process until it exits: nothing to clean up,
 * even after a crash), and checks that every port of them is free for
 * both UDP and TCP now.  The range is below the kernel's ephemeral ports
 * (32768 and up) and below the fixed ranges the contrib tests use
 * (21000 and up), so no client socket or server of theirs lands in it.
 */
#ifndef FG_TESTS_PORTS_H
#define FG_TESTS_PORTS_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define FGT_PORT_LO 10000
#define FGT_PORT_HI 20999
#define FGT_BLOCK   32
#define FGT_BLOCKS  ((FGT_PORT_HI - FGT_PORT_LO + 1) / FGT_BLOCK)

/* @port is free on 127.0.0.1 for UDP and for TCP. */
static inline int fgt_port_free(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int t = socket(AF_INET, SOCK_STREAM, 0),
	    u = socket(AF_INET, SOCK_DGRAM, 0);
	int ok = t >= 0 && u >= 0 &&
	         bind(t, (struct sockaddr *)&a, sizeof a) == 0 &&
	         bind(u, (struct sockaddr *)&a, sizeof a) == 0;

	if (t >= 0)
		close(t);
	if (u >= 0)
		close(u);
	return ok;
}

/* The lock of block @b: its descriptor, or -1 if another test holds it. */
static inline int fgt_block_lock(int b)
{
	char path[96];
	int fd;

	snprintf(path, sizeof path, "/tmp/fg-test-ports-%u",
	         (unsigned)getuid());
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		cr_assert_fail("%s: %s", path, strerror(errno));
	snprintf(path + strlen(path), sizeof path - strlen(path), "/%d", b);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	close(fd);
	return -1;
}

/* @n consecutive free ports (at most 8 blocks' worth) for this test's
 * process: the first of them. */
static inline int fgt_ports(int n)
{
	int need = (n + FGT_BLOCK - 1) / FGT_BLOCK, fd[8], k, i, got;

	cr_assert(n > 0 && need <= 8 && need <= FGT_BLOCKS, "%d ports", n);
	for (k = 0; k < FGT_BLOCKS; k++) {
		int b = (int)((getpid() + k) % (FGT_BLOCKS - need + 1));
		int base = FGT_PORT_LO + b * FGT_BLOCK;

		for (got = 0; got < need; got++)
			if ((fd[got] = fgt_block_lock(b + got)) < 0)
				break;
		for (i = 0; got == need && i < n; i++)
			if (!fgt_port_free(base + i))
				break;
		if (got == need && i == n)
			return base; /* the locks stay held until we exit */
		while (got > 0)
			close(fd[--got]);
	}
	cr_assert_fail("no %d free ports in %d-%d", n, FGT_PORT_LO,
	               FGT_PORT_HI);
	return -1;
}

#endif
