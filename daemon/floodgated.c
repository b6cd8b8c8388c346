/*
 * floodgated.c - the per-host daemon: owns the segment, publishes the
 * rules, and gossips signed per-key consumption to its peers.
 *
 * One thread, one poll() loop over the UDP socket and a signalfd, woken
 * at least every round (the gossip interval).  Workers never wait on it:
 * if it is down they keep limiting on local state, and when it comes back
 * it re-attaches to the same segment and goes on (a new incarnation, so
 * peers do not count anything twice).
 *
 * Lifecycle as chrony's main.c: each module is set up in order and torn
 * down in reverse from one exit path.  Signals: SIGTERM/SIGINT flush one
 * last round and exit 0; SIGHUP re-reads the config (rejected whole, with
 * file:line, if it has an error: the old rules stay); SIGUSR1 logs the
 * counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <urcu/uatomic.h>

#include <sodium.h>

#include "daemon/config.h"
#include "daemon/http.h"
#include "daemon/control.h"
#include "gossip/node.h"
#include "daemon/snapshot.h"
#include "gossip/keys.h"
#include "lib/client.h"
#include "lib/floodgate.h"

#define REAP_EVERY_MS   10000u
#define REAP_MIN_AGE_MS 60000u
#define EXPIRE_EVERY_MS 10000u

static int use_syslog;
static int verbose;

static void logmsg(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void logmsg(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio == LOG_DEBUG && !verbose)
		return;
	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(prio, fmt, ap);
	} else {
		fprintf(stderr, "floodgated: ");
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: floodgated -c FILE [-f] [-v]\n"
	        "       floodgated --keygen PATH [NAME]\n"
	        "  -c FILE   configuration (floodgate.conf(5))\n"
	        "  -f        stay in the foreground, log to stderr\n"
	        "  -v        log debug messages\n"
	        "  --keygen  write a new node key pair: PATH (secret, 0600)\n"
	        "            and PATH.pub (keyring line \"NAME KEY\")\n");
}

struct daemon {
	struct fgd_config cfg;
	const char *cfg_path;
	fg_client *fg;
	uint8_t *sk;
	uint8_t pk[FGW_PK_SIZE];
	struct fgw_keyring kr;
	struct fgd_node node;
	struct fgd_counters noted; /* as ledger_note() last saw them */
	int node_ok;
	enum fgd_peer_state *peer_state; /* per keyring entry, as last logged */
	int sock;
	uint32_t rxq_ovfl; /* the socket's SO_RXQ_OVFL count, last seen */
	int sigfd;
	struct fgd_http *http; /* NULL: no HTTP endpoint */
	struct fgd_ctl ctl;    /* control socket for floodgate(1) */
	int fresh; /* we created the segment: restore the snapshot */
};

/* ---------------------------------------------------------------- rules */

/* Make the segment's rules those of @cfg: set each, remove the others. */
static int rules_apply(fg_client *fg, const struct fgd_config *cfg)
{
	fg_rule_info ri;
	size_t i;
	unsigned idx;
	int r;

	for (i = 0; i < cfg->nrules; i++) {
		const struct fgd_rule *cr = &cfg->rules[i];
		fg_rule rule;

		fgd_rule_lib(cr, &rule);
		r = fg_rule_set(fg, &rule);
		if (r != 0) {
			logmsg(LOG_ERR, "rule %s: %s", cr->name,
			       fg_strerror(r));
			return -1;
		}
	}
	for (idx = 0; idx < FG_RULES_MAX; idx++) {
		int keep = 0;

		if (fg_rule_get(fg, idx, &ri) != 0)
			continue;
		for (i = 0; i < cfg->nrules && !keep; i++)
			keep = strcmp(cfg->rules[i].name, ri.name) == 0;
		if (!keep && fg_rule_remove(fg, ri.name) == 0)
			logmsg(LOG_INFO, "rule %s removed", ri.name);
	}
	return 0;
}

/* -------------------------------------------------------------- segment */

