/* SPDX-License-Identifier: ISC */
/*
 * floodgated.c - the per-host daemon: owns the segment, publishes the
 * rules, and gossips signed per-key consumption to its peers.
 *
 * This file is the process: its command line, its hardening, and the
 * order of the rest.  It runs as two processes (privsep.h): a small
 * privileged one that holds the keys (priv.c), and the one that does the
 * rest.  The modules, top down:
 *
 *     floodgated ── loop ── notes, net, reload ── persist, privsep
 *          └────── start ── net, reload, priv ── psmsg
 *
 * start.c sets up each module in order and fgd_stop tears them down in
 * reverse from one exit path (chrony's main.c); loop.c is the one poll()
 * loop; reload.c the rules and SIGHUP; net.c the gossip socket; notes.c
 * what the daemon logs of its own accord; log.c where lines go.
 */
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <sodium.h>

#include "daemon/check.h"
#include "daemon/cmdline.h"
#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/start.h"

/* No core dumps: the secret key must not end up in one. */
static void harden(void)
{
	struct rlimit rl = {0, 0};

	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int main(int argc, char **argv)
{
	struct fgd_daemon d = {.sock = -1,
	                       .held = -1,
	                       .sigfd = -1,
	                       .ctl = {.lfd = -1},
	                       .ps = {.fd = -1}};
	struct fgd_cmdline cl;
	int rc = 1, r;

	fgd_cmdline_parse(argc, argv, &cl);
	if (cl.mode == FGD_EXIT)
		return cl.status;
	harden();
	if (sodium_init() < 0) {
		fprintf(stderr, "floodgated: libsodium failed to initialise\n");
		return 1;
	}
	if (cl.mode == FGD_KEYGEN)
		return fgd_cmdline_keygen(&cl);
	if (cl.mode == FGD_TEST)
		return fgd_check(cl.config, stdout, stderr) == 0 ? 0 : 1;
	d.cfg_path = cl.config;
	fgd_log_verbose(cl.verbose);
	r = fgd_start(&d, cl.foreground);
	if (r == 0)
		rc = fgd_run(&d) == 0 ? 0 : 1;
	else if (d.parent) /* the privileged process, done */
		rc = d.status;
	fgd_stop(&d);
	return rc;
}
