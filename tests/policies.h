/* SPDX-License-Identifier: ISC */
/*
 * policies.h - what the tests of several rules per request, delays and
 * in-flight limits share: a segment of the test's own (fg-policies-*),
 * removed after the test even if it fails, and rules by index.
 */
#ifndef FG_TESTS_POLICIES_H
#define FG_TESTS_POLICIES_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "tests/helpers.h"

static char pol_segment[80]; /* of the running test, for the fini hook */

static inline void pol_unlink(void)
{
	if (pol_segment[0] != '\0')
		(void)fg_unlink(pol_segment);
}

static inline fg_client *pol_create(const char *tag, uint64_t capacity)
{
	fg_segment_opts o = {.capacity = capacity};
	fg_client *c = NULL;
	int r;

	snprintf(pol_segment, sizeof pol_segment, "fg-policies-%s-%d", tag,
	         (int)getpid());
	(void)fg_unlink(pol_segment);
	r = fg_create(pol_segment, &o, 0, &c);
	cr_assert_eq(r, 0, "fg_create: %s", fg_strerror(r));
	return c;
}

static inline void pol_destroy(fg_client *c)
{
	fg_close(c);
	cr_expect_eq(fg_unlink(pol_segment), 0);
	pol_segment[0] = '\0';
}

static inline unsigned pol_rule_index(fg_client *c, const char *name)
{
	int idx = fg__rule_index(c, name);

	cr_assert_geq(idx, 0, "rule %s has no index", name);
	(void)fg__rule_params(c, (unsigned)idx);
	return (unsigned)idx;
}

/* The internal form of (@rule, @key, @cost), as fg_allow_many() makes it
 * after checking its arguments. */
static inline struct fg__triple pol_triple(fg_client *c, const char *rule,
                                           const char *key, uint32_t cost)
{
	struct fg__triple t = {.rule = pol_rule_index(c, rule),
	                       .key = key,
	                       .len = strlen(key),
	                       .cost = cost};

	return t;
}

/* Whole tokens left in (@rule, @key) now (negative in debt). */
static inline int64_t pol_left(fg_client *c, const char *rule, const char *key)
{
	int64_t left;
	int r = fg__peek(c, rule, key, strlen(key), &left);

	cr_assert_eq(r, 0, "peek %s/%s: %s", rule, key, fg_strerror(r));
	return left;
}

/* @text as floodgate.conf(5) into @cfg, and each of its rules set on @c
 * as floodgated sets them. */
static inline void pol_config(fg_client *c, const char *text,
                              struct fgd_config *cfg)
{
	char err[256];
	size_t i;

	cr_assert_eq(fgd_config_parse(text, strlen(text), "t.conf", cfg, err,
	                              sizeof err),
	             0, "%s", err);
	for (i = 0; i < cfg->nrules; i++) {
		fg_rule r;
		int e;

		fgd_rule_lib(&cfg->rules[i], &r);
		e = fg_rule_set(c, &r);
		cr_assert_eq(e, 0, "%s: %s", r.name, fg_strerror(e));
	}
}

/* Why the config of @rule alone is refused ("t.conf:2: ..."), or NULL
 * if it is not. */
static inline const char *pol_config_error(const char *rule)
{
	static char err[256];
	char text[256];
	struct fgd_config cfg;

	snprintf(text, sizeof text, "segment x\n%s\n", rule);
	if (fgd_config_parse(text, strlen(text), "t.conf", &cfg, err,
	                     sizeof err) == 0) {
		fgd_config_free(&cfg);
		return NULL;
	}
	return err;
}

#endif
