/* SPDX-License-Identifier: ISC */
/*
 * trust.h - whether what is found at a segment's name is ours to use.
 */
#ifndef FG_SHM_TRUST_H
#define FG_SHM_TRUST_H

#include <stdint.h>
#include <sys/types.h>

/* Who may have made a segment found in a directory (trust.c). */
struct fg_trust {
	uid_t euid;   /* this process's effective user */
	int64_t also; /* one more user to trust (an owner's opts->uid), or -1 */
	uid_t dir_uid;   /* the owner of the directory that holds the name */
	int dir_private; /* only dir_uid (and root) may add names there */
};

/* What makes a segment untrusted; FG_TRUSTED when nothing does. */
enum fg_distrust {
	FG_TRUSTED = 0,
	FG_DISTRUST_OWNER, /* made by a user we have no reason to trust */
	FG_DISTRUST_MODE,  /* others may read or write it */
	FG_DISTRUST_NAME,  /* a name file not made by the memory's creator or
	                    * owner (System V segments: sysv.c) */
};

/*
 * Open @path's last component as @flags (O_NOFOLLOW and O_CLOEXEC added)
 * within its directory, after checking without opening it that it is a
 * regular file (a FIFO or a device is never opened), and describe that
 * directory in *@t, trusting @also as well.  0 with *@fdp, or an FG_E*
 * code: FG_ENOSEG, FG_EACCES, FG_EBADSEG (not a regular file, or a
 * symbolic link), FG_ENAME, FG_ESYS.
 */
int fg__trust_open(const char *path, int flags, int64_t also,
                   struct fg_trust *t, int *fdp);

/* 1 if @uid may have made a segment we use: root, ourselves, @t->also, or
 * the owner of a directory only it may add names to. */
int fg__trust_uid(const struct fg_trust *t, uid_t uid);

/* The verdict on a segment made by @creator with permissions @mode. */
enum fg_distrust fg__trust_check(const struct fg_trust *t, uid_t creator,
                                 mode_t mode);

/* errno of a failed open/stat to an FG_E* code. */
int fg__errno_to_fg(int err);

#endif