static int segment_open(struct daemon *d)
{
	fg_segment_opts o = {.capacity = d->cfg.capacity,
	                     .mode = d->cfg.mode,
	                     .flags =
	                         d->cfg.huge_pages ? FG_SEGMENT_HUGEPAGES : 0,
	                     .uid = -1,
	                     .gid = -1};
	char buf[1024];
	int r;

	if (d->cfg.user[0]) {
		struct passwd pw, *res = NULL;

		if (getpwnam_r(d->cfg.user, &pw, buf, sizeof buf, &res) != 0 ||
		    res == NULL) {
			logmsg(LOG_ERR, "user %s: no such user", d->cfg.user);
			return -1;
		}
		o.uid = res->pw_uid;
	}
	if (d->cfg.group[0]) {
		struct group gr, *res = NULL;

		if (getgrnam_r(d->cfg.group, &gr, buf, sizeof buf, &res) != 0 ||
		    res == NULL) {
			logmsg(LOG_ERR, "group %s: no such group",
			       d->cfg.group);
			return -1;
		}
		o.gid = res->gr_gid;
	}
	if (fg__seg_path(d->cfg.segment, buf, sizeof buf) == 0)
		d->fresh = access(buf, F_OK) != 0;
	r = fg_create(d->cfg.segment, &o, 0, &d->fg);
	if (r != 0) {
		logmsg(LOG_ERR, "segment %s: %s%s", d->cfg.segment,
		       fg_strerror(r),
		       r == FG_EEXIST ? " (remove it with fg_unlink or change "
		                        "capacity back)"
		                      : "");
		return -1;
	}
	uatomic_set(&d->fg->seg.tbl.hdr->owner_pid, (uint64_t)getpid());
	return 0;
}

/* ---------------------------------------------------------------- gossip */

static int identity_load(struct daemon *d)
{
	char err[512];

	if (d->cfg.node_key[0] == '\0') {
		if (d->cfg.npeers == 0)
			return 0; /* a single host: nothing to sign */
		logmsg(LOG_ERR, "%s: peers need node-key and keyring",
		       d->cfg_path);
		return -1;
	}
	if (fgk_load_secret(d->cfg.node_key, &d->sk, d->pk, err, sizeof err) !=
	    0) {
		logmsg(LOG_ERR, "%s", err);
		return -1;
	}
	if (d->cfg.keyring[0] &&
	    fgk_keyring_load(d->cfg.keyring, &d->kr, err, sizeof err) != 0) {
		logmsg(LOG_ERR, "%s", err);
		return -1;
	}
	return 0;
}

/* What the UDP socket's receive buffer is asked to hold: every peer's
 * round lands at once, and the loop reads at most 1024 datagrams between
 * two rounds.  The kernel caps it at net.core.rmem_max unless we may
 * force it (CAP_NET_ADMIN). */
#define RCVBUF_BYTES (4 << 20)

