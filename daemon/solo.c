/* SPDX-License-Identifier: ISC */
/*
 * solo.c - see solo.h.
 */
#include "daemon/solo.h"

#include <string.h>

int fgd_solo_init(struct fgd_solo *s, fg_client *fg, char *err, size_t errlen)
{
	if (fgd_harvest_init(&s->harvest, fg, NULL, err, errlen) != 0)
		return -1;
	s->up = 1;
	return 0;
}

void fgd_solo_fini(struct fgd_solo *s)
{
	if (s->up)
		fgd_harvest_fini(&s->harvest);
	s->up = 0;
}

/* Nobody to tell: every growth is taken as told. */
static int take_nothing(void *arg, unsigned rule, const uint8_t *key,
                        size_t len, uint64_t delta, uint64_t now_ms)
{
	(void)arg;
	(void)rule;
	(void)key;
	(void)len;
	(void)delta;
	(void)now_ms;
	return 0;
}

void fgd_solo_pass(struct fgd_solo *s, uint64_t now_ms)
{
	if (s->up)
		fgd_harvest_pass(&s->harvest, now_ms, take_nothing, NULL);
}
