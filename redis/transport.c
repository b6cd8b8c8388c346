/* SPDX-License-Identifier: ISC */
/*
 * transport.c - a round of the Redis transport (transport.h): what to
 * push, what the reply says of us, what it brings of the others, and the
 * breaker's transitions, each logged once.
 *
 * The cursors are kept sorted by origin id, so that a reply's origins,
 * which come in Redis's order, find theirs by binary search; they are
 * rebuilt from every reply, which lists every other origin Redis holds:
 * an origin whose keys expired drops out with them.
 */
#include "redis/transport.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "gossip/counts.h"
#include "gossip/ledger.h"
#include "lib/client.h"

#define LOG(s, prio, ...)                                                      \
	do {                                                                   \
		if ((s)->log != NULL)                                          \
			(s)->log((prio), __VA_ARGS__);                         \
	} while (0)

int fgr_sync_init(struct fgr_sync *s, struct fgd_node *n,
                  const struct fgr_conf *conf, struct fgr_secret *pw,
                  fgr_log_fn *log, uint64_t now_ms, char *err, size_t errlen)
{
	char name[64];

	memset(s, 0, sizeof *s);
	s->node = n;
	s->log = log;
	s->self = fgd_origin_of(n->x.pk);
	fgr_conf_url(conf, s->url, sizeof s->url);
	snprintf(name, sizeof name, "floodgated-%016llx",
	         (unsigned long long)s->self);
	fgr_breaker_init(&s->br, now_ms);
	s->cur = calloc(2 * FGR_ORIGINS_MAX, sizeof *s->cur);
	s->out = calloc(FGR_BATCHES * FGR_PUSH_MAX, sizeof *s->out);
	if (s->cur == NULL || s->out == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (fgr_conn_init(&s->conn, conf, name, pw, err, errlen) == 0) {
		n->counts.pushed = 0; /* floors wait for Redis too */
		return 0;
	}
fail:
	fgr_sync_fini(s);
	return -1;
}

void fgr_sync_fini(struct fgr_sync *s)
{
	fgr_conn_fini(&s->conn);
	free(s->cur);
	free(s->out);
	free(s->sel);
	memset(s, 0, sizeof *s); /* off */
}

uint32_t fgr_sync_ttl(const struct fgr_sync *s)
{
	fg_client *fg = s->node->fg;
	uint64_t tau = 0, ms;
	unsigned i;

	for (i = 0; i < FG_RULES_MAX; i++) {
		const struct fg_rule_cache *rc = fg__rule_params(fg, i);

		if ((rc->flags & FG__RULE_ACTIVE) &&
		    (rc->flags & FG__RULE_GLOBAL) && rc->tau_ns > tau)
			tau = rc->tau_ns;
	}
	ms = tau / 1000000u + s->node->counts.debt_window_ns / 1000000u;
	if (ms < FGD_LOCAL_TTL_MS)
		ms = FGD_LOCAL_TTL_MS;
	return ms > FGD_REMOTE_STALE_MS ? FGD_REMOTE_STALE_MS : (uint32_t)ms;
}

/* The version we push from: what Redis holds of this incarnation. */
static uint64_t push_from(const struct fgr_sync *s)
{
	return s->pushed_inc == s->node->x.incarnation ? s->pushed : 0;
}

uint64_t fgr_sync_unpushed(const struct fgr_sync *s)
{
	return s->node->counts.k->version - push_from(s);
}

/* -------------------------------------------------------------- failure */

/* An attempt failed (the connection says why): the breaker opens, or
 * stays open with a longer wait; logged when something changed. */
static void failed(struct fgr_sync *s, uint64_t now_ms)
{
	const struct fgr_conn *c = &s->conn;
	int opened = fgr_breaker_failure(
	    &s->br, now_ms, randombytes_uniform(FGR_BACKOFF_MAX_MS));

	s->st.fails[c->fail]++;
	s->want = 0;
	/* open: floors move as during a gossip partition (transport.h) */
	s->node->counts.pushed = UINT64_MAX;
	if (opened)
		LOG(s, LOG_WARNING,
		    "redis %s: %s: breaker open: global rules decide on local "
		    "state until Redis answers",
		    s->url, c->err);
	else if (c->fail != s->last_fail || strcmp(c->err, s->last_err) != 0)
		LOG(s, LOG_NOTICE, "redis %s: probe failed: %s", s->url,
		    c->err);
	else
		LOG(s, LOG_DEBUG, "redis %s: probe failed: %s", s->url, c->err);
	s->last_fail = c->fail;
	snprintf(s->last_err, sizeof s->last_err, "%s", c->err);
}

/* A reply that is not what we asked for: closed, as a failure. */
static void refused(struct fgr_sync *s, enum fgr_fail f, const char *why,
                    uint64_t now_ms)
{
	fgr_conn_close(&s->conn);
	s->conn.fail = f;
	snprintf(s->conn.err, sizeof s->conn.err, "%s", why);
	failed(s, now_ms);
}

/* ----------------------------------------------------------------- push */

static int by_ver(const void *a, const void *b)
{
	const struct fgd_local *x = *(const struct fgd_local *const *)a,
	                       *y = *(const struct fgd_local *const *)b;

	return x->ver < y->ver ? -1 : x->ver > y->ver;
}

/* Room for every record of our ledger in s->sel: 0, or -1. */
static int sel_room(struct fgr_sync *s, size_t n)
{
	const struct fgd_local **p;

	if (n <= s->cap)
		return 0;
	p = realloc(s->sel, n * sizeof *p);
	if (p == NULL)
		return -1;
	s->sel = p;
	s->cap = n;
	return 0;
}

/* Our records changed after @from that we may push, in s->sel: how
 * many (all of them: none is left out for want of room in s->sel). */
static size_t changed(struct fgr_sync *s, uint64_t from)
{
	struct fgd_counts *c = &s->node->counts;
	fg_client *fg = s->node->fg;
	size_t i, n = 0;

	if (sel_room(s, c->local.n) != 0)
		return 0;
	(void)fg__rule_index(fg, ""); /* rule names, for the records */
	for (i = 0; i < c->local.cap && n < c->local.n; i++) {
		const struct fgd_local *e = fgd_ledger_at(&c->local, i);
		size_t rl;

		if (e == NULL || e->count == 0 || e->ver <= from)
			continue;
		rl = strlen(fg->names[e->rule]);
		if (rl == 0 || rl > FGR_RULE_MAX || e->key_len == 0 ||
		    e->key_len > FGR_KEY_MAX)
			continue; /* its rule is gone: nobody needs it */
		s->sel[n++] = e;
	}
	return n;
}

/* The records to push from @from, the oldest first and FGR_BATCHES x
 * FGR_PUSH_MAX at most, into s->out: how many; *@to the version the
 * push then completes (every record changed up to it is among them). */
static size_t select_changed(struct fgr_sync *s, uint64_t from, uint64_t *to)
{
	fg_client *fg = s->node->fg;
	size_t i, n = changed(s, from);

	*to =
	    s->cap >= s->node->counts.local.n ? s->node->counts.k->version : from;
	if (n > FGR_PUSH_MAX)
		qsort(s->sel, n, sizeof *s->sel, by_ver);
	if (n > FGR_BATCHES * FGR_PUSH_MAX) {
		n = FGR_BATCHES * FGR_PUSH_MAX;
		*to = s->sel[n - 1]->ver;
	}
	for (i = 0; i < n; i++) {
		const struct fgd_local *e = s->sel[i];

		s->out[i] =
		    (struct fgr_out){.rule = fg->names[e->rule],
		                     .rule_len = strlen(fg->names[e->rule]),
		                     .key = e->key,
		                     .key_len = e->key_len,
		                     .ver = e->ver,
		                     .count = e->count,
		                     .floor = e->floor};
	}
	return n;
}

/* Batch @b of the @n records in s->out (to @to in all) into @call, and
 * appended to the connection: 0, or -1 (the connection failed). */
static int batch(struct fgr_sync *s, struct fgr_call *call, size_t b, size_t nb,
                 size_t n, uint64_t to)
{
	int last = b + 1 == nb, r;
	struct fgr_argv a;

	call->out = s->out + b * FGR_PUSH_MAX;
	call->nout = last ? n - b * FGR_PUSH_MAX : FGR_PUSH_MAX;
	call->to = last ? to : call->out[call->nout - 1].ver;
	/* only the last pulls: one reply brings the others' changes */
	call->ncur = last ? s->ncur : 0;
	call->budget = last ? FGR_PULL_MAX : 0;
	if (fgr_argv_build(&a, s->conn.sha, s->conn.conf.ns, call) != 0) {
		fgr_conn_close(&s->conn);
		s->conn.fail = FGR_F_IO;
		snprintf(s->conn.err, sizeof s->conn.err, "out of memory");
		return -1;
	}
	r = fgr_conn_append(&s->conn, a.argc, a.argv, a.len);
	fgr_argv_free(&a);
	s->sent_to[b] = call->to;
	s->sent_n[b] = call->nout;
	call->from = call->to;
	return r;
}

/* The round's exchange: its batches, pipelined. */
static void exchange(struct fgr_sync *s, uint64_t now_ms)
{
	struct fgr_call call = {.self = s->self,
	                        .inc = s->node->x.incarnation,
	                        .from = push_from(s),
	                        .ttl_ms = fgr_sync_ttl(s),
	                        .cur = s->cur};
	uint64_t to;
	size_t n, nb, b;

	s->want = 0;
	n = select_changed(s, call.from, &to);
	nb = n == 0 ? 1 : (n + FGR_PUSH_MAX - 1) / FGR_PUSH_MAX;
	for (b = 0; b < nb; b++)
		if (batch(s, &call, b, nb, n, to) != 0) {
			failed(s, now_ms);
			return;
		}
	s->nsent = nb;
	s->nreplied = 0;
	s->sent_inc = call.inc;
	s->sent_ms = now_ms;
	if (fgr_conn_send(&s->conn, now_ms) != 0)
		failed(s, now_ms);
}

/* What reply @b says of us. */
static void pushed_note(struct fgr_sync *s, const struct fgr_reply *p, size_t b)
{
	switch (p->status) {
	case FGR_PUSHED:
		s->st.pushed += s->sent_n[b];
		s->pushed = s->sent_to[b];
		s->pushed_inc = s->sent_inc;
		return;
	case FGR_GAP:
		s->st.gaps++;
		s->pushed = p->inc == s->sent_inc ? p->top : 0;
		s->pushed_inc = s->sent_inc;
		if (b == 0)
			LOG(s, LOG_NOTICE,
			    "redis %s: holds our counts up to version %llu of "
			    "%llu only (it lost data: restarted, flushed or "
			    "failed over): pushing them again",
			    s->url, (unsigned long long)s->pushed,
			    (unsigned long long)s->sent_to[s->nsent - 1]);
		return;
	case FGR_STALE:
		s->st.stale++;
		s->pushed = s->pushed_inc = 0;
		if (p->inc < s->node->x.incarnation)
			return; /* moved past it at an earlier batch */
		LOG(s, LOG_WARNING,
		    "redis %s: holds incarnation %llu of this node, later "
		    "than ours: moving past it (is another daemon using our "
		    "node key?)",
		    s->url, (unsigned long long)p->inc);
		fgd_node_learn_incarnation(s->node, p->inc);
		return;
	}
}

/* ----------------------------------------------------------------- pull */

static int by_oid(const void *a, const void *b)
{
	const struct fgr_cursor *x = a, *y = b;

	return x->oid < y->oid ? -1 : x->oid > y->oid;
}

/* Where we hold origin @oid's incarnation @inc: 0 if a stranger. */
static uint64_t have_of(const struct fgr_sync *s, uint64_t oid, uint64_t inc)
{
	struct fgr_cursor key = {.oid = oid};
	const struct fgr_cursor *c =
	    bsearch(&key, s->cur, s->ncur, sizeof *c, by_oid);

	return c != NULL && c->inc == inc ? c->have : 0;
}

/* Debit what origin @o's records add: the version we then hold it up
 * to (before the first that found no room in the table: pulled again). */
static uint64_t apply_origin(struct fgr_sync *s, const struct fgr_origin *o,
                             uint64_t have, uint64_t now_ms)
{
	struct fgr_record r;
	size_t j;

	for (j = 0; j < o->nrec; j++) {
		struct fgw_record w;

		fgr_reply_record(o, j, &r);
		w = (struct fgw_record){.rule = (const uint8_t *)r.rule,
		                        .rule_len = r.rule_len,
		                        .key = r.key,
		                        .key_len = r.key_len,
		                        .count = r.count,
		                        .floor = r.floor};
		if (fgd_counts_apply_from(&s->node->counts, o->oid, o->inc, &w,
		                          now_ms) != 0) {
			s->st.noroom++;
			return have;
		}
		s->st.pulled++;
		have = r.ver;
	}
	return o->next;
}

static void pull_apply(struct fgr_sync *s, const struct fgr_reply *p,
                       uint64_t now_ms)
{
	struct fgr_cursor *next = s->cur + FGR_ORIGINS_MAX;
	size_t i, k = 0;

	for (i = 0; i < p->norigins; i++) {
		struct fgr_origin o;

		fgr_reply_origin(p, i, &o);
		if (o.oid == s->self)
			continue;
		if (k == FGR_ORIGINS_MAX) {
			s->st.origins_ignored++;
			continue;
		}
		next[k].oid = o.oid;
		next[k].inc = o.inc;
		next[k].have =
		    apply_origin(s, &o, have_of(s, o.oid, o.inc), now_ms);
		k++;
	}
	qsort(next, k, sizeof *next, by_oid);
	memcpy(s->cur, next, k * sizeof *next);
	s->ncur = k;
	/* the debt bound counts every node that may consume (counts.h) */
	if (k > s->node->counts.npeers)
		s->node->counts.npeers = k;
}

/* ------------------------------------------------------------- a round */

/* Reply number s->nreplied of the exchange: 0, or -1 (refused). */
static int answered(struct fgr_sync *s, const redisReply *r, uint64_t now_ms)
{
	size_t b = s->nreplied++;
	struct fgr_reply p;
	char why[256];

	if (b >= s->nsent) {
		refused(s, FGR_F_REPLY, "a reply nobody asked for", now_ms);
		return -1;
	}
	if (fgr_reply_open(r, &p, why, sizeof why) != 0) {
		refused(
		    s, r->type == REDIS_REPLY_ERROR ? FGR_F_REDIS : FGR_F_REPLY,
		    why, now_ms);
		return -1;
	}
	pushed_note(s, &p, b);
	s->node->counts.pushed = push_from(s);
	if (b + 1 < s->nsent)
		return 0; /* the last one pulls */
	pull_apply(s, &p, now_ms);
	s->st.exchanges++;
	s->st.last_ms = now_ms;
	s->st.last_rtt_ms = now_ms - s->sent_ms;
	if (fgr_breaker_success(&s->br, now_ms))
		LOG(s, LOG_NOTICE,
		    "redis %s: answers again after %.1f s: breaker closed, "
		    "catching up",
		    s->url, (double)(now_ms - s->br.opened_ms) / 1000.0);
	return 0;
}

void fgr_sync_round(struct fgr_sync *s, uint64_t now_ms)
{
	if (s->node == NULL) /* off */
		return;
	switch (s->conn.state) {
	case FGR_CONN_CONNECTING:
	case FGR_CONN_HANDSHAKE:
	case FGR_CONN_BUSY:
		s->st.busy++;
		return;
	default:
		break;
	}
	if (!fgr_breaker_allow(&s->br, now_ms))
		return;
	if (s->conn.state == FGR_CONN_READY) {
		exchange(s, now_ms);
		return;
	}
	s->want = 1;
	if (fgr_conn_open(&s->conn, now_ms) != 0)
		failed(s, now_ms);
}

void fgr_sync_pollfd(const struct fgr_sync *s, struct pollfd *pfd,
                     uint64_t now_ms, int *timeout)
{
	fgr_conn_pollfd(&s->conn, pfd, now_ms, timeout);
}

void fgr_sync_service(struct fgr_sync *s, short revents, uint64_t now_ms)
{
	redisReply *r = NULL;
	int more;

	do { /* every reply the reader holds */
		more = 0;
		switch (fgr_conn_service(&s->conn, revents, now_ms, &r)) {
		case FGR_EV_READY:
			if (s->st.connects++ == 0)
				LOG(s, LOG_INFO, "redis %s: connected", s->url);
			if (s->want)
				exchange(s, now_ms);
			break;
		case FGR_EV_REPLY:
			more = answered(s, r, now_ms) == 0;
			freeReplyObject(r);
			break;
		case FGR_EV_FAIL:
			failed(s, now_ms);
			break;
		case FGR_EV_NONE:
			break;
		}
		revents = 0;
	} while (more);
}

void fgr_sync_flush(struct fgr_sync *s, uint64_t (*clock_ms)(void))
{
	uint64_t t = clock_ms(),
	         end = t + 2 * (uint64_t)s->conn.conf.timeout_ms;
	int started = 0;

	while (s->node != NULL && s->br.state == FGR_CLOSED && t < end) {
		struct pollfd pfd;
		int timeout = (int)(end - t);

		if (s->conn.state == FGR_CONN_READY ||
		    s->conn.state == FGR_CONN_DOWN) {
			if (started++)
				return;
			fgr_sync_round(s, t);
			continue;
		}
		fgr_sync_pollfd(s, &pfd, t, &timeout);
		if (poll(&pfd, 1, timeout) < 0)
			pfd.revents = 0;
		fgr_sync_service(s, pfd.revents, clock_ms());
		t = clock_ms();
	}
}
