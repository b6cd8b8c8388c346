/* SPDX-License-Identifier: ISC */
/*
 * secret.c - the Redis password file (secret.h).
 *
 * The file is opened with O_NOFOLLOW and O_NONBLOCK (a FIFO planted at
 * its path must not hang the daemon's start), checked with fstat() on
 * the descriptor we read (no race between check and read), read up to
 * one byte past the limit, and its line end dropped.  A password with a
 * NUL or another control byte is refused: Redis would not see the same
 * password the operator typed.
 */
#include "redis/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/why.h"

/* The file's bytes, at most @cap, after its checks: the count, or -1. */
static ssize_t file_text(const char *path, char *buf, size_t cap, char *err,
                         size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
	                        O_NOCTTY);
	struct stat st;
	ssize_t n = -1;
	size_t got = 0;

	if (fd < 0)
		return fgu_why(err, errlen, "redis-auth: %s: %s", path,
		               errno == ELOOP ? "a symbolic link: refused"
		                              : strerror(errno));
	if (fstat(fd, &st) != 0) {
		fgu_why(err, errlen, "redis-auth: %s: %s", path,
		        strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		fgu_why(err, errlen, "redis-auth: %s: not a regular file",
		        path);
	} else if (st.st_uid != geteuid() && st.st_uid != 0) {
		fgu_why(err, errlen,
		        "redis-auth: %s: owned by uid %u, not by us (%u) or "
		        "root: refused",
		        path, (unsigned)st.st_uid, (unsigned)geteuid());
	} else if (st.st_mode & 077) {
		fgu_why(err, errlen,
		        "redis-auth: %s: mode %04o lets group or others read a "
		        "password; fix with: chmod 600 %s",
		        path, (unsigned)(st.st_mode & 07777), path);
	} else {
		for (;;) {
			ssize_t k = read(fd, buf + got, cap - got);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0 || (got += (size_t)k) == cap)
				break;
		}
		n = (ssize_t)got;
	}
	close(fd);
	return n;
}

int fgr_secret_load(struct fgr_secret *s, const char *path, char *err,
                    size_t errlen)
{
	char buf[FGR_PASSWORD_MAX + 3];
	ssize_t n;
	size_t i, len;
	int r = -1;

	memset(s, 0, sizeof *s);
	if (sodium_init() < 0)
		return fgu_why(err, errlen, "sodium_init failed");
	n = file_text(path, buf, sizeof buf, err, errlen);
	if (n < 0)
		goto out;
	len = (size_t)n;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 || len > FGR_PASSWORD_MAX) {
		fgu_why(err, errlen,
		        "redis-auth: %s: the password must be one line of 1 to "
		        "%d bytes",
		        path, FGR_PASSWORD_MAX);
		goto out;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
			fgu_why(err, errlen,
			        "redis-auth: %s: a control character in the "
			        "password (one line, nothing else)",
			        path);
			goto out;
		}
	s->pw = sodium_malloc(len + 1);
	if (s->pw == NULL) {
		fgu_why(err, errlen, "redis-auth: %s: out of memory", path);
		goto out;
	}
	memcpy(s->pw, buf, len);
	s->pw[len] = '\0';
	s->len = len;
	(void)sodium_mprotect_readonly(s->pw);
	r = 0;
out:
	sodium_memzero(buf, sizeof buf);
	return r;
}

void fgr_secret_free(struct fgr_secret *s)
{
	if (s->pw != NULL)
		sodium_free(s->pw); /* makes it writable, wipes it */
	s->pw = NULL;
	s->len = 0;
}
