/* SPDX-License-Identifier: ISC */
/*
 * requests.c - what floodgated's control socket answers (control.h): one
 * table of requests, each with its arguments and its answer, which also
 * makes the "unknown request" message.  Every answer is built whole from
 * the daemon's memory, bounded (the ledger's at REMOTES_MAX lines), and
 * starts "ok" or "error: ...".
 */
#include "daemon/requests.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/metrics.h"
#include "daemon/redisview.h"
#include "daemon/strictview.h"
#include "gossip/node.h"
#include "lib/client.h"
#include "shm/layout.h"
#include "shm/scan.h"
#include "util/hex.h"

#define REMOTES_MAX 200000u /* ledger lines in one reply */

/* -------------------------------------------------------------- answers */

static uint64_t since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

static void peer_counts(const struct fgd_ctl_env *env, uint64_t now,
                        unsigned st[4])
{
	size_t i;

	memset(st, 0, 4 * sizeof *st);
	if (env->node == NULL)
		return;
	for (i = 0; i < env->kr->n; i++) {
		enum fgd_peer_state s;

		if ((int)i == env->node->x.self)
			continue;
		s = fgd_node_peer_state(env->node, (int)i, now);
		st[(unsigned)s < 4 ? s : 0]++;
	}
}

static void answer_status(const struct fgd_ctl_env *env, uint64_t now,
                          struct fgd_buf *o)
{
	const struct fgd_node *n = env->node;
	unsigned st[4];

	peer_counts(env, now, st);
	fgd_buf_printf(o,
	               "ok\nstatus pid=%ld uptime_ms=%" PRIu64
	               " segment=%s config=%s gossip=%s incarnation=%" PRIu64
	               " rounds=%" PRIu64 " rules=%zu peer_addresses=%zu\n",
	               (long)getpid(), since(now, env->started_ms),
	               env->cfg->segment, env->cfg_path, n ? "on" : "off",
	               n ? n->x.incarnation : 0, n ? n->rounds : 0,
	               env->cfg->nrules, env->cfg->npeers);
	fgd_buf_printf(o,
	               "peers total=%u alive=%u suspect=%u dead=%u "
	               "unknown=%u\n",
	               st[1] + st[2] + st[3] + st[0], st[FGD_PEER_ALIVE],
	               st[FGD_PEER_SUSPECT], st[FGD_PEER_DEAD],
	               st[FGD_PEER_UNKNOWN]);
	if (env->redis != NULL)
		fgd_redis_status(o, env->redis, now);
	if (env->strict != NULL)
		fgd_strict_status(o, env->strict);
}

/* "ADDR:PORT" or "[ADDR]:PORT"; "-" when unknown. */

static void answer_peers(const struct fgd_ctl_env *env, uint64_t now,
                         struct fgd_buf *o)
{
	const struct fgd_node *n = env->node;
	char pk[2 * 8 + 1], addr[FGD_ADDR_TEXT];
	uint64_t rej = 0;
	size_t i;

	fgd_buf_printf(o, "ok\n");
	for (i = 0; n && i < env->kr->n; i++) {
		int self = (int)i == n->x.self;
		uint64_t heard = n->members.mem[i].heard_ms;

		fgu_hex(env->kr->keys[i].pk, 8, pk);
		/* the address it announced, or the one we found it at */
		fgd_addr_format(&n->members.mem[i].addr, addr, sizeof addr);
		fgd_buf_printf(o,
		               "peer name=%s key=%s addr=%s self=%d state=%s",
		               env->kr->keys[i].name, pk, addr, self,
		               self ? "self"
		                    : fgd_peer_state_name(
		                          fgd_node_peer_state(n, (int)i, now)));
		/* how far we hold its records: versions (sync.c) */
		fgd_buf_printf(o, " have=%" PRIu64 " latest=%" PRIu64,
		               self ? n->counts.k->version : n->sync.o[i].have,
		               self ? n->counts.k->version
		                    : n->sync.o[i].latest);
		if (heard == 0 || self)
			fgd_buf_printf(o, " heard_ms_ago=-1\n");
		else
			fgd_buf_printf(o, " heard_ms_ago=%" PRIu64 "\n",
			               since(now, heard));
	}
	for (i = 0; i < env->cfg->npeers; i++) { /* the config's seeds */
		fgd_addr_format(&env->cfg->peers[i], addr, sizeof addr);
		fgd_buf_printf(o, "address addr=%s\n", addr);
	}
	if (n == NULL)
		return;
	for (i = 1; i < FGW_NDROPS; i++)
		rej += n->ctr.drops[i];
	fgd_buf_printf(o,
	               "datagrams in=%" PRIu64 " out=%" PRIu64
	               " rejected=%" PRIu64 " send_errors=%" PRIu64 "\n",
	               n->ctr.rx_datagrams, n->ctr.tx_datagrams, rej,
	               n->ctr.tx_errors);
}

