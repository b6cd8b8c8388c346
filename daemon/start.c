/* SPDX-License-Identifier: ISC */
/*
 * start.c - set up floodgated's modules in order, tear them down in
 * reverse (chrony's main.c): the config, signals, the split in two
 * (privsep.h; the parent then loads our identity and the snapshot's key
 * and serves, priv.c), and in the child: the segment, the gossip socket,
 * the control socket and HTTP while still root, then the drop to the
 * daemon's user, the gossip node (and Redis), the rules, the snapshot.
 *
 * The order matters three times.  Nothing that reads the network runs
 * before the drop.  The harvest baseline is taken (node start) before the
 * rules are published: workers cannot consume before that, so nothing
 * falls between.  And the snapshot is restored last, once every rule it
 * names exists.
 */
#include "daemon/start.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <urcu/uatomic.h>

#include "daemon/check.h"
#include "daemon/log.h"
#include "daemon/net.h"
#include "daemon/redisview.h"
#include "daemon/reload.h"
#include "daemon/segment.h"
#include "daemon/priv.h"
#include "lib/client.h"

/* -------------------------------------------------------------- segment */

static int segment_open(struct fgd_daemon *d)
{
	int64_t uid = -1, gid = -1;
	char buf[1024];

	if (fgd_owner_lookup(&d->cfg, &uid, &gid, buf, sizeof buf) != 0 ||
	    fgd_ps_owner(&uid, buf, sizeof buf) != 0) {
		fgd_log(LOG_ERR, "%s", buf);
		return -1;
	}
	if (fgd_segment_open(&d->cfg, uid, gid, &d->fg, &d->fresh, &d->held) !=
	    0)
		return -1;
	uatomic_set(&d->fg->seg.tbl.hdr->owner_pid, (uint64_t)getpid());
	return 0;
}

/* ---------------------------------------------------------------- gossip */

/* The keyring: public keys, which the privileged process checked and
 * reads too (its pairwise keys follow its order: fgd_ps_pairwise). */
static int keyring_load(struct fgd_daemon *d)
{
	char err[512];

	if (!d->ps.hello.node || !d->cfg.keyring[0] ||
	    fgk_keyring_load(d->cfg.keyring, &d->kr, err, sizeof err) == 0)
		return 0;
	fgd_log(LOG_ERR, "%s", err);
	return -1;
}

/* "sync": the Redis transport, beside the node (config.c requires
 * node-key with sync, so there is one). */
static int redis_start(struct fgd_daemon *d)
{
	char err[600];

	if (!d->cfg.redis.on)
		return 0;
	if (fgr_sync_init(&d->redis, &d->node, &d->cfg.redis, &d->redis_pw,
	                  fgd_log, fgd_now_ms(), err, sizeof err) != 0) {
		fgd_log(LOG_ERR, "%s", err);
		return -1;
	}
	d->node.metrics_more = fgd_redis_metrics;
	d->node.metrics_arg = &d->redis;
	return 0;
}

static void node_note(const struct fgd_daemon *d)
{
	fgd_log(LOG_INFO,
	        "remote ledger: up to %zu marks (%zu MiB); debt paid back "
	        "for cuts of up to %u s",
	        d->node.counts.remote.max,
	        fgd_ledger_bytes_max(sizeof(struct fgd_remote),
	                             d->node.counts.remote.max) >>
	            20,
	        (unsigned)(d->node.counts.debt_window_ns / 1000000000u));
}

