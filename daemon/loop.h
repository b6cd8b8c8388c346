/* SPDX-License-Identifier: ISC */
/*
 * loop.h - floodgated's main loop.
 */
#ifndef FGD_LOOP_H
#define FGD_LOOP_H

#include "daemon/daemon.h"

/* Run until SIGTERM or SIGINT (0, after a last round and snapshot), or
 * until poll() fails (-1, logged). */
int fgd_run(struct fgd_daemon *d);

#endif
