/* SPDX-License-Identifier: ISC */
/*
 * strict.c - floodgated's half of the strict rules (strict.h; the design
 * and its overshoot bound: lib/strict.c).
 *
 * A request goes: read (112 bytes, checked: the magic, the lengths, the
 * padding, a rule that is strict and active, a cost it admits), then
 * either answered at once (from a lease; "down" while the breaker is
 * open), or queued; queued requests go to Redis together, one script
 * call each, pipelined on one connection (FGD_STRICT_BATCH at most; the
 * rest with the next exchange); replies come in the order sent.  A
 * failed exchange (a timeout, a closed connection, a reply that is not
 * the script's) opens the breaker and answers "down" to every request
 * sent or queued.  A lease is what Redis granted beyond a request's
 * cost, kept for the (rule, key) as long as Redis takes to refill it, then
 * dropped: tokens Redis counted and nobody spent, never tokens spent
 * twice.
 */
#include "daemon/strict.h"

#include <errno.h>
#include <sodium.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "lib/client.h"
#include "redis/gcra.h"
#include "redis/proto.h"
#include "util/why.h"

enum { CL_READ, CL_QUEUED, CL_SENT };

#define LOG(s, prio, ...)                                                      \
	do {                                                                   \
		if ((s)->log != NULL)                                          \
			(s)->log((prio), __VA_ARGS__);                         \
	} while (0)

#define LEASE_PROBES 8u

int fgd_strict_wanted(const struct fgd_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nrules; i++)
		if (cfg->rules[i].flags & FG_RULE_STRICT)
			return 1;
	return 0;
}

/* ------------------------------------------------------------- leases */

static uint32_t lease_hash(const struct fg__strict_req *q)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < q->rule_len; i++)
		h = (h ^ (uint8_t)q->rule[i]) * 16777619u;
	h = (h ^ 0xffu) * 16777619u;
	for (i = 0; i < q->key_len; i++)
		h = (h ^ q->key[i]) * 16777619u;
	return h;
}

/* The lease of @q's (rule, key) in force at @now, or with @make a free
 * place for one; NULL if none. */
static struct fgd_strict_lease *lease_find(struct fgd_strict *s,
                                           const struct fg__strict_req *q,
                                           uint64_t now, int make)
{
	uint32_t h = lease_hash(q);
	unsigned i;

	for (i = 0; i < LEASE_PROBES; i++) {
		struct fgd_strict_lease *e =
		    &s->lease[(h + i) % FGD_STRICT_LEASES];

		if (e->until_ms > now && e->rule_len == q->rule_len &&
		    e->key_len == q->key_len &&
		    memcmp(e->rule, q->rule, q->rule_len) == 0 &&
		    memcmp(e->key, q->key, q->key_len) == 0)
			return e;
	}
	for (i = 0; make && i < LEASE_PROBES; i++) {
		struct fgd_strict_lease *e =
		    &s->lease[(h + i) % FGD_STRICT_LEASES];

		if (e->until_ms <= now)
			return e;
	}
	return NULL;
}

/* The rule's "lease N" (0: none), from the config in force. */
static uint32_t lease_size(const struct fgd_strict *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->cfg->nrules; i++)
		if (strcmp(s->cfg->rules[i].name, name) == 0)
			return s->cfg->rules[i].strict_lease;
	return 0;
}

/* Keep @tokens Redis granted beyond a request, for as long as Redis
 * takes to refill them (@interval_ns a token); what was left of an
 * earlier lease of the key is dropped. */
static void lease_keep(struct fgd_strict *s, const struct fg__strict_req *q,
                       uint64_t tokens, uint64_t interval_ns, uint64_t now)
{
	struct fgd_strict_lease *e;

	if (tokens == 0 || (e = lease_find(s, q, now, 1)) == NULL)
		return;
	e->tokens = (uint32_t)tokens;
	e->until_ms = now + 1 + tokens * interval_ns / 1000000u;
	e->rule_len = q->rule_len;
	e->key_len = q->key_len;
	memcpy(e->rule, q->rule, q->rule_len);
	memcpy(e->key, q->key, q->key_len);
}