static void answer_stats(const struct fgd_ctl_env *env, struct fgd_buf *o)
{
	const struct fgd_counters *c;
	size_t i;

	fgd_buf_printf(o, "ok\n");
	if (env->node == NULL)
		return;
	c = &env->node->ctr;
	fgd_buf_printf(o,
	               "gossip rx_datagrams=%" PRIu64 " rx_bytes=%" PRIu64
	               " tx_datagrams=%" PRIu64 " tx_bytes=%" PRIu64
	               " tx_errors=%" PRIu64 " harvested=%" PRIu64
	               " applied=%" PRIu64 " records_unknown=%" PRIu64
	               " records_noroom=%" PRIu64 " local_noroom=%" PRIu64
	               " own_datagrams=%" PRIu64 " buffer_full=%" PRIu64 "\n",
	               c->rx_datagrams, c->rx_bytes, c->tx_datagrams,
	               c->tx_bytes, c->tx_errors, c->harvested, c->applied,
	               c->records_unknown, c->records_noroom, c->local_noroom,
	               c->drops_self, c->rx_overflow);
	fgd_buf_printf(o,
	               "members relayed=%" PRIu64 " pings=%" PRIu64
	               " acks=%" PRIu64 " ping_reqs=%" PRIu64
	               " acks_relayed=%" PRIu64 " suspected=%" PRIu64
	               " declared_dead=%" PRIu64 " announces=%" PRIu64
	               " ignored=%" PRIu64 " incarnations=%" PRIu64 "\n",
	               c->relayed, c->pings, c->acks, c->ping_reqs,
	               c->acks_relayed, c->suspected, c->declared_dead,
	               c->announces, c->member_ignored, c->incarnations);
	fgd_buf_printf(o,
	               "ledger marks=%zu max=%zu bytes_max=%zu evicted=%" PRIu64
	               " clamped=%" PRIu64 " capped=%" PRIu64 " own=%zu\n",
	               env->node->counts.remote.n, env->node->counts.remote.max,
	               fgd_ledger_bytes_max(sizeof(struct fgd_remote),
	                                    env->node->counts.remote.max),
	               c->ledger_evicted, c->debit_clamped, c->debt_capped,
	               env->node->counts.local.n);
	fgd_buf_printf(o,
	               "sync requests=%" PRIu64 " repairs=%" PRIu64
	               " repair_datagrams=%" PRIu64 " limited=%" PRIu64
	               " caught_up=%" PRIu64 "\n",
	               c->sync_requests, c->repairs, c->repair_datagrams,
	               c->repairs_limited, c->caught_up);
	fgd_buf_printf(o, "drops");
	for (i = 1; i < FGW_NDROPS; i++)
		fgd_buf_printf(o, " %s=%" PRIu64,
		               fgw_drop_name((enum fgw_drop)i), c->drops[i]);
	fgd_buf_printf(o, "\n");
}

/* The marks other origins hold us to for (@rule, @key), a line each:
 * the mark's count, what the origin consumed of the key since the mark
 * was made, what of it is still owed (above the floor), and how long ago
 * it moved and the origin was heard.  Returns the lines written. */
static void mark_line(const struct fgd_remote *e, const char *origin,
                      const char *rule, const char *hex, uint64_t now,
                      uint64_t heard_ms, struct fgd_buf *o)
{
	fgd_buf_printf(o,
	               "remote origin=%s rule=%s key=%s count=%" PRIu64
	               " consumed=%" PRIu64 " owed=%" PRIu64
	               " changed_ms_ago=%" PRIu64,
	               origin, rule, hex, e->count, e->consumed,
	               e->count - e->floor, since(now, e->touched));
	if (heard_ms == 0)
		fgd_buf_printf(o, " lag_ms=-1\n");
	else
		fgd_buf_printf(o, " lag_ms=%" PRIu64 "\n",
		               since(now, heard_ms));
}