static int node_start(struct fgd_daemon *d)
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

	if (!d->ps.hello.node) { /* a single host: no gossip */
		if (fgd_solo_init(&d->solo, d->fg, err, sizeof err) == 0)
			return 0;
		fgd_log(LOG_ERR, "harvest: %s", err[0] ? err : "out of memory");
		return -1;
	}
	p.ledger_key = d->ps.hello.ledger_key;
	p.prove = fgd_ps_prove;
	p.prove_arg = &d->ps;
	if (fgd_ps_pairwise(&d->ps, &d->kr, &p.pw_rx) != 0) {
		fgd_log(LOG_ERR,
		        "keyring %s changed while we started: start "
		        "again",
		        d->cfg.keyring);
		return -1;
	}
	/* The harvest baseline lives beside the segment, so that what
	 * workers consume while we are down is reported when we are back. */
	if (fg__seg_path(d->cfg.segment, state, sizeof state - 8) == 0) {
		strcat(state, ".state");
		p.state_path = state;
	}
	/* A new incarnation must grow across restarts of this node: the
	 * wall clock at start, its only use here (a restart that continues
	 * the previous daemon's counts keeps its incarnation: node.h). */
	clock_gettime(CLOCK_REALTIME, &ts);
	p.incarnation =
	    (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (fgd_node_init(&d->node, d->fg, &d->kr, NULL, d->ps.hello.pk, &p) !=
	    0) {
		fgd_log(LOG_ERR, "gossip state: %s",
		        err[0] ? err : "out of memory");
		return -1;
	}
	node_note(d);
	d->peer_state = calloc(d->kr.n ? d->kr.n : 1, sizeof *d->peer_state);
	if (d->peer_state == NULL || fgd_net_attach(d) != 0) {
		fgd_log(LOG_ERR, "out of memory for the gossip state");
		fgd_node_fini(&d->node);
		return -1;
	}
	d->node_ok = 1;
	if (d->node.x.self < 0 && d->cfg.npeers > 0)
		fgd_log(LOG_WARNING, "our own key is not in the keyring: peers "
		                     "will drop what we send");
	return redis_start(d);
}

/* -------------------------------------------------------- the endpoints */

static int control_open(struct fgd_daemon *d)
{
	struct fgd_ctl_env env = {.fg = d->fg,
	                          .cfg = &d->cfg,
	                          .kr = &d->kr,
	                          .node = d->node_ok ? &d->node : NULL,
	                          .solo = &d->solo,
	                          .redis = d->redis.node ? &d->redis : NULL,
	                          .cfg_path = d->cfg_path,
	                          .started_ms = fgd_now_ms(),
	                          .reload = fgd_reload_ctl,
	                          .arg = d};
	char path[FGD_CONTROL_MAX + 1], err[600];
	int r = fgd_ctl_path(&d->cfg, path, sizeof path);

	if (r == 1)
		return 0; /* "control off" */
	if (r != 0) {
		fgd_log(LOG_ERR,
		        "control socket: the path beside segment %s "
		        "is too long for a socket; set control",
		        d->cfg.segment);
		return -1;
	}
	if (fgd_ctl_open(&d->ctl, path, &env, err, sizeof err) != 0) {
		fgd_log(LOG_ERR, "%s", err);
		return -1;
	}
	fgd_ps_ctl_path(&d->ps, path); /* its to remove, once we are gone */
	return 0;
}

/* The endpoints opened before the node started: now they may see it. */
static void endpoints_attach(struct fgd_daemon *d)
{
	d->ctl.env.node = d->node_ok ? &d->node : NULL;
	d->ctl.env.redis = d->redis.node ? &d->redis : NULL;
	d->ctl.env.strict = d->strict.lfd >= 0 ? &d->strict : NULL;
	fgd_http_attach(d->http, d->node_ok ? &d->node : NULL,
	                d->strict.lfd >= 0 ? &d->strict : NULL);
}

static int http_open(struct fgd_daemon *d)
{
	char err[256];

	if (fgd_http_start(&d->http, &d->cfg, d->fg,
	                   d->node_ok ? &d->node : NULL, &d->solo, err,
	                   sizeof err) == 0)
		return 0;
	fgd_log(LOG_ERR, "%s", err);
	return -1;
}

/* Publish the rules of the config, if the segment has names for all. */
static int rules_publish(struct fgd_daemon *d)
{
	char why[1024];

	if (fgd_rules_fit(d->fg, &d->cfg, why, sizeof why) != 0) {
		fgd_log(LOG_ERR, "%s", why);
		return -1;
	}
	return fgd_rules_apply(d->fg, &d->cfg);
}

/* ------------------------------------------------------------ snapshots */

/* What the snapshots need (daemon/persist.h), once the node is up or
 * known to be absent: on a single host, the buckets alone and the
 * daemon's own counters. */
static void persist_init(struct fgd_daemon *d)
{
	d->persist = (struct fgd_persist){
	    .path = d->cfg.snapshot,
	    .ps = &d->ps,
	    .every_ms = d->cfg.snapshot_every_ms,
	    .fg = d->fg,
	    .marks = d->node_ok ? &d->node : NULL,
	    .harvest = d->node_ok ? &d->node.harvest : &d->solo.harvest,
	    .ctr = d->node_ok ? &d->node.ctr : &d->solo.ctr,
	    .log = fgd_log};
}

/* --------------------------------------------------------------- start */