static int lease_take(struct fgd_strict *s, const struct fg__strict_req *q,
                      uint64_t now)
{
	struct fgd_strict_lease *e = lease_find(s, q, now, 0);

	if (e == NULL || e->tokens < q->cost)
		return 0;
	e->tokens -= q->cost;
	return 1;
}

/* Whether a lease of @q's (rule, key) is being asked for already: then
 * @q asks for its cost only, so that a host holds one lease of a key at
 * most (what the overshoot bound counts). */
static int leasing(const struct fgd_strict *s, const struct fg__strict_req *q)
{
	unsigned i;

	for (i = 0; i < FGD_STRICT_CLIENTS; i++) {
		const struct fgd_strict_cl *c = &s->cl[i];

		if (c->fd >= 0 && c->state != CL_READ && c->want > c->q.cost &&
		    c->q.rule_len == q->rule_len &&
		    c->q.key_len == q->key_len &&
		    memcmp(c->q.rule, q->rule, q->rule_len) == 0 &&
		    memcmp(c->q.key, q->key, q->key_len) == 0)
			return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ answers */

static void cl_free(struct fgd_strict_cl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void answer(struct fgd_strict *s, struct fgd_strict_cl *c, unsigned v,
                   uint64_t debt_ns)
{
	struct fg__strict_rep r = {
	    .magic = FG_STRICT_MAGIC, .verdict = v, .debt_ns = debt_ns};

	s->st.asked++;
	if (v == FG_STRICT_GRANT)
		s->st.granted++;
	else if (v == FG_STRICT_DENY)
		s->st.denied++;
	else
		s->st.down++;
	/* 16 bytes into an empty socket buffer: never short */
	(void)send(c->fd, &r, sizeof r, MSG_NOSIGNAL | MSG_DONTWAIT);
	cl_free(c);
}

/* Redis failed us: the breaker opens (or stays open, backing off), and
 * every request sent or queued is told "down". */
static void failed(struct fgd_strict *s, uint64_t now)
{
	unsigned i;

	if (fgr_breaker_failure(&s->br, now,
	                        randombytes_uniform(FGR_BACKOFF_MAX_MS)))
		LOG(s, LOG_WARNING,
		    "strict rules: redis: %s: breaker open: their "
		    "on-redis-down policy decides",
		    s->conn.err);
	for (i = 0; i < FGD_STRICT_CLIENTS; i++)
		if (s->cl[i].fd >= 0 && s->cl[i].state != CL_READ)
			answer(s, &s->cl[i], FG_STRICT_DOWN, 0);
	s->nsent = s->nreplied = 0;
}

/* ----------------------------------------------------------- requests */

int fgd_strict_req_name(const struct fg__strict_req *q,
                        char name[FG_RULE_NAME_MAX + 1])
{
	static const uint8_t zero[sizeof q->pad];

	if (q->magic != FG_STRICT_MAGIC || q->rule_len == 0 ||
	    q->rule_len > FG_RULE_NAME_MAX || q->key_len == 0 ||
	    q->key_len > FG_KEY_MAX || memcmp(q->pad, zero, sizeof zero) != 0 ||
	    memchr(q->rule, '\0', q->rule_len) != NULL)
		return -1;
	memcpy(name, q->rule, q->rule_len);
	name[q->rule_len] = '\0';
	return 0;
}

/* The rule of request @q if it is one we answer for: active, strict,
 * and admitting its cost; else -1. */
static int rule_of(struct fgd_strict *s, const struct fg__strict_req *q)
{
	const struct fg_rule_cache *rc;
	char name[FG_RULE_NAME_MAX + 1];
	int idx;

	if (fgd_strict_req_name(q, name) != 0)
		return -1;
	idx = fg__rule_index(s->fg, name);
	if (idx < 0)
		return -1;
	rc = fg__rule_params(s->fg, (unsigned)idx);
	if ((rc->flags & (FG__RULE_ACTIVE | FG__RULE_STRICT)) !=
	        (FG__RULE_ACTIVE | FG__RULE_STRICT) ||
	    q->cost == 0 || q->cost > rc->capacity)
		return -1;
	return idx;
}

/* A whole request: answered from a lease, "down" while the breaker is
 * open, else queued for Redis. */
static void take(struct fgd_strict *s, struct fgd_strict_cl *c, uint64_t now)
{
	int idx = rule_of(s, &c->q);
	uint32_t lease;

	if (idx < 0) {
		s->st.dropped++;
		cl_free(c);
		return;
	}
	if (lease_take(s, &c->q, now)) {
		s->st.leased++;
		answer(s, c, FG_STRICT_GRANT, 0);
		return;
	}
	if (s->br.state == FGR_OPEN && !fgr_breaker_allow(&s->br, now)) {
		answer(s, c, FG_STRICT_DOWN, 0);
		return;
	}
	lease = lease_size(s, s->fg->names[idx]);
	c->want = lease > c->q.cost && !leasing(s, &c->q) ? lease : c->q.cost;
	c->state = CL_QUEUED;
	c->deadline_ms = now + s->conn.conf.timeout_ms;
}

static void cl_read(struct fgd_strict *s, struct fgd_strict_cl *c, uint64_t now)
{
	ssize_t n = recv(c->fd, (char *)&c->q + c->inlen,
	                 sizeof c->q - c->inlen, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		s->st.dropped++;
		cl_free(c);
		return;
	}
	c->inlen += (size_t)n;
	if (c->inlen == sizeof c->q)
		take(s, c, now);
}

static void accept_all(struct fgd_strict *s, uint64_t now)
{
	for (;;) {
		int fd =
		    accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		unsigned i;

		if (fd < 0)
			return;
		for (i = 0; i < FGD_STRICT_CLIENTS && s->cl[i].fd >= 0; i++)
			;
		if (i == FGD_STRICT_CLIENTS) { /* busy: the policy decides */
			s->st.dropped++;
			close(fd);
			continue;
		}
		s->cl[i] = (struct fgd_strict_cl){
		    .fd = fd,
		    .state = CL_READ,
		    .deadline_ms = now + s->conn.conf.timeout_ms};
		cl_read(s, &s->cl[i], now); /* sent with the connect, mostly */
	}
}

/* ---------------------------------------------------------------- Redis */

/* Client @i's script call, appended to the connection: 0, or -1. */
static int append(struct fgd_strict *s, unsigned i)
{
	struct fgd_strict_cl *c = &s->cl[i];
	char key[FGR_NS_MAX + FG_RULE_NAME_MAX + FG_KEY_MAX + 16];
	char t[24], tau[24], cost[16], want[16];
	const char *argv[8] = {"EVALSHA", s->conn.sha, "1",  key,
	                       t,         tau,         cost, want};
	size_t len[8];
	const struct fg_rule_cache *rc;
	int idx = rule_of(s, &c->q), k;
	uint64_t tus;

	if (idx < 0) { /* removed while queued */
		answer(s, c, FG_STRICT_DOWN, 0);
		return 0;
	}
	rc = fg__rule_params(s->fg, (unsigned)idx);
	tus = (rc->interval_ns + 999) / 1000; /* never faster */
	len[3] = fgr_gcra_key(key, sizeof key, s->conn.conf.ns, c->q.rule,
	                      c->q.rule_len, c->q.key, c->q.key_len);
	snprintf(t, sizeof t, "%" PRIu64, tus);
	snprintf(tau, sizeof tau, "%" PRIu64, tus * rc->capacity);
	snprintf(cost, sizeof cost, "%" PRIu32, c->q.cost);
	snprintf(want, sizeof want, "%" PRIu32, c->want);
	for (k = 0; k < 8; k++)
		if (k != 3)
			len[k] = strlen(argv[k]);
	if (fgr_conn_append(&s->conn, 8, argv, len) != 0)
		return -1;
	c->state = CL_SENT;
	s->sent[s->nsent++] = i;
	s->st.calls++;
	return 0;
}

/* Send what is queued, connecting first if need be. */
static void pump(struct fgd_strict *s, uint64_t now)
{
	unsigned i, queued = 0;

	for (i = 0; i < FGD_STRICT_CLIENTS; i++)
		queued += s->cl[i].fd >= 0 && s->cl[i].state == CL_QUEUED;
	if (queued == 0)
		return;
	if (s->conn.state == FGR_CONN_DOWN) {
		if (fgr_conn_open(&s->conn, now) != 0)
			failed(s, now);
		return;
	}
	if (s->conn.state != FGR_CONN_READY)
		return;
	s->nsent = s->nreplied = 0;
	for (i = 0; i < FGD_STRICT_CLIENTS && s->nsent < FGD_STRICT_BATCH; i++)
		if (s->cl[i].fd >= 0 && s->cl[i].state == CL_QUEUED &&
		    append(s, i) != 0) {
			failed(s, now);
			return;
		}
	if (s->nsent > 0 && fgr_conn_send(&s->conn, now) != 0)
		failed(s, now);
}

/* The script's reply to the next request sent. */
static void replied(struct fgd_strict *s, const redisReply *r, uint64_t now)
{
	struct fgd_strict_cl *c;
	uint64_t n, debt_us, debt;
	int idx;

	if (s->nreplied >= s->nsent)
		return;
	c = &s->cl[s->sent[s->nreplied++]];
	if (fgr_gcra_reply(r, &n, &debt_us) != 0) {
		fgr_conn_close(&s->conn);
		s->conn.fail = FGR_F_REPLY;
		if (r->type == REDIS_REPLY_ERROR)
			fgr_error_text(r, s->conn.err, sizeof s->conn.err);
		else
			snprintf(s->conn.err, sizeof s->conn.err,
			         "not the script's reply");
		failed(s, now);
		return;
	}
	idx = rule_of(s, &c->q);
	debt = debt_us * 1000u;
	if (n >= c->q.cost && idx >= 0) {
		/* the bucket we mirror counts our lease as spent: it is not */
		uint64_t t = fg__rule_params(s->fg, (unsigned)idx)->interval_ns,
		         kept = (n - c->q.cost) * t;

		lease_keep(s, &c->q, n - c->q.cost, t, now);
		debt = debt > kept ? debt - kept : 0;
	}
	answer(s, c, n >= c->q.cost ? FG_STRICT_GRANT : FG_STRICT_DENY, debt);
	if (s->nreplied == s->nsent && fgr_breaker_success(&s->br, now))
		LOG(s, LOG_NOTICE,
		    "strict rules: redis answers again: breaker closed");
}

static void conn_service(struct fgd_strict *s, short revents, uint64_t now)
{
	redisReply *r = NULL;
	int more;

	do {
		more = 0;
		switch (fgr_conn_service(&s->conn, revents, now, &r)) {
		case FGR_EV_REPLY:
			replied(s, r, now);
			freeReplyObject(r);
			more = s->conn.state != FGR_CONN_DOWN;
			break;
		case FGR_EV_FAIL:
			failed(s, now);
			break;
		default: /* READY: pump() sends what waits */
			break;
		}
		revents = 0;
	} while (more);
}

/* -------------------------------------------------------------- the loop */

/* Requests past their deadline: one still being read is dropped, one
 * queued is told "down". */
static void expire(struct fgd_strict *s, uint64_t now)
{
	unsigned i;

	for (i = 0; i < FGD_STRICT_CLIENTS; i++) {
		struct fgd_strict_cl *c = &s->cl[i];

		if (c->fd < 0 || c->state == CL_SENT || now < c->deadline_ms)
			continue;
		if (c->state == CL_QUEUED) {
			answer(s, c, FG_STRICT_DOWN, 0);
		} else {
			s->st.dropped++;
			cl_free(c);
		}
	}
}

unsigned fgd_strict_pollfds(struct fgd_strict *s, struct pollfd *pfd,
                            uint64_t now_ms, int *timeout)
{
	unsigned i, n = 2;

	if (s->lfd < 0)
		return 0;
	pfd[0] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
	fgr_conn_pollfd(&s->conn, &pfd[1], now_ms, timeout);
	for (i = 0; i < FGD_STRICT_CLIENTS; i++) {
		const struct fgd_strict_cl *c = &s->cl[i];
		int left;

		if (c->fd < 0 || c->state == CL_SENT)
			continue;
		if (c->state == CL_READ)
			pfd[n++] =
			    (struct pollfd){.fd = c->fd, .events = POLLIN};
		left = c->deadline_ms > now_ms ? (int)(c->deadline_ms - now_ms)
		                               : 0;
		if (*timeout < 0 || left < *timeout)
			*timeout = left;
	}
	return n;
}

void fgd_strict_service(struct fgd_strict *s, const struct pollfd *pfd,
                        unsigned n, uint64_t now_ms)
{
	unsigned i, k;

	if (s->lfd < 0 || n < 2)
		return;
	for (k = 2; k < n; k++)
		for (i = 0; pfd[k].revents && i < FGD_STRICT_CLIENTS; i++)
			if (s->cl[i].fd == pfd[k].fd &&
			    s->cl[i].state == CL_READ) {
				cl_read(s, &s->cl[i], now_ms);
				break;
			}
	if (pfd[0].revents & POLLIN)
		accept_all(s, now_ms);
	conn_service(s, pfd[1].revents, now_ms);
	expire(s, now_ms);
	pump(s, now_ms);
}

/* ------------------------------------------------------------ set-up */

/* Our socket at @s->path, for the workers of the segment at @fd: its
 * mode 0660 and its group the segment's.  What is at the path is
 * replaced only if it is a socket of ours (a daemon's that is gone: the
 * segment's owner lock keeps a second daemon out). */
static int listen_at(struct fgd_strict *s, int seg_fd, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old;
	int r;

	if (lstat(s->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid())
			return fgu_why(err, errlen,
			               "%s: is there and is not a socket of "
			               "ours: remove it",
			               s->path);
		(void)unlink(s->path);
	}
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		return fgu_why(err, errlen, "socket: %s", strerror(errno));
	memcpy(sa.sun_path, s->path, strlen(s->path));
	old = umask(0177);
	r = bind(s->lfd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r != 0 || listen(s->lfd, (int)FGD_STRICT_CLIENTS) != 0)
		return fgu_why(err, errlen, "%s: %s", s->path, strerror(errno));
	if (chmod(s->path, 0660) != 0)
		return fgu_why(err, errlen, "%s: %s", s->path, strerror(errno));
	if (fstat(seg_fd, &st) == 0 && st.st_gid != getegid() &&
	    chown(s->path, (uid_t)-1, st.st_gid) != 0)
		LOG(s, LOG_WARNING,
		    "%s: cannot give it to the segment's group %u (%s): "
		    "workers of that group that are not root get the "
		    "on-redis-down policy; make the daemon's user a member",
		    s->path, (unsigned)st.st_gid, strerror(errno));
	return 0;
}

int fgd_strict_open(struct fgd_strict *s, fg_client *fg,
                    const struct fgd_config *cfg, struct fgr_secret *pw,
                    fgd_strict_log_fn *log, char *err, size_t errlen)
{
	unsigned i;
	int n;

	memset(s, 0, sizeof *s);
	s->lfd = -1;
	for (i = 0; i < FGD_STRICT_CLIENTS; i++)
		s->cl[i].fd = -1;
	if (!fgd_strict_wanted(cfg))
		return 0;
	s->fg = fg;
	s->cfg = cfg;
	s->log = log;
	fgr_breaker_init(&s->br, 0);
	s->lease = calloc(FGD_STRICT_LEASES, sizeof *s->lease);
	n = snprintf(s->path, sizeof s->path, "%s" FG_STRICT_SUFFIX,
	             fg->seg.path);
	if (s->lease == NULL)
		fgu_why(err, errlen, "strict rules: out of memory");
	else if (n < 0 || (size_t)n >= sizeof s->path)
		fgu_why(err, errlen,
		        "strict rules: %s" FG_STRICT_SUFFIX " is too long for "
		        "a socket: use a shorter segment path",
		        fg->seg.path);
	else if (fgr_conn_init(&s->conn, &cfg->redis, "floodgated-strict", pw,
	                       err, errlen) == 0 &&
	         listen_at(s, fg->seg.fd, err, errlen) == 0) {
		s->conn.script = fgr_gcra_script;
		return 0;
	}
	fgd_strict_close(s);
	return -1;
}

void fgd_strict_close(struct fgd_strict *s)
{
	unsigned i;

	for (i = 0; i < FGD_STRICT_CLIENTS; i++)
		cl_free(&s->cl[i]);
	if (s->lfd >= 0) {
		close(s->lfd);
		(void)unlink(s->path);
	}
	s->lfd = -1;
	fgr_conn_fini(&s->conn);
	free(s->lease);
	s->lease = NULL;
}