/* Whether the origin @oid is a member of the keyring. */
static int in_keyring(const struct fgw_keyring *kr, uint64_t oid)
{
	size_t j;

	for (j = 0; j < kr->n; j++)
		if (fgd_origin_id(kr, (int)j) == oid)
			return 1;
	return 0;
}

/* The marks of the origins Redis names that the keyring does not (a
 * fleet that syncs through Redis alone needs no keyring of the others):
 * named by their id, in hex.  Lines written. */
static size_t redis_marks_of(const struct fgd_ctl_env *env, const char *rule,
                             const uint8_t *key, size_t klen, const char *hex,
                             uint64_t now, struct fgd_buf *o)
{
	const struct fgr_sync *r = env->redis;
	char name[17];
	size_t j, lines = 0;

	for (j = 0; r != NULL && j < r->ncur; j++) {
		uint64_t oid = r->cur[j].oid;
		const struct fgd_remote *e;

		if (oid == r->self || in_keyring(env->kr, oid))
			continue;
		e = fgd_node_mark(env->node, oid, rule, strlen(rule), key,
		                  klen);
		if (e == NULL)
			continue;
		snprintf(name, sizeof name, "%016" PRIx64, oid);
		mark_line(e, name, rule, hex, now, r->st.last_ms, o);
		lines++;
	}
	return lines;
}

static size_t marks_of(const struct fgd_ctl_env *env, const char *rule,
                       const uint8_t *key, size_t klen, uint64_t now,
                       struct fgd_buf *o)
{
	struct fgd_node *n = env->node;
	char hex[2 * FG_KEY_MAX + 1];
	size_t j, lines = 0;

	fgu_hex(key, klen, hex);
	for (j = 0; j < env->kr->n; j++) {
		const struct fgd_remote *e;

		if ((int)j == n->x.self)
			continue;
		e = fgd_node_mark(n, fgd_origin_id(env->kr, (int)j), rule,
		                  strlen(rule), key, klen);
		if (e == NULL)
			continue;
		lines++;
		mark_line(e, env->kr->keys[j].name, rule, hex, now,
		          n->members.mem[j].heard_ms, o);
	}
	return lines + redis_marks_of(env, rule, key, klen, hex, now, o);
}

static void answer_marks(const struct fgd_ctl_env *env, const char *rule,
                         const uint8_t *key, size_t klen, uint64_t now,
                         struct fgd_buf *o)
{
	fgd_buf_printf(o, "ok\n");
	if (env->node != NULL && fg__rule_index(env->fg, rule) >= 0)
		(void)marks_of(env, rule, key, klen, now, o);
}

/*
 * The marks of every key of @rule (NULL: of every global rule) that has
 * a bucket here: marks are kept by id, not by name (node.h), so the keys
 * come from the segment, read like the CLI reads it (consistent copies,
 * shm/scan.h).  An operator's request: it costs
 * a pass over the table, and at most REMOTES_MAX lines.
 */
static void answer_remotes(const struct fgd_ctl_env *env, const char *rule,
                           uint64_t now, struct fgd_buf *o)
{
	struct fg_slot_view v;
	uint64_t cur = 0;
	size_t lines = 0;
	int want = rule ? fg__rule_index(env->fg, rule) : -1;

	fgd_buf_printf(o, "ok\n");
	if (env->node == NULL || (rule != NULL && want < 0))
		return;
	while (fg__slot_next(&env->fg->seg.tbl, &cur, &v)) {
		if (v.rule >= FG_RULES_MAX || v.keylen > FG_KEY_MAX ||
		    (want >= 0 && v.rule != (unsigned)want) ||
		    !(fg__rule_params(env->fg, v.rule)->flags &
		      FG__RULE_GLOBAL))
			continue;
		lines += marks_of(env, env->fg->names[v.rule], v.key, v.keylen,
		                  now, o);
		if (lines >= REMOTES_MAX) {
			fgd_buf_printf(o, "truncated at=%u\n", REMOTES_MAX);
			return;
		}
	}
}

/* The words of @line, split on blanks; how many (at most @max). */
static int split(char *line, char **w, int max)
{
	int n = 0;

	for (;;) {
		line += strspn(line, " \t\r");
		if (*line == '\0' || n == max)
			return *line == '\0' ? n : max + 1;
		w[n++] = line;
		line += strcspn(line, " \t\r");
		if (*line != '\0')
			*line++ = '\0';
	}
}

/* ------------------------------------------------------------- requests */