static int socket_open(struct daemon *d)
{
	int one = 1, want = RCVBUF_BYTES, got = 0;
	socklen_t gl = sizeof got;

	d->sock = socket(d->cfg.listen.ss.ss_family,
	                 SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (d->sock < 0) {
		logmsg(LOG_ERR, "socket: %s", strerror(errno));
		return -1;
	}
	(void)setsockopt(d->sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (d->cfg.listen.ss.ss_family == AF_INET6) {
		int zero = 0; /* [::] reaches IPv4 peers whatever the sysctl */

		(void)setsockopt(d->sock, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
		                 sizeof zero);
	}
	if (bind(d->sock, (struct sockaddr *)&d->cfg.listen.ss,
	         d->cfg.listen.len) != 0) {
		logmsg(LOG_ERR, "listen: bind: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(d->sock, SOL_SOCKET, SO_RCVBUFFORCE, &want,
	               sizeof want) != 0)
		(void)setsockopt(d->sock, SOL_SOCKET, SO_RCVBUF, &want,
		                 sizeof want);
	/* the kernel reports twice what it grants (its bookkeeping) */
	if (getsockopt(d->sock, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0 &&
	    got / 2 < want)
		logmsg(LOG_NOTICE,
		       "receive buffer: %d KiB of the %d asked for; bursts "
		       "from many peers may overflow it (sysctl "
		       "net.core.rmem_max=%d raises the limit)",
		       got / 2 / 1024, want / 1024, want);
	/* Each read then says how many datagrams the kernel dropped. */
	(void)setsockopt(d->sock, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
	return 0;
}

static int net_attach(struct daemon *d);

static int node_start(struct daemon *d)
{
	char state[FG_SEG_PATH_MAX + 32], err[300] = "";
	struct fgd_node_params p = {.max_datagram = d->cfg.max_datagram,
	                            .interval_ms = d->cfg.interval_ms,
	                            .npeers = d->cfg.npeers,
	                            .ledger_max = d->cfg.ledger_size,
	                            .debt_window_ms = d->cfg.debt_window_ms,
	                            .err = err,
	                            .errlen = sizeof err};
	struct timespec ts;

	if (d->sk == NULL)
		return 0;
	/* The harvest baseline lives beside the segment, so that what
	 * workers consume while we are down is reported when we are back. */
	if (fg__seg_path(d->cfg.segment, state, sizeof state - 8) == 0) {
		strcat(state, ".state");
		p.state_path = state;
	}
	/* The incarnation must grow across restarts of this node: the
	 * wall clock at start, its only use here. */
	clock_gettime(CLOCK_REALTIME, &ts);
	p.incarnation =
	    (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (fgd_node_init(&d->node, d->fg, &d->kr, d->sk, d->pk, &p) != 0) {
		logmsg(LOG_ERR, "gossip state: %s",
		       err[0] ? err : "out of memory");
		return -1;
	}
	logmsg(LOG_INFO,
	       "remote ledger: up to %zu marks (%zu MiB); debt paid back "
	       "for cuts of up to %u s",
	       d->node.counts.remote.max,
	       fgd_ledger_bytes_max(sizeof(struct fgd_remote),
	                            d->node.counts.remote.max) >>
	           20,
	       (unsigned)(d->node.counts.debt_window_ns / 1000000000u));
	d->peer_state = calloc(d->kr.n ? d->kr.n : 1, sizeof *d->peer_state);
	if (d->peer_state == NULL) {
		fgd_node_fini(&d->node);
		return -1;
	}
	if (net_attach(d) != 0) {
		logmsg(LOG_ERR, "out of memory for the gossip state");
		fgd_node_fini(&d->node);
		return -1;
	}
	d->node_ok = 1;
	if (d->node.x.self < 0)
		logmsg(LOG_WARNING, "our own key is not in the keyring: peers "
		                    "will drop what we send");
	return 0;
}

/* The node picks the destinations (members.c): fanout, relaying, SWIM. */
static void send_to(void *arg, const struct fgd_addr *a, const uint8_t *buf,
                    size_t len)
{
	struct daemon *d = arg;

	if (sendto(d->sock, buf, len, 0, (const struct sockaddr *)&a->ss,
	           a->len) == (ssize_t)len) {
		d->node.ctr.tx_datagrams++;
		d->node.ctr.tx_bytes += len;
	} else {
		d->node.ctr.tx_errors++;
	}
}

/* Seeds, fanout and our address to the node; again after a reload. */
static int net_attach(struct daemon *d)
{
	struct fgd_net net = {.self = d->cfg.announce.len ? &d->cfg.announce
	                                                  : &d->cfg.listen,
	                      .seeds = d->cfg.peers,
	                      .nseeds = d->cfg.npeers,
	                      .send = send_to,
	                      .arg = d};

	if (d->cfg.announce_off)
		net.self = NULL; /* members find us only in their config */
	if (d->cfg.fanout == FGD_FANOUT_UNSET)
		net.fanout = fgd_fanout_auto(d->kr.n);
	else
		net.fanout =
		    d->cfg.fanout == FGD_FANOUT_ALL ? 0 : d->cfg.fanout;
	return fgd_node_set_net(&d->node, &net);
}

/* Log each peer's change of state (alive, suspect, dead). */
static void peers_watch(struct daemon *d, uint64_t t)
{
	size_t i;

	for (i = 0; i < d->kr.n; i++) {
		enum fgd_peer_state st =
		    fgd_node_peer_state(&d->node, (int)i, t);

		if ((int)i == d->node.x.self || st == d->peer_state[i])
			continue;
		logmsg(st == FGD_PEER_ALIVE ? LOG_INFO : LOG_WARNING,
		       "peer %s: %s -> %s", d->kr.keys[i].name,
		       fgd_peer_state_name(d->peer_state[i]),
		       fgd_peer_state_name(st));
		d->peer_state[i] = st;
	}
}

static void round_run(struct daemon *d, uint64_t t)
{
	if (!d->node_ok)
		return;
	fgd_node_harvest(&d->node, t);
	(void)fgd_node_tick(&d->node, t);
	peers_watch(d, t);
}

/* SO_RXQ_OVFL: the socket's count of datagrams dropped for a full
 * buffer (32 bits, wrapping), into the node's counter. */
static void overflow_note(struct daemon *d, struct msghdr *mh)
{
	struct cmsghdr *c;
	uint32_t drops;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET ||
		    c->cmsg_type != SO_RXQ_OVFL ||
		    c->cmsg_len < CMSG_LEN(sizeof drops))
			continue;
		memcpy(&drops, CMSG_DATA(c), sizeof drops);
		d->node.ctr.rx_overflow += (uint32_t)(drops - d->rxq_ovfl);
		d->rxq_ovfl = drops;
	}
}

static void receive_all(struct daemon *d, uint64_t t)
{
	uint8_t buf[FGW_MAX_SIZE + 1];
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(sizeof(uint32_t))];
	} ctl;
	unsigned i;

	for (i = 0; i < 1024; i++) { /* bounded: rounds must still run */
		struct fgd_addr from = {.len = sizeof from.ss};
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
		struct msghdr mh = {.msg_name = &from.ss,
		                    .msg_namelen = sizeof from.ss,
		                    .msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = ctl.b,
		                    .msg_controllen = sizeof ctl.b};
		ssize_t n = recvmsg(d->sock, &mh, 0);

		if (n < 0)
			return;
		from.len = mh.msg_namelen;
		if (!d->node_ok)
			continue;
		overflow_note(d, &mh);
		(void)fgd_node_receive_from(&d->node, buf, (size_t)n, &from, t);
	}
}

static void counters_log(const struct daemon *d)
{
	const struct fgd_counters *c = &d->node.ctr;
	char drops[512];
	size_t off = 0;
	int i;

	for (i = 1; i < FGW_NDROPS && off < sizeof drops; i++)
		off += (size_t)snprintf(drops + off, sizeof drops - off,
		                        " %s=%llu",
		                        fgw_drop_name((enum fgw_drop)i),
		                        (unsigned long long)c->drops[i]);
	logmsg(LOG_INFO,
	       "rx %llu datagrams %llu bytes, tx %llu datagrams %llu bytes "
	       "(%llu errors), harvested %llu, applied %llu, unknown-rule "
	       "%llu, no-room %llu, marks forgotten %llu, clamped %llu, "
	       "capped %llu, dropped:%s self=%llu buffer-full=%llu",
	       (unsigned long long)c->rx_datagrams,
	       (unsigned long long)c->rx_bytes,
	       (unsigned long long)c->tx_datagrams,
	       (unsigned long long)c->tx_bytes,
	       (unsigned long long)c->tx_errors,
	       (unsigned long long)c->harvested, (unsigned long long)c->applied,
	       (unsigned long long)c->records_unknown,
	       (unsigned long long)(c->records_noroom + c->local_noroom),
	       (unsigned long long)c->ledger_evicted,
	       (unsigned long long)c->debit_clamped,
	       (unsigned long long)c->debt_capped, drops,
	       (unsigned long long)c->drops_self,
	       (unsigned long long)c->rx_overflow);
	logmsg(LOG_INFO,
	       "sync: %llu requests, %llu repairs sent (%llu datagrams, %llu "
	       "not sent: too soon), %llu caught up by a repair",
	       (unsigned long long)c->sync_requests,
	       (unsigned long long)c->repairs,
	       (unsigned long long)c->repair_datagrams,
	       (unsigned long long)c->repairs_limited,
	       (unsigned long long)c->caught_up);
}

/*
 * What the gossip could not do as asked since the last call (every
 * EXPIRE_EVERY_MS), logged once with what to change: forgotten marks,
 * debits with no room, and what the debit bounds kept out.
 */
static void ledger_note(struct daemon *d)
{
	const struct fgd_counters *c = &d->node.ctr;
	struct fgd_counters *was = &d->noted;

	if (c->ledger_evicted > was->ledger_evicted)
		logmsg(LOG_WARNING,
		       "remote ledger full (%zu marks): %llu marks still owed "
		       "forgotten in %u s; keys used on several hosts may be "
		       "charged twice (stricter, never looser): raise "
		       "ledger-size",
		       d->node.counts.remote.max,
		       (unsigned long long)(c->ledger_evicted -
		                            was->ledger_evicted),
		       EXPIRE_EVERY_MS / 1000);
	if (c->records_noroom > was->records_noroom)
		logmsg(LOG_WARNING,
		       "%llu debits for other hosts found no room in the "
		       "table (capacity %llu): they wait for a repair; raise "
		       "capacity",
		       (unsigned long long)(c->records_noroom -
		                            was->records_noroom),
		       (unsigned long long)d->cfg.capacity);
	if (c->debit_clamped > was->debit_clamped)
		logmsg(LOG_WARNING,
		       "peers reported %llu tokens more than they can have "
		       "admitted: not debited (a peer's clock or key is wrong)",
		       (unsigned long long)(c->debit_clamped -
		                            was->debit_clamped));
	if (c->debt_capped > was->debt_capped)
		logmsg(LOG_NOTICE,
		       "%llu tokens of debt beyond the bound forgiven (a cut "
		       "longer than debt-window, or a peer's key misused)",
		       (unsigned long long)(c->debt_capped - was->debt_capped));
	*was = *c;
}

/* ---------------------------------------------------------------- reload */

/* SIGHUP, or floodgate reload: 0, or -1 with the reason in @why. */
static int reload(struct daemon *d, char *why, size_t whylen)
{
	struct fgd_config nc;
	char err[512];

	if (fgd_config_load(d->cfg_path, &nc, err, sizeof err) != 0) {
		logmsg(LOG_ERR, "reload rejected, old config kept: %s", err);
		snprintf(why, whylen, "reload rejected, old config kept: %s",
		         err);
		return -1;
	}
	if (strcmp(nc.segment, d->cfg.segment) != 0 ||
	    nc.capacity != d->cfg.capacity ||
	    strcmp(nc.node_key, d->cfg.node_key) != 0 ||
	    strcmp(nc.keyring, d->cfg.keyring) != 0 ||
	    nc.listen.len != d->cfg.listen.len ||
	    memcmp(&nc.listen.ss, &d->cfg.listen.ss, nc.listen.len) != 0)
		logmsg(LOG_WARNING, "segment, capacity, keys and listen take "
		                    "effect at restart only");
	if (!fgd_config_http_same(&nc, &d->cfg))
		logmsg(LOG_WARNING, "http takes effect at restart only");
	if (rules_apply(d->fg, &nc) != 0) {
		logmsg(LOG_ERR, "reload: rules not all applied");
		snprintf(why, whylen, "rules not all applied (see the log)");
		fgd_config_free(&nc);
		return -1;
	}
	/* take what a running node can change: peers, interval, size */
	free(d->cfg.peers);
	d->cfg.peers = nc.peers;
	d->cfg.npeers = nc.npeers;
	nc.peers = NULL;
	d->cfg.interval_ms = nc.interval_ms;
	d->cfg.max_datagram = nc.max_datagram;
	d->cfg.fanout = nc.fanout;
	d->cfg.announce = nc.announce;
	d->cfg.announce_off = nc.announce_off;
	free(d->cfg.rules);
	d->cfg.rules = nc.rules;
	d->cfg.nrules = nc.nrules;
	nc.rules = NULL;
	if (d->node_ok) {
		if (d->cfg.npeers > d->node.counts.npeers)
			d->node.counts.npeers = d->cfg.npeers;
		if (net_attach(d) != 0)
			logmsg(LOG_ERR,
			       "reload: out of memory: old peers kept");
		d->node.x.max_datagram = d->cfg.max_datagram;
		d->node.members.interval_ms = d->cfg.interval_ms;
	}
	fgd_config_free(&nc);
	logmsg(LOG_INFO, "configuration reloaded: %zu rules, %zu peers",
	       d->cfg.nrules, d->cfg.npeers);
	return 0;
}

static int reload_ctl(void *arg, char *why, size_t whylen)
{
	return reload(arg, why, whylen);
}

static int control_open(struct daemon *d)
{
	struct fgd_ctl_env env = {.fg = d->fg,
	                          .cfg = &d->cfg,
	                          .kr = &d->kr,
	                          .node = d->node_ok ? &d->node : NULL,
	                          .cfg_path = d->cfg_path,
	                          .started_ms = now_ms(),
	                          .reload = reload_ctl,
	                          .arg = d};
	char path[FGD_CONTROL_MAX + 1], err[600];
	int r = fgd_ctl_path(&d->cfg, path, sizeof path);

	if (r == 1)
		return 0; /* "control off" */
	if (r != 0) {
		logmsg(LOG_ERR,
		       "control socket: the path beside segment %s "
		       "is too long for a socket; set control",
		       d->cfg.segment);
		return -1;
	}
	if (fgd_ctl_open(&d->ctl, path, &env, err, sizeof err) != 0) {
		logmsg(LOG_ERR, "%s", err);
		return -1;
	}
	return 0;
}

static int http_open(struct daemon *d)
{
	char err[256];

	if (fgd_http_start(&d->http, &d->cfg, d->fg,
	                   d->node_ok ? &d->node : NULL, err, sizeof err) == 0)
		return 0;
	logmsg(LOG_ERR, "%s", err);
	return -1;
}

/* ------------------------------------------------------------ snapshots */

static void snapshot_save(struct daemon *d)
{
	struct fgd_snap_counts n;
	char err[600];

	if (!d->cfg.snapshot[0] || !d->node_ok)
		return;
	d->node.ctr.snapshot_every_ms = d->cfg.snapshot_every_ms;
	if (fgd_snapshot_write(d->cfg.snapshot, &d->node, &n, err,
	                       sizeof err) != 0) {
		d->node.ctr.snapshot_errors++;
		logmsg(LOG_ERR, "%s", err);
		return;
	}
	d->node.ctr.snapshots++;
	d->node.ctr.snapshot_ms = now_ms();
	if (verbose)
		logmsg(LOG_DEBUG, "snapshot %s: %llu buckets, %llu marks",
		       d->cfg.snapshot, (unsigned long long)n.buckets,
		       (unsigned long long)n.remote);
}

/* A segment we just created (the host rebooted, or it was removed) gets
 * back the buckets and marks of the last snapshot; one that survived is
 * newer than any snapshot and is left alone. */
static void snapshot_load(struct daemon *d)
{
	struct fgd_snap_counts n;
	char err[600];
	int r;

	if (!d->cfg.snapshot[0] || !d->node_ok || !d->fresh)
		return;
	r = fgd_snapshot_restore(d->cfg.snapshot, &d->node, now_ms(), &n, err,
	                         sizeof err);
	if (r < 0)
		logmsg(LOG_ERR, "%s: starting with full buckets", err);
	else if (r == 0)
		logmsg(LOG_INFO,
		       "snapshot %s restored: %llu buckets, %llu marks, "
		       "%llu skipped (refilled, or rule gone)",
		       d->cfg.snapshot, (unsigned long long)n.buckets,
		       (unsigned long long)n.remote,
		       (unsigned long long)n.skipped);
}

/* ------------------------------------------------------------------ loop */

static int run(struct daemon *d)
{
	uint64_t t = now_ms(), next_round = t, next_reap = t + REAP_EVERY_MS;
	uint64_t next_expire = t + EXPIRE_EVERY_MS;
	uint64_t next_snap = t + d->cfg.snapshot_every_ms;

	for (;;) {
		struct pollfd pfd[2 + FGD_CTL_NFDS + 1] = {
		    {.fd = d->sigfd, .events = POLLIN},
		    {.fd = d->sock, .events = POLLIN}};
		unsigned nctl, nhttp;
		int timeout;

		t = now_ms();
		if (t >= next_round) {
			round_run(d, t);
			next_round += d->cfg.interval_ms;
			if (next_round <= t) /* fell behind: do not burst */
				next_round = t + d->cfg.interval_ms;
		}
		if (t >= next_reap) {
			int n = fg_reap(d->fg, REAP_MIN_AGE_MS);

			if (n > 0)
				logmsg(LOG_INFO, "reaped %d abandoned slots",
				       n);
			next_reap = t + REAP_EVERY_MS;
		}
		if (t >= next_expire && d->node_ok) {
			fgd_node_expire(&d->node, t);
			ledger_note(d);
			next_expire = t + EXPIRE_EVERY_MS;
		}
		if (t >= next_snap) {
			snapshot_save(d);
			next_snap = t + d->cfg.snapshot_every_ms;
		}
		timeout = (int)(next_round > t ? next_round - t : 0);
		nctl = fgd_ctl_pollfds(&d->ctl, pfd + 2, t, &timeout);
		/* poll() skips a negative fd: no socket, no control slot */
		nhttp = fgd_http_pollfd(d->http, pfd + 2 + nctl, &timeout);
		if (poll(pfd, 2 + nctl + nhttp, timeout) < 0 &&
		    errno != EINTR) {
			logmsg(LOG_ERR, "poll: %s", strerror(errno));
			return -1;
		}
		if (pfd[1].revents & POLLIN)
			receive_all(d, now_ms());
		fgd_ctl_service(&d->ctl, pfd + 2, nctl, now_ms());
		fgd_http_service(d->http);
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(d->sigfd, &si, sizeof si) != sizeof si)
				continue;
			switch (si.ssi_signo) {
			case SIGHUP: {
				char why[600];

				(void)reload(d, why, sizeof why);
				break;
			}
			case SIGUSR1:
				counters_log(d);
				break;
			default: /* SIGTERM, SIGINT */
				logmsg(LOG_INFO, "signal %u: exiting",
				       si.ssi_signo);
				round_run(d, now_ms()); /* flush */
				snapshot_save(d);
				return 0;
			}
		}
	}
}

