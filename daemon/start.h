/* SPDX-License-Identifier: ISC */
/*
 * start.h - floodgated's start and its one exit path.
 */
#ifndef FGD_START_H
#define FGD_START_H

#include "daemon/daemon.h"

/* Load the config at d->cfg_path, become a daemon unless @foreground,
 * then set up each module in order; nothing may fail late.  0, or -1
 * logged (fgd_stop still to be called). */
int fgd_start(struct fgd_daemon *d, int foreground);

/* Tear down whatever fgd_start set up, in reverse order. */
void fgd_stop(struct fgd_daemon *d);

#endif