/* Signals are read from a signalfd, in both processes: blocked before
 * the split, each makes its own. */
static int signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	(void)signal(SIGPIPE, SIG_IGN);
	return sigprocmask(SIG_BLOCK, set, NULL);
}

/* Split in two (privsep.h): 1 in the parent, done and its status in
 * d->status; 0 in the child; -1 logged. */
static int split(struct fgd_daemon *d)
{
	pid_t pid = fgd_ps_fork(&d->ps);

	if (pid < 0) {
		fgd_log(LOG_ERR, "privsep: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		return 0;
	d->parent = 1;
	d->status = fgd_priv_run(d->cfg_path, &d->cfg, d->ps.fd, pid);
	d->ps.fd = -1; /* closed by it */
	return 1;
}

static int background(void)
{
	if (daemon(0, 0) != 0) {
		fprintf(stderr, "floodgated: daemon: %s\n", strerror(errno));
		return -1;
	}
	fgd_log_syslog();
	return 0;
}

/* The Redis password, read while we may (the file is root's). */
static int redis_secret(struct fgd_daemon *d)
{
	char err[600];

	/* a copy for strict rules too, which a reload may bring */
	if (!d->cfg.redis.on || !d->cfg.redis.password_file[0] ||
	    (fgr_secret_load(&d->redis_pw, d->cfg.redis.password_file, err,
	                     sizeof err) == 0 &&
	     fgr_secret_load(&d->strict_pw, d->cfg.redis.password_file, err,
	                     sizeof err) == 0))
		return 0;
	fgd_log(LOG_ERR, "%s", err);
	return -1;
}

/* What the child opens while it is root: the keyring (public), the
 * segment (its owner), the sockets (ports below 1024), the Redis
 * password. */
static int as_root(struct fgd_daemon *d)
{
	if (keyring_load(d) != 0 || segment_open(d) != 0 ||
	    redis_secret(d) != 0 || fgd_net_open(d) != 0 ||
	    control_open(d) != 0 || http_open(d) != 0)
		return -1;
	return 0;
}

int fgd_start(struct fgd_daemon *d, int foreground)
{
	char err[512];
	sigset_t set;
	int r;

	if (fgd_config_load(d->cfg_path, &d->cfg, err, sizeof err) != 0) {
		fprintf(stderr, "floodgated: %s\n", err);
		return -1;
	}
	if ((!foreground && background() != 0) || signals_block(&set) != 0)
		return -1;
	r = split(d);
	if (r != 0)
		return r;
	/* The child: what needs root first, then never root again. */
	d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->sigfd < 0 || fgd_ps_hello(&d->ps) != 0 || as_root(d) != 0 ||
	    fgd_ps_drop(&d->ps) != 0 || node_start(d) != 0 ||
	    rules_publish(d) != 0)
		return -1;
	if (fgd_strict_open(&d->strict, d->fg, &d->cfg, &d->strict_pw, fgd_log,
	                    err, sizeof err) != 0) {
		fgd_log(LOG_ERR, "%s", err);
		return -1;
	}
	endpoints_attach(d);
	persist_init(d);
	fgd_persist_start(&d->persist, d->fresh, fgd_now_ms());
	fgd_log(LOG_INFO,
	        "running: segment %s, %zu rules, %zu peers, interval %u ms",
	        d->cfg.segment, d->cfg.nrules, d->cfg.npeers,
	        d->cfg.interval_ms);
	return 0;
}

void fgd_stop(struct fgd_daemon *d)
{
	fgd_strict_close(&d->strict);
	fgr_secret_free(&d->strict_pw);
	fgr_sync_fini(&d->redis);
	fgr_secret_free(&d->redis_pw);
	if (d->node_ok)
		fgd_node_fini(&d->node);
	fgd_solo_fini(&d->solo);
	free(d->peer_state);
	fgd_http_stop(d->http);
	fgd_ctl_close(&d->ctl);
	if (d->sock >= 0)
		close(d->sock);
	if (d->fg) {
		uatomic_set(&d->fg->seg.tbl.hdr->owner_pid, 0);
		fg_close(d->fg);
	}
	if (d->held >= 0)
		close(d->held); /* the segment is free for another daemon */
	fgk_keyring_free(&d->kr);
	if (d->sigfd >= 0)
		close(d->sigfd);
	fgd_ps_close(&d->ps);
	fgd_config_free(&d->cfg);
}