static int signals_block(struct daemon *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	(void)signal(SIGPIPE, SIG_IGN);
	return d->sigfd < 0 ? -1 : 0;
}

/* No core dumps: the secret key must not end up in one. */
static void harden(void)
{
	struct rlimit rl = {0, 0};

	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static int keygen(int argc, char **argv)
{
	char err[512], host[64];
	const char *name = argc > 3 ? argv[3] : NULL;

	if (argc < 3) {
		usage();
		return 2;
	}
	if (name == NULL) {
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "node");
		host[sizeof host - 1] = '\0';
		name = host;
	}
	harden();
	if (fgk_keygen(argv[2], name, err, sizeof err) != 0) {
		fprintf(stderr, "floodgated: %s\n", err);
		return 1;
	}
	printf("secret key: %s\npublic key: %s.pub (add its line to every "
	       "node's keyring)\n",
	       argv[2], argv[2]);
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d = {.sock = -1, .sigfd = -1, .ctl = {.lfd = -1}};
	char err[512];
	int foreground = 0, opt, rc = 1;

	if (argc >= 2 && strcmp(argv[1], "--keygen") == 0)
		return keygen(argc, argv);
	while ((opt = getopt(argc, argv, "c:fvh")) != -1) {
		switch (opt) {
		case 'c':
			d.cfg_path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	if (d.cfg_path == NULL || optind != argc) {
		usage();
		return 2;
	}
	harden();
	if (sodium_init() < 0) {
		fprintf(stderr, "floodgated: libsodium failed to initialise\n");
		return 1;
	}
	if (fgd_config_load(d.cfg_path, &d.cfg, err, sizeof err) != 0) {
		fprintf(stderr, "floodgated: %s\n", err);
		return 1;
	}
	if (!foreground) {
		if (daemon(0, 0) != 0) {
			fprintf(stderr, "floodgated: daemon: %s\n",
			        strerror(errno));
			goto out;
		}
		use_syslog = 1;
		openlog("floodgated", LOG_PID, LOG_DAEMON);
	}
	/* The harvest baseline is taken before the rules are published:
	 * workers cannot consume before that, so nothing falls between. */
	if (signals_block(&d) != 0 || identity_load(&d) != 0 ||
	    segment_open(&d) != 0 || node_start(&d) != 0 ||
	    socket_open(&d) != 0 || control_open(&d) != 0 ||
	    rules_apply(d.fg, &d.cfg) != 0 || http_open(&d) != 0)
		goto out;
	snapshot_load(&d);
	logmsg(LOG_INFO,
	       "running: segment %s, %zu rules, %zu peers, interval %u ms",
	       d.cfg.segment, d.cfg.nrules, d.cfg.npeers, d.cfg.interval_ms);
	rc = run(&d) == 0 ? 0 : 1;
out:
	if (d.node_ok)
		fgd_node_fini(&d.node);
	free(d.peer_state);
	fgd_http_stop(d.http);
	fgd_ctl_close(&d.ctl);
	if (d.sock >= 0)
		close(d.sock);
	if (d.fg) {
		uatomic_set(&d.fg->seg.tbl.hdr->owner_pid, 0);
		fg_close(d.fg);
	}
	if (d.sk)
		fgk_secret_free(d.sk);
	fgk_keyring_free(&d.kr);
	if (d.sigfd >= 0)
		close(d.sigfd);
	fgd_config_free(&d.cfg);
	return rc;
}
