/*
 * control.c - floodgated's control socket (see control.h).
 *
 * Why a Unix socket and not the segment: what the daemon knows beyond the
 * buckets (peers, the remote ledger, gossip counters) lives in its private
 * memory, and a socket with mode 0600 gives it to the daemon's user and
 * root only (the peer's credentials are checked too).
 *
 * Invariants.  The loop is never blocked: the listening and connected
 * sockets are non-blocking, a request is answered whole from memory the
 * moment its line is complete (answers are bounded: the ledger reply at
 * REMOTES_MAX lines), and the reply drains as the client reads.  A slot is
 * freed on every path: reply sent, error, or deadline passed.
 */
#include "daemon/control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gossip/node.h"
#include "lib/client.h"

#define REMOTES_MAX 200000u /* ledger lines in one reply */

/* ----------------------------------------------------------------- hex */

void fgd_ctl_hex(const void *buf, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *b = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * len] = '\0';
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int fgd_ctl_unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = strlen(s), i;

	if (n % 2 != 0 || n / 2 > max)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

/* ---------------------------------------------------------------- path */

int fgd_ctl_path(const struct fgd_config *cfg, char *out, size_t outlen)
{
	char seg[FG_SEG_PATH_MAX + 16];
	int n;

	if (strcmp(cfg->control, "off") == 0)
		return 1;
	if (cfg->control[0] != '\0') {
		n = snprintf(out, outlen, "%s", cfg->control);
	} else {
		if (fg__seg_path(cfg->segment, seg, sizeof seg) != 0)
			return FG_ENAME;
		n = snprintf(out, outlen, "%s.sock", seg);
	}
	if (n < 0 || (size_t)n >= outlen || (size_t)n > FGD_CONTROL_MAX)
		return FG_ENAME;
	return 0;
}

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
}

/* "ADDR:PORT" or "[ADDR]:PORT"; "-" when unknown. */
static void addr_fmt(const struct fgd_addr *a, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (a->len == 0) {
		snprintf(out, len, "-");
	} else if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
		    (const struct sockaddr_in6 *)&a->ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		snprintf(out, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 =
		    (const struct sockaddr_in *)&a->ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		snprintf(out, len, "%s:%u", host, ntohs(s4->sin_port));
	}
}

static void answer_peers(const struct fgd_ctl_env *env, uint64_t now,
                         struct fgd_buf *o)
{
	const struct fgd_node *n = env->node;
	char pk[2 * 8 + 1], addr[INET6_ADDRSTRLEN + 8];
	uint64_t rej = 0;
	size_t i;

