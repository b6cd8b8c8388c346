/* SPDX-License-Identifier: ISC */
/*
 * cluster.h - start N real floodgated on loopback, drive them, read their
 * figures back, and leave nothing behind.
 *
 * One harness for everything that runs real daemons: the cluster demo
 * (demo/cluster_demo.c), the convergence bench (bench/daemon_converge.c)
 * and the tests (through tests/cluster.h, which turns a failure into a
 * Criterion assertion).  It lives in demo/ because the demo is its one
 * user that ships; it is built as a convenience library (libfgcluster)
 * and depends only downward, on the daemon's and the core's libraries
 * (key generation, segment paths, peeking at a bucket).  Its layers:
 * files.h (writing, reading, keys) under cluster.h (a cluster's life)
 * under figures.h (what a running cluster says) and load.h (workers).
 *
 * A cluster is a private temporary directory holding, per node I, a key
 * pair nI.key/nI.key.pub named "nI", a config nI.conf and a log nI.log
 * (the daemon's stdout and stderr), plus one keyring trusting every node;
 * and per node a segment "<prefix>I-<pid>" and a UDP port on 127.0.0.1.
 *
 * Rules of the harness:
 *   - Nothing is waited for by sleeping: readiness, exits and counters
 *     are polled with a deadline (ready_ms, stop_ms).
 *   - A daemon never outlives the process that started it
 *     (PR_SET_PDEATHSIG), and fgc_fini() stops every daemon, removes each
 *     segment with its .state, .state-local, .state-remote and .sock
 *     files, and the directory, whatever state the cluster is in.
 *   - Functions return 0 or -1 (a pid, a count or a wait status where
 *     they say so); on -1, c->err says what failed, with the end of the
 *     daemon's log when a daemon failed.  Nothing here prints.
 */
#ifndef FG_DEMO_CLUSTER_H
#define FG_DEMO_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "demo/files.h"
#include "lib/floodgate.h"

#define FGC_NAME_MAX     64
#define FGC_READY_MARK   "running:" /* floodgated logs it once it is up */
#define FGC_READY_MS     10000u
#define FGC_STOP_MS      5000u
#define FGC_DEFAULT_BIN  "./daemon/floodgated"
#define FGC_SEG_CAPACITY 4096u

struct fgc_node {
	char seg[FGC_NAME_MAX]; /* its segment's name */
	int port;               /* its UDP port on 127.0.0.1 */
	pid_t pid;              /* its daemon; 0 when not running */
	int status;             /* wait status of the daemon's last exit */
	fg_client *fg;          /* attached by fgc_await_ready() */
	long log_mark;          /* size of its log when last started */
};

struct fgc_cluster {
	int n;
	const char *floodgated; /* the daemon; default fgc_floodgated() */
	int pdeathsig;          /* a daemon gets it when we die: SIGKILL */
	int own_pgrp;           /* 1: daemons in process groups of their own,
	                           so that a ^C reaches only us */
	unsigned ready_ms, stop_ms;
	/* polls give up (-1, "interrupted") once it is non-zero: a signal
	 * handler's flag; NULL: never */
	const volatile int *cancel;
	char dir[FGC_NAME_MAX]; /* "" until made */
	struct fgc_node *node;
	char err[1024];
};

/* Which peers a node's config names. */
enum fgc_peers {
	FGC_PEERS_ALL,  /* every other node */
	FGC_PEERS_SEED, /* node 0 for all, node 1 for node 0: discovery */
	FGC_PEERS_NONE,
};

struct fgc_conf {
	unsigned capacity;    /* keys in the segment; 0: FGC_SEG_CAPACITY */
	unsigned interval_ms; /* 0: the daemon's default */
	enum fgc_peers peers;
	const char *extra; /* more directives (rules...), lines ending in \n */
};

/* $FLOODGATED if set and not empty, else FGC_DEFAULT_BIN. */
const char *fgc_floodgated(void);

/*
 * fgc_init() - a cluster of @n nodes: a directory /tmp/<prefix>-XXXXXX
 * ("<prefix>XXXXXX" when @prefix ends in '-'), segment names
 * "<prefix>I-<pid>" with whatever an earlier process of our pid left
 * under them removed, no ports and no daemons yet.  fgc_fini() undoes it,
 * also after a failure here.
 */
