/* SPDX-License-Identifier: ISC */
/*
 * check.h - what floodgated checks of its host before it starts, and
 * "floodgated -t", which runs every one of those checks and reports every
 * error (see check.c).
 */
#ifndef FGD_CHECK_H
#define FGD_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "daemon/config.h"

/* The uid of user @name, or the gid of group @name: 0, or -1 with the
 * reason and how to create it in @err. */
int fgd_user_lookup(const char *name, uid_t *uid, char *err, size_t errlen);
int fgd_group_lookup(const char *name, gid_t *gid, char *err, size_t errlen);

/* Both of @cfg's, as fg_segment_opts takes them: -1 where not given.  0,
 * or -1 with @err. */
int fgd_owner_lookup(const struct fgd_config *cfg, int64_t *uid, int64_t *gid,
                     char *err, size_t errlen);

/* A daemon with peers signs and checks what it sends: it needs node-key
 * and keyring.  0, or -1 with the reason in @err. */
int fgd_identity_check(const struct fgd_config *cfg, char *err, size_t errlen);

/*
 * floodgated -t: parse the configuration file @path and check, without
 * creating, binding or changing anything, what the daemon would use at
 * start: its key and keyring, the user and group, the segment, the
 * control socket's and the snapshot's directories.  Each error is one
 * line "path:line: reason" on @err (up to 100: every syntax error, then
 * every check on what parsed), warnings likewise with "warning:"; when
 * there is none, "path: configuration ok" on @out.  0 ok, 1 errors.
 */
int fgd_check(const char *path, FILE *out, FILE *err);

#endif