	fgd_buf_printf(o, "ok\n");
	for (i = 0; n && i < env->kr->n; i++) {
		int self = (int)i == n->x.self;
		uint64_t heard = n->members.mem[i].heard_ms;

		fgd_ctl_hex(env->kr->keys[i].pk, 8, pk);
		/* the address it announced, or the one we found it at */
		addr_fmt(&n->members.mem[i].addr, addr, sizeof addr);
		fgd_buf_printf(o,
		               "peer name=%s key=%s addr=%s self=%d state=%s",
		               env->kr->keys[i].name, pk, addr, self,
		               self ? "self"
		                    : fgd_peer_state_name(
		                          fgd_node_peer_state(n, (int)i, now)));
		/* how far we hold its records: versions (sync.c) */
		fgd_buf_printf(o, " have=%" PRIu64 " latest=%" PRIu64,
		               self ? n->counts.version : n->sync.o[i].have,
		               self ? n->counts.version : n->sync.o[i].latest);
		if (heard == 0 || self)
			fgd_buf_printf(o, " heard_ms_ago=-1\n");
		else
			fgd_buf_printf(o, " heard_ms_ago=%" PRIu64 "\n",
			               since(now, heard));
	}
	for (i = 0; i < env->cfg->npeers; i++) { /* the config's seeds */
		addr_fmt(&env->cfg->peers[i], addr, sizeof addr);
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
static size_t marks_of(const struct fgd_ctl_env *env, const char *rule,
                       const uint8_t *key, size_t klen, uint64_t now,
                       struct fgd_buf *o)
{
	struct fgd_node *n = env->node;
	char hex[2 * FG_KEY_MAX + 1];
	size_t j, lines = 0;

	fgd_ctl_hex(key, klen, hex);
	for (j = 0; j < env->kr->n; j++) {
		const struct fgd_remote *e;

		if ((int)j == n->x.self)
			continue;
		e = fgd_node_mark(n, fgd_origin_id(env->kr, (int)j), rule,
		                  strlen(rule), key, klen);
		if (e == NULL)
			continue;
		lines++;
		fgd_buf_printf(o,
		               "remote origin=%s rule=%s key=%s count=%" PRIu64
		               " consumed=%" PRIu64 " owed=%" PRIu64
		               " changed_ms_ago=%" PRIu64,
		               env->kr->keys[j].name, rule, hex, e->count,
		               e->consumed, e->count - e->floor,
		               since(now, e->touched));
		if (n->members.mem[j].heard_ms == 0)
			fgd_buf_printf(o, " lag_ms=-1\n");
		else
			fgd_buf_printf(o, " lag_ms=%" PRIu64 "\n",
			               since(now, n->members.mem[j].heard_ms));
	}
	return lines;
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
 * come from the segment, read like the CLI reads it (a slot whose ctl
 * changed during the copy is skipped).  An operator's request: it costs
 * a pass over the table, and at most REMOTES_MAX lines.
 */
static void answer_remotes(const struct fgd_ctl_env *env, const char *rule,
                           uint64_t now, struct fgd_buf *o)
{
	struct fg_table *t = &env->fg->seg.tbl;
	size_t lines = 0;
	uint64_t i;
	int want = rule ? fg__rule_index(env->fg, rule) : -1;

	fgd_buf_printf(o, "ok\n");
	if (env->node == NULL || (rule != NULL && want < 0))
		return;
	for (i = 0; i < t->nslots; i++) {
		const struct fg_slot *s = &t->slots[i];
		uint64_t c = uatomic_read(&s->ctl);
		unsigned r = FG_CTL_RULE(c), len = FG_CTL_KEYLEN(c);
		uint8_t key[FG_KEY_MAX];
		const struct fg_rule_cache *rc;

		if (FG_CTL_STATE(c) != FG_SLOT_READY || len == 0 ||
		    len > FG_KEY_MAX || r >= FG_RULES_MAX ||
		    (want >= 0 && r != (unsigned)want))
			continue;
		rc = fg__rule_params(env->fg, r);
		if (!(rc->flags & FG__RULE_GLOBAL))
			continue;
		memcpy(key, s->key, len);
		if (uatomic_read(&s->ctl) != c)
			continue;
		lines += marks_of(env, env->fg->names[r], key, len, now, o);
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
	fgd_metrics_scrape(out, env->fg, env->node, now);
}

static void req_remote(const struct fgd_ctl_env *env, char **w, int nw,
                       uint64_t now, struct fgd_buf *out)
{
	uint8_t key[FG_KEY_MAX];
	int klen = fgd_ctl_unhex(w[2], key, sizeof key);

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
	char why[600];

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

/* --------------------------------------------------------------- server */

/* Is somebody answering at @path? */
static int answers(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return 0;
	memcpy(sa.sun_path, path, strlen(path));
	r = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return r;
}

int fgd_ctl_open(struct fgd_ctl *ctl, const char *path,
                 const struct fgd_ctl_env *env, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old;
	unsigned i;
	int r;

	memset(ctl, 0, sizeof *ctl);
	ctl->lfd = -1;
	for (i = 0; i < FGD_CTL_CLIENTS; i++)
		ctl->c[i].fd = -1;
	ctl->env = *env;
	if (strlen(path) > FGD_CONTROL_MAX || path[0] != '/') {
		snprintf(err, errlen,
		         "control %s: not an absolute path of at "
		         "most %u bytes",
		         path, (unsigned)FGD_CONTROL_MAX);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen,
			         "control %s: exists and is not "
			         "a socket; not replaced",
			         path);
			return -1;
		}
		if (answers(path)) {
			snprintf(err, errlen,
			         "control %s: another daemon "
			         "answers there",
			         path);
			return -1;
		}
		(void)unlink(path); /* left by a daemon that is gone */
	}
	ctl->lfd =
	    socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ctl->lfd < 0)
		goto fail;
	memcpy(sa.sun_path, path, strlen(path));
	old = umask(0177); /* 0600 from the start: no window with more */
	r = bind(ctl->lfd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r != 0 || listen(ctl->lfd, 16) != 0)
		goto fail;
	snprintf(ctl->path, sizeof ctl->path, "%s", path);
	return 0;
fail:
	snprintf(err, errlen, "control %s: %s", path, strerror(errno));
	if (ctl->lfd >= 0)
		close(ctl->lfd);
	ctl->lfd = -1;
	return -1;
}

static void conn_free(struct fgd_ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	fgd_buf_free(&c->out);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

void fgd_ctl_close(struct fgd_ctl *ctl)
{
	unsigned i;

	if (ctl->lfd < 0)
		return; /* never opened: no connection either */
	for (i = 0; i < FGD_CTL_CLIENTS; i++)
		if (ctl->c[i].fd >= 0)
			conn_free(&ctl->c[i]);
	close(ctl->lfd);
	(void)unlink(ctl->path);
	ctl->lfd = -1;
}

unsigned fgd_ctl_pollfds(struct fgd_ctl *ctl, struct pollfd *pfd,
                         uint64_t now_ms, int *timeout)
{
	unsigned i, n = 0;

	if (ctl->lfd < 0)
		return 0;
	pfd[n++] = (struct pollfd){.fd = ctl->lfd, .events = POLLIN};
	for (i = 0; i < FGD_CTL_CLIENTS; i++) {
		struct fgd_ctl_conn *c = &ctl->c[i];
		int left;

		pfd[n++] = (struct pollfd){
		    .fd = c->fd, .events = c->writing ? POLLOUT : POLLIN};
		if (c->fd < 0)
			continue;
		left = c->deadline_ms > now_ms ? (int)(c->deadline_ms - now_ms)
		                               : 0;
		if (*timeout < 0 || left < *timeout)
			*timeout = left;
	}
	return n;
}

/* Only the daemon's user and root may ask. */
static int peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof cr;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return 0;
	return cr.uid == 0 || cr.uid == geteuid();
}

/* Send what the kernel takes now; 1 when all of it is sent. */
static int conn_flush(struct fgd_ctl_conn *c)
{
	while (c->off < c->out.len) {
		ssize_t w = send(c->fd, c->out.p + c->off, c->out.len - c->off,
		                 MSG_NOSIGNAL);

		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ||
			               errno == EINTR
			           ? 0
			           : -1;
		c->off += (size_t)w;
	}
	return 1;
}

static void conn_reply(struct fgd_ctl *ctl, struct fgd_ctl_conn *c,
                       const char *line, uint64_t now)
{
	fgd_ctl_answer(&ctl->env, line, now, &c->out);
	if (c->out.oom) {
		fgd_buf_free(&c->out);
		fgd_buf_printf(&c->out, "error: out of memory\n");
	}
	c->writing = 1;
	c->deadline_ms = now + FGD_CTL_IDLE_MS;
	if (conn_flush(c) != 0)
		conn_free(c);
}

static void conn_accept(struct fgd_ctl *ctl, uint64_t now)
{
	unsigned i, k;

	for (k = 0; k < 64; k++) { /* bounded: the loop has other work */
		struct fgd_ctl_conn *c = NULL;
		int fd =
		    accept4(ctl->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0)
			return;
		for (i = 0; i < FGD_CTL_CLIENTS && c == NULL; i++)
			if (ctl->c[i].fd < 0)
				c = &ctl->c[i];
		if (c == NULL || !peer_allowed(fd)) {
			static const char busy[] = "error: busy, try again\n";
			static const char perm[] = "error: permission denied\n";

			/* a fresh socket's buffer takes one short line */
			if (c == NULL)
				(void)!send(fd, busy, sizeof busy - 1,
				            MSG_NOSIGNAL);
			else
				(void)!send(fd, perm, sizeof perm - 1,
				            MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->deadline_ms = now + FGD_CTL_IDLE_MS;
	}
}

static void conn_read(struct fgd_ctl *ctl, struct fgd_ctl_conn *c, uint64_t now)
{
	for (;;) {
		ssize_t r = recv(c->fd, c->in + c->inlen,
		                 sizeof c->in - 1 - c->inlen, 0);
		char *nl;

		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				conn_free(c);
			return;
		}
		c->inlen += (size_t)r;
		c->in[c->inlen] = '\0';
		nl = memchr(c->in, '\n', c->inlen);
		if (nl != NULL ||
		    r == 0) { /* a line, or all the client sends */
			if (nl != NULL)
				*nl = '\0';
			if (strlen(c->in) !=
			    (nl ? (size_t)(nl - c->in) : c->inlen)) {
				fgd_buf_printf(&c->out, "error: NUL byte in "
				                        "the request\n");
				c->writing = 1;
				if (conn_flush(c) != 0)
					conn_free(c);
				return;
			}
			conn_reply(ctl, c, c->in, now);
			return;
		}
		if (c->inlen > FGD_CTL_LINE_MAX) {
			fgd_buf_printf(&c->out,
			               "error: request longer than %u bytes\n",
			               FGD_CTL_LINE_MAX);
			c->writing = 1;
			if (conn_flush(c) != 0)
				conn_free(c);
			return;
		}
	}
}

void fgd_ctl_service(struct fgd_ctl *ctl, const struct pollfd *pfd, unsigned n,
                     uint64_t now_ms)
{
	unsigned i;

	if (n == 0 || ctl->lfd < 0)
		return;
	for (i = 0; i + 1 < n && i < FGD_CTL_CLIENTS; i++) {
		struct fgd_ctl_conn *c = &ctl->c[i];

		if (c->fd < 0 || pfd[i + 1].fd != c->fd)
			continue;
		if (pfd[i + 1].revents & (POLLERR | POLLNVAL)) {
			conn_free(c);
		} else if (c->writing &&
		           (pfd[i + 1].revents & (POLLOUT | POLLHUP))) {
			if (conn_flush(c) != 0)
				conn_free(c);
		} else if (!c->writing &&
		           (pfd[i + 1].revents & (POLLIN | POLLHUP))) {
			conn_read(ctl, c, now_ms);
		}
		if (c->fd >= 0 && now_ms >= c->deadline_ms)
			conn_free(c); /* idle, or not reading its reply */
	}
	if (pfd[0].revents & POLLIN)
		conn_accept(ctl, now_ms);
}

/* --------------------------------------------------------------- client */

int fgd_ctl_request(const char *path, const char *line, char **reply)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = FGD_CTL_IDLE_MS / 1000};
	struct fgd_buf b = {0};
	size_t len = strlen(line);
	char chunk[4096];
	int fd = -1, r = 0;

	*reply = NULL;
	if (strlen(path) > FGD_CONTROL_MAX || len > FGD_CTL_LINE_MAX ||
	    memchr(line, '\n', len) != NULL)
		return -EINVAL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	memcpy(sa.sun_path, path, strlen(path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		r = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = recv(fd, chunk, sizeof chunk, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto out;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > FGD_CTL_REPLY_MAX) {
			r = -EMSGSIZE;
			goto out;
		}
		fgd_buf_printf(&b, "%.*s", (int)n, chunk);
		if (b.oom) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (b.len == 0) {
		r = -EPROTO; /* closed without a word: not a floodgated */
		goto out;
	}
	*reply = b.p;
	b.p = NULL;
out:
	fgd_buf_free(&b);
	if (fd >= 0)
		close(fd);
	return r;
}