int fgc_init(struct fgc_cluster *c, int n, const char *prefix);

/*
 * fgc_fini() - stop every daemon (fgc_stop), detach, remove the segments
 * and their files, and the directory unless @keep (the logs are the
 * evidence of a failure).  0 when every running daemon exited 0.
 */
int fgc_fini(struct fgc_cluster *c, int keep);

/* Node I listens on @base + I; nothing checked. */
void fgc_set_ports(struct fgc_cluster *c, int base);

/*
 * fgc_pick_ports() - n consecutive free UDP ports in [@lo, @hi], the
 * first block tried chosen by our pid so that parallel runs rarely meet;
 * or, with @lo 0, n ports the kernel picks (bound together, so distinct).
 * A port is free if 127.0.0.1:port binds now: the daemons bind it later,
 * and a collision shows as a daemon that does not come up.
 */
int fgc_pick_ports(struct fgc_cluster *c, int lo, int hi);

/* Key pairs and the keyring (fgc_keys_in) in the cluster's directory. */
int fgc_make_keys(struct fgc_cluster *c);

/* "DIR/nI.<ext>" into @buf: ext "conf", "log", "key". */
int fgc_file(const struct fgc_cluster *c, int i, const char *ext, char *buf,
             size_t len);

/*
 * fgc_write_conf() - DIR/nI.conf: segment, capacity, node-key, keyring,
 * listen, interval (if set), @conf->extra, then the peers.
 */
int fgc_write_conf(struct fgc_cluster *c, int i, const struct fgc_conf *conf);

/*
 * fgc_spawn() - floodgated -f -c @conf with stdin /dev/null and stdout,
 * stderr appended to @log; it gets @pdeathsig when the caller dies, and a
 * process group of its own if @own_pgrp.  Its pid, or -1 (errno set).
 */
pid_t fgc_spawn(const char *floodgated, const char *conf, const char *log,
                int pdeathsig, int own_pgrp);

/* Start node @i's daemon (fgc_spawn with the cluster's settings). */
int fgc_start(struct fgc_cluster *c, int i);

/*
 * fgc_await_ready() - poll until node @i's segment opens and holds
 * @rule, and its log shows FGC_READY_MARK since it was started: its
 * socket is bound and its gossip state made, so nothing admitted from
 * now on goes unreported.  Attaches c->node[i].fg.  -1 (with the log's
 * end) if the daemon exits or ready_ms pass.
 */
int fgc_await_ready(struct fgc_cluster *c, int i, const char *rule);

/* Start every node, then wait until each is ready for @rule. */
int fgc_start_all(struct fgc_cluster *c, const char *rule);

/*
 * fgc_stop() - SIGTERM node @i's daemon and reap it; SIGKILL if it has
 * not exited after stop_ms.  Its wait status (0: a clean exit; 0 also
 * when it was not running), or -1.
 */
int fgc_stop(struct fgc_cluster *c, int i);

/* Send @sig to node @i's daemon and reap it: its wait status, or -1. */
int fgc_kill(struct fgc_cluster *c, int i, int sig);

/* 1 when node @i's daemon is no longer running (reaped, its status in
 * c->node[i].status), 0 while it runs. */
int fgc_exited(struct fgc_cluster *c, int i);

/* Describe a wait status ("exited 1", "killed by signal 9") into @buf. */
const char *fgc_status_text(int status, char *buf, size_t len);

/* ------------------------------------------------------- its log */

/* The last @len - 1 bytes (at most) of node @i's log; its length or -1. */
ssize_t fgc_log_tail(const struct fgc_cluster *c, int i, char *buf, size_t len);

/* The size of node @i's log now (0 if none): a mark to read from. */
long fgc_log_size(const struct fgc_cluster *c, int i);

/*
 * fgc_await_log() - poll what node @i logged since @mark until @found
 * (given the text and @arg) returns non-zero: 0.  -1 (with the log's
 * end, and @what named) when the daemon exits or ready_ms pass first.
 */
int fgc_await_log(struct fgc_cluster *c, int i, long mark,
                  int (*found)(const char *text, void *arg), void *arg,
                  const char *what);

#endif
