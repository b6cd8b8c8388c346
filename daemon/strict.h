/* SPDX-License-Identifier: ISC */
/*
 * strict.h - floodgated's half of the strict rules (lib/strict.c has the
 * design): the Unix socket workers ask on, a connection to Redis that
 * runs the GCRA script (redis/gcra.h) for them, pipelined, its circuit
 * breaker, and the leases ("lease N" of a rule) it spends from.
 *
 * Every request is answered within twice redis-timeout of its arrival
 * (one deadline to connect or queue, one for the exchange): granted,
 * denied, or "down" when Redis did not answer, failed, or the breaker is
 * open, and the worker's on-redis-down policy decides.  Never blocking
 * the daemon's loop: every socket is non-blocking, at most
 * FGD_STRICT_CLIENTS requests are in progress (more are closed at once:
 * "down"), a request is read whole (112 bytes) or dropped.
 */
#ifndef FGD_STRICT_H
#define FGD_STRICT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"
#include "lib/strict.h"
#include "redis/breaker.h"
#include "redis/conn.h"
#include "util/buf.h"

#define FGD_STRICT_CLIENTS 128u  /* requests in progress at once */
#define FGD_STRICT_BATCH   64u   /* script calls pipelined at once */
#define FGD_STRICT_LEASES  4096u /* (rule, key) holding a lease */
#define FGD_STRICT_NFDS    (2u + FGD_STRICT_CLIENTS)

struct fgd_strict_cl {
	int fd;    /* -1: free */
	int state; /* reading, queued, sent */
	uint64_t deadline_ms;
	size_t inlen;
	struct fg__strict_req q;
	uint32_t want; /* tokens to ask Redis for */
};

struct fgd_strict_lease {
	uint64_t until_ms; /* 0: free; tokens lost after it */
	uint32_t tokens;
	uint8_t rule_len, key_len;
	char rule[FG_RULE_NAME_MAX + 1];
	uint8_t key[FG_KEY_MAX];
};

struct fgd_strict_stats {
	uint64_t asked, granted, denied, down; /* answers, by verdict */
	uint64_t calls;                        /* script calls sent to Redis */
	uint64_t leased;  /* of granted: from a lease, no call */
	uint64_t dropped; /* requests refused: malformed, not strict, busy */
};

typedef void fgd_strict_log_fn(int prio, const char *fmt, ...);

struct fgd_strict {
	int lfd; /* -1: off (no strict rule) */
	char path[108];
	fg_client *fg;
	const struct fgd_config *cfg; /* the daemon's, reloads included */
	struct fgr_conn conn;
	struct fgr_breaker br;
	struct fgd_strict_cl cl[FGD_STRICT_CLIENTS];
	unsigned sent[FGD_STRICT_BATCH]; /* clients, in the order sent */
	unsigned nsent, nreplied;
	struct fgd_strict_lease *lease; /* FGD_STRICT_LEASES */
	struct fgd_strict_stats st;
	fgd_strict_log_fn *log;
};

/* 1 if @cfg has a strict rule. */
int fgd_strict_wanted(const struct fgd_config *cfg);

/* Listen beside @fg's segment and prepare the connection to @cfg's
 * Redis (@pw: its password, taken over).  @s is off (lfd -1) and 0 is
 * returned when @cfg has no strict rule.  0, or -1 with why in @err. */
int fgd_strict_open(struct fgd_strict *s, fg_client *fg,
                    const struct fgd_config *cfg, struct fgr_secret *pw,
                    fgd_strict_log_fn *log, char *err, size_t errlen);
void fgd_strict_close(struct fgd_strict *s);

/* Up to FGD_STRICT_NFDS pollfds, their number; @timeout lowered to the
 * nearest deadline. */
unsigned fgd_strict_pollfds(struct fgd_strict *s, struct pollfd *pfd,
                            uint64_t now_ms, int *timeout);
void fgd_strict_service(struct fgd_strict *s, const struct pollfd *pfd,
                        unsigned n, uint64_t now_ms);

/* The first checks of a request, pure (fuzzed: tests/fuzz/fuzz_strict.c):
 * the magic, the lengths, zero padding, a rule name without NUL.  0 and
 * the name in @name, or -1. */
int fgd_strict_req_name(const struct fg__strict_req *q,
                        char name[FG_RULE_NAME_MAX + 1]);

#endif
