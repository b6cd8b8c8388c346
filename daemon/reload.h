/* SPDX-License-Identifier: ISC */
/*
 * reload.h - the rules a segment holds, and a configuration re-read at
 * run time (SIGHUP, or floodgate reload over the control socket).
 */
#ifndef FGD_RELOAD_H
#define FGD_RELOAD_H

#include <stddef.h>

#include "daemon/daemon.h"

/* Whether the segment has a name for each rule of @cfg (names are never
 * given back, removed rules keep theirs).  0, or -1 with why, and how to
 * recover, in @why. */
int fgd_rules_fit(fg_client *fg, const struct fgd_config *cfg, char *why,
                  size_t whylen);

/* Make the segment's rules those of @cfg: set each, remove the others;
 * then its overrides (reload.c).  0, or -1 logged. */
int fgd_rules_apply(fg_client *fg, const struct fgd_config *cfg);

/* Re-read d->cfg_path and take what a running daemon can change.  0, or
 * -1 with the reason in @why (logged too). */
int fgd_reload(struct fgd_daemon *d, char *why, size_t whylen);

/* fgd_reload for the control socket's env (daemon/requests.h). */
int fgd_reload_ctl(void *arg, char *why, size_t whylen);

#endif
