/* SPDX-License-Identifier: ISC */
/*
 * trust.c - whether what is found at a segment's name is ours to use.
 *
 * Anyone may create a file in /dev/shm, or in /tmp, and so take a
 * segment's name before floodgated starts: a file of the right format,
 * which the daemon would then fill with rules and every worker would
 * trust, while its maker keeps the right to rewrite it.  So a segment is
 * used only when it was made by someone we trust, and nobody else may
 * change it:
 *
 *   - its creator is root, the calling process's own effective user, the
 *     user an owner was asked to give it to (fg_segment_opts.uid), or the
 *     owner of the directory that holds its name, when nobody else may
 *     add names to that directory (no write permission for its group or
 *     others: /run/floodgate, not /dev/shm);
 *   - its mode gives nothing to others: it is never world-accessible.
 *
 * The creator of a file is its owner (only root may give a file away);
 * of System V memory, the kernel's record of who made it (sysv.c).
 *
 * What is at the name is opened with O_NOFOLLOW inside a descriptor of
 * its directory, so the directory judged is the one the file is in; and
 * it is looked at before it is opened, so that a FIFO (whose open would
 * block) or a device (whose open may act) is never opened.
 */
#include "shm/trust.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/floodgate.h"

int fg__errno_to_fg(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		return FG_ENOSEG;
	case EACCES:
	case EPERM:
	case EROFS:
		return FG_EACCES;
	case ENOMEM:
	case ENOSPC:
	case EMFILE:
	case ENFILE:
		return FG_ENOMEM;
	case ELOOP: /* a symlink where a segment should be */
	case EISDIR:
		return FG_EBADSEG;
	case ENAMETOOLONG:
		return FG_ENAME;
	default:
		return FG_ESYS;
	}
}

/* The directory of absolute @path, opened for lookups only (O_PATH needs
 * no permission on it but search), and where its last component starts. */
static int dir_open(const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	size_t n;
	int fd;

	if (slash == NULL || slash[1] == '\0')
		return -ENAMETOOLONG; /* not a path of a file: FG_ENAME */
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= sizeof dir)
		return -ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = '\0';
	*base = slash + 1;
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int fg__trust_open(const char *path, int flags, int64_t also,
                   struct fg_trust *t, int *fdp)
{
	const char *base;
	struct stat st;
	int dfd, fd, r = 0;

	*fdp = -1;
	dfd = dir_open(path, &base);
	if (dfd < 0)
		return fg__errno_to_fg(-dfd);
	if (fstat(dfd, &st) != 0) {
		r = fg__errno_to_fg(errno);
		goto out;
	}
	t->euid = geteuid();
	t->also = also;
	t->dir_uid = st.st_uid;
	t->dir_private = (st.st_mode & 0022) == 0;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		r = fg__errno_to_fg(errno);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = FG_EBADSEG;
		goto out;
	}
	fd = openat(dfd, base, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		r = fg__errno_to_fg(errno);
	else
		*fdp = fd;
out:
	close(dfd);
	return r;
}

int fg__trust_uid(const struct fg_trust *t, uid_t uid)
{
	return uid == 0 || uid == t->euid ||
	       (t->also >= 0 && (int64_t)uid == t->also) ||
	       (t->dir_private && uid == t->dir_uid);
}

enum fg_distrust fg__trust_check(const struct fg_trust *t, uid_t creator,
                                 mode_t mode)
{
	if (!fg__trust_uid(t, creator))
		return FG_DISTRUST_OWNER;
	if (mode & 0007)
		return FG_DISTRUST_MODE;
	return FG_TRUSTED;
}
