/* SPDX-License-Identifier: ISC */
/*
 * daemon.h - what one running floodgated holds: its configuration and a
 * handle on each of its modules.
 *
 * One instance, built by start.c, run by loop.c, changed by reload.c;
 * every module it names is set up in start.c's order and torn down in
 * reverse from one exit path (fgd_stop), as chrony's main.c does.  Each
 * field is owned by the file that sets it up; the others only read it,
 * but for what a reload may change (reload.c says which).
 */
#ifndef FGD_DAEMON_H
#define FGD_DAEMON_H

#include <stdint.h>

#include "daemon/config.h"
#include "daemon/control.h"
#include "daemon/http.h"
#include "daemon/persist.h"
#include "daemon/privsep.h"
#include "daemon/solo.h"
#include "gossip/keys.h"
#include "gossip/node.h"
#include "lib/floodgate.h"
#include "redis/secret.h"
#include "redis/transport.h"
#include "daemon/strict.h"

struct fgd_daemon {
	struct fgd_config cfg;
	const char *cfg_path;
	fg_client *fg;
	struct fgd_ps ps; /* to the privileged process (privsep.h) */
	int parent;       /* this is the privileged process: done */
	int status;       /* its exit status, then */
	struct fgw_keyring kr;
	struct fgd_node node;
	struct fgd_counters noted;  /* as ledger_note() last saw them */
	struct fgd_solo solo;       /* a single host's harvest, counters */
	struct fgd_persist persist; /* snapshots: where, when, of what */
	int node_ok;
	enum fgd_peer_state *peer_state; /* per keyring entry, as last logged */
	int sock;
	uint32_t rxq_ovfl; /* the socket's SO_RXQ_OVFL count, last seen */
	int sigfd;
	struct fgd_http *http; /* NULL: no HTTP endpoint */
	struct fgd_ctl ctl;    /* control socket for floodgate(1) */
	int fresh; /* we created the segment: restore the snapshot */
	int held;  /* the hold on the segment (fgd_segment_open()), or -1 */
	struct fgr_secret redis_pw;  /* read while root, for redis below */
	struct fgr_secret strict_pw; /* the same, for strict below */
	struct fgd_strict strict;    /* strict rules' socket (strict.h) */
	struct fgr_sync redis;       /* "sync redis://..." (redis/transport.h);
	                              * all zero, and every call a no-op, when off */
};

#endif
