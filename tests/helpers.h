/* SPDX-License-Identifier: ISC */
/*
 * helpers.h - shared by the test programs.
 *
 * Criterion runs every test in its own process, in parallel: each test
 * makes a segment with a name of its own (test name + pid) and removes it.
 */
#ifndef FG_TESTS_HELPERS_H
#define FG_TESTS_HELPERS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/floodgate.h"
#include "shm/layout.h"
#include "shm/segment.h"

/* UNDER_ASAN: the test runs under AddressSanitizer (which, for one,
 * turns a write to read-only memory into its own report). */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* "No refill" for the duration of a test: one token an hour. */
#define HOUR_MS 3600000u

static inline const char *test_segment(const char *tag)
{
	static char name[80];

	snprintf(name, sizeof name, "fgtest-%s-%d", tag, (int)getpid());
	return name;
}

static inline fg_client *test_create(const char *tag, uint64_t capacity)
{
	fg_segment_opts o = {.capacity = capacity};
	fg_client *c = NULL;
	int r;

	(void)fg_unlink(test_segment(tag));
	r = fg_create(test_segment(tag), &o, 0, &c);
	cr_assert_eq(r, 0, "fg_create: %s", fg_strerror(r));
	return c;
}

static inline void test_rule(fg_client *c, const char *name, uint32_t capacity,
                             uint32_t rate, uint32_t period_ms, uint32_t flags)
{
	fg_rule rule = {.name = name,
	                .capacity = capacity,
	                .rate = rate,
	                .period_ms = period_ms,
	                .flags = flags};
	int r = fg_rule_set(c, &rule);

	cr_assert_eq(r, 0, "fg_rule_set(%s): %s", name, fg_strerror(r));
	/* The whole table (no share): these tests are of the table itself,
	 * full or not; test_quota's are of shares. */
	r = fg_rule_share_set(c, name, 100);
	cr_assert_eq(r, 0, "fg_rule_share_set(%s): %s", name, fg_strerror(r));
}

/* Where the source tree is: $srcdir (make check), else from __FILE__. */
static inline void test_src_path(const char *rel, char *buf, size_t len)
{
	const char *srcdir = getenv("srcdir");
	const char *f = __FILE__, *slash = strrchr(f, '/');

	if (srcdir != NULL)
		snprintf(buf, len, "%s/%s", srcdir, rel);
	else if (slash != NULL)
		snprintf(buf, len, "%.*s/../%s", (int)(slash - f), f, rel);
	else
		snprintf(buf, len, "./%s", rel);
}

/* The segment at @path (a file in /dev/shm, made here) as an earlier
 * release left it: the header kept in fuzz seed @seed (its first 8 bytes
 * are the segment's size, little-endian), on a file of that size, which
 * it returns. */
static inline uint64_t plant_old_segment(const char *seed, const char *path)
{
	uint8_t hdr[8 + FG_HDR_SIZE];
	char src[512];
	uint64_t size = 0;
	unsigned i;
	FILE *f;
	int fd;

	test_src_path(seed, src, sizeof src);
	f = fopen(src, "rb");
	cr_assert_not_null(f, "%s", src);
	cr_assert_eq(fread(hdr, 1, sizeof hdr, f), sizeof hdr);
	fclose(f);
	for (i = 0; i < 8; i++)
		size |= (uint64_t)hdr[i] << (8 * i);
	(void)unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(write(fd, hdr + 8, FG_HDR_SIZE), FG_HDR_SIZE);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	close(fd);
	return size;
}

/* A segment of an earlier layout (fuzz seed @seed) planted under the
 * name @name is refused by fg_open() with FG_EVERSION, no handle made,
 * and fg_unlink() removes it all the same. */
static inline void expect_old_segment_refused(const char *seed,
                                              const char *name)
{
	char path[128];
	fg_client *w = NULL;

	snprintf(path, sizeof path, "/dev/shm/%s", name);
	(void)plant_old_segment(seed, path);
	cr_expect_eq(fg_open(name, 0, &w), FG_EVERSION, "%s", seed);
	cr_expect_null(w);
	cr_expect_eq(fg_unlink(name), 0, "a segment of any version");
}

/* Remove a node's state files (gossip/node.h): @state, its ledger
 * (-local) and its marks of other nodes' counts (-remote). */
static inline void test_unlink_state_at(const char *state)
{
	static const char *const ext[] = {"", "-local", "-remote"};
	char path[FG_SEG_PATH_MAX + 32];
	size_t k;

	for (k = 0; k < sizeof ext / sizeof *ext; k++) {
		snprintf(path, sizeof path, "%s%s", state, ext[k]);
		(void)unlink(path);
	}
}

/* The same for the files a daemon keeps beside segment @seg. */
static inline void test_unlink_state(const char *seg)
{
	char path[FG_SEG_PATH_MAX + 16];

	if (seg[0] == '\0' || fg__seg_path(seg, path, FG_SEG_PATH_MAX) != 0)
		return;
	strcat(path, ".state");
	test_unlink_state_at(path);
}

/* How many lines of the file at @path hold @what (0 without the file). */
static inline int lines_with(const char *path, const char *what)
{
	char line[4096];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* A copy of the CLI ($FLOODGATE_CLI) that another user can run, in @dir
 * (made here, 0755), at @path:
 * the build tree may be under a directory only root may enter (a CI
 * checkout in a 0700 temporary directory). */
static inline void cli_copy_for_others(char *dir, size_t dlen, char *path,
                                       size_t plen)
{
	const char *cli = getenv("FLOODGATE_CLI");
	char buf[65536];
	ssize_t n;
	int in, out;

	snprintf(dir, dlen, "/tmp/fg-cli-others-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0755), 0);
	snprintf(path, plen, "%s/floodgate", dir);
	in = open(cli ? cli : "./cli/floodgate", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(in, 0, "the CLI: %s", strerror(errno));
	out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	cr_assert_geq(out, 0);
	while ((n = read(in, buf, sizeof buf)) > 0)
		cr_assert_eq(write(out, buf, (size_t)n), n);
	cr_assert_eq(n, 0);
	close(in);
	cr_assert_eq(close(out), 0);
}

/* Wait for every child; each must exit 0. */
static inline void wait_children(int n)
{
	int status, i;

	for (i = 0; i < n; i++) {
		pid_t p = wait(&status);

		cr_assert(p > 0, "wait");
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		          "child %d failed (status %#x)", (int)p, status);
	}
}

#endif