/* A request's words: w[0] is its name, w[1..nw-1] its arguments. */
typedef void answer_fn(const struct fgd_ctl_env *env, char **w, int nw,
                       uint64_t now, struct fgd_buf *out);

static void req_status(const struct fgd_ctl_env *env, char **w, int nw,
                       uint64_t now, struct fgd_buf *out)
{
	(void)w;
	(void)nw;
	answer_status(env, now, out);
}

static void req_peers(const struct fgd_ctl_env *env, char **w, int nw,
                      uint64_t now, struct fgd_buf *out)
{
	(void)w;
	(void)nw;
	answer_peers(env, now, out);
}

static void req_stats(const struct fgd_ctl_env *env, char **w, int nw,
                      uint64_t now, struct fgd_buf *out)
{
	(void)w;
	(void)nw;
	(void)now;
	answer_stats(env, out);
}

static void req_metrics(const struct fgd_ctl_env *env, char **w, int nw,
                        uint64_t now, struct fgd_buf *out)
{
	(void)w;
	(void)nw;
	fgd_buf_printf(out, "ok\n");
	fgd_metrics_scrape(out, env->fg, env->node, env->solo, now);
	if (env->strict != NULL)
		fgd_strict_metrics(out, env->strict);
}

static void req_remote(const struct fgd_ctl_env *env, char **w, int nw,
                       uint64_t now, struct fgd_buf *out)
{
	uint8_t key[FG_KEY_MAX];
	int klen = fgu_unhex(w[2], key, sizeof key);

	(void)nw;
	if (klen <= 0)
		fgd_buf_printf(out, "error: key must be 1..%d bytes in hex\n",
		               FG_KEY_MAX);
	else
		answer_marks(env, w[1], key, (size_t)klen, now, out);
}

static void req_remotes(const struct fgd_ctl_env *env, char **w, int nw,
                        uint64_t now, struct fgd_buf *out)
{
	answer_remotes(env, nw == 2 ? w[1] : NULL, now, out);
}

static void req_reload(const struct fgd_ctl_env *env, char **w, int nw,
                       uint64_t now, struct fgd_buf *out)
{
	char why[1100];

	(void)w;
	(void)nw;
	(void)now;
	if (env->reload(env->arg, why, sizeof why) == 0)
		fgd_buf_printf(out, "ok\n");
	else
		fgd_buf_printf(out, "error: %s\n", why);
}

/* Every request, with its arguments (which the usage in an error names). */
static const struct request {
	const char *name;
	const char *args; /* as the error lists them */
	int min, max;     /* arguments after the name */
	answer_fn *answer;
} requests[] = {
    {"status", "", 0, 0, req_status},
    {"peers", "", 0, 0, req_peers},
    {"stats", "", 0, 0, req_stats},
    {"metrics", "", 0, 0, req_metrics},
    {"remote", "RULE HEXKEY", 2, 2, req_remote},
    {"remotes", "[RULE]", 0, 1, req_remotes},
    {"reload", "", 0, 0, req_reload},
};

#define NREQUESTS (sizeof requests / sizeof requests[0])
#define MAX_ARGS  2 /* the most any request takes */

/* "error: unknown request (status, ..., remote RULE HEXKEY, ...)" */
static void unknown(struct fgd_buf *out)
{
	size_t i;

	fgd_buf_printf(out, "error: unknown request (");
	for (i = 0; i < NREQUESTS; i++)
		fgd_buf_printf(out, "%s%s%s%s", i ? ", " : "", requests[i].name,
		               requests[i].args[0] ? " " : "",
		               requests[i].args);
	fgd_buf_printf(out, ")\n");
}

void fgd_ctl_answer(const struct fgd_ctl_env *env, const char *line,
                    uint64_t now_ms, struct fgd_buf *out)
{
	char buf[FGD_CTL_LINE_MAX + 1], *w[MAX_ARGS + 2];
	size_t i;
	int nw;

	snprintf(buf, sizeof buf, "%s", line);
	nw = split(buf, w, MAX_ARGS + 1);
	if (nw <= 0) {
		fgd_buf_printf(out, "error: empty request\n");
		return;
	}
	for (i = 0; i < NREQUESTS; i++) {
		const struct request *r = &requests[i];

		if (strcmp(w[0], r->name) == 0 && nw - 1 >= r->min &&
		    nw - 1 <= r->max) {
			r->answer(env, w, nw, now_ms, out);
			return;
		}
	}
	unknown(out);
}
