/* SPDX-License-Identifier: ISC */
/*
 * secret.h - the Redis password, read from its file as the node key is
 * (gossip/keys.h): a regular file, not through a symbolic link, owned by
 * us (or root) and closed to group and others, else refused with the mode
 * and the fix; one line, kept in sodium_malloc'ed memory (guard pages,
 * no core dump) made read-only, every buffer it passed through wiped.
 */
#ifndef FGR_SECRET_H
#define FGR_SECRET_H

#include <stddef.h>

#define FGR_PASSWORD_MAX 512 /* bytes of the password */

struct fgr_secret {
	char *pw; /* NUL-terminated, read-only; NULL: none */
	size_t len;
};

/* Read @path into @s: 0, or -1 with why in @err (@s left empty). */
int fgr_secret_load(struct fgr_secret *s, const char *path, char *err,
                    size_t errlen);
/* Wipe and free. */
void fgr_secret_free(struct fgr_secret *s);

#endif
