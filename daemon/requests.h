/* SPDX-License-Identifier: ISC */
/*
 * requests.h - what floodgated's control socket answers (requests.c),
 * for the socket server (control.c) and the tests.
 */
#ifndef FGD_REQUESTS_H
#define FGD_REQUESTS_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"
#include "gossip/keys.h"
#include "daemon/strict.h"
#include "lib/floodgate.h"
#include "util/buf.h"

#define FGD_CTL_LINE_MAX 512u /* request bytes, without the '\n' */

struct fgd_node;
struct fgd_solo; /* solo.h */
struct fgr_sync; /* redis/transport.h */

/* What a request may look at, and how to reload (floodgated's own). */
struct fgd_ctl_env {
	fg_client *fg;
	const struct fgd_config *cfg; /* live: peers change on reload */
	const struct fgw_keyring *kr;
	struct fgd_node *node;           /* NULL: gossip is off (single host) */
	struct fgd_solo *solo;           /* then: its own harvest */
	const struct fgr_sync *redis;    /* NULL: no sync redis */
	const struct fgd_strict *strict; /* NULL: no strict rules */
	const char *cfg_path;
	uint64_t started_ms; /* monotonic */
	/* 0, or -1 with the reason in @why */
	int (*reload)(void *arg, char *why, size_t whylen);
	void *arg;
};

/* The reply to one request line. */
void fgd_ctl_answer(const struct fgd_ctl_env *env, const char *line,
                    uint64_t now_ms, struct fgd_buf *out);

#endif
