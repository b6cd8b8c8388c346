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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/floodgate.h"

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
