/* SPDX-License-Identifier: ISC */
/*
 * files.c - writing, reading and keying a cluster's files (files.h).
 *
 * Every file is opened with O_NOFOLLOW and O_CLOEXEC: the harness writes
 * into a directory it made itself with mkdtemp (mode 0700), but a path
 * handed in may be anywhere.  Reads are bounded by the caller's buffer
 * and take the end of the file: a daemon's log grows while it is read,
 * and what matters is what it logged last.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo/files.h"
#include "gossip/keys.h"

int fgc_write_file(const char *path, const char *text, char *err, size_t errlen)
{
	size_t len = strlen(text), off = 0;
	int fd, rc = -1;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	          0644);
	if (fd < 0)
		goto out;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	rc = 0;
out:
	if (fd >= 0 && close(fd) != 0)
		rc = -1;
	if (rc != 0)
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return rc;
}

/* Bytes [max(@from, size - (@cap - 1)), size) of @path into @buf,
 * NUL-ended; @from < 0 counts from the end.  The length, or -1. */
ssize_t fgc_read_span(const char *path, long from, char *buf, size_t cap)
{
	struct stat st;
	ssize_t rc = -1;
	off_t start;
	size_t off = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) != 0)
		goto out;
	start = st.st_size - (off_t)(cap - 1);
	if (start < (off_t)from)
		start = (off_t)from;
	if (start > st.st_size)
		start = st.st_size;
	if (start > 0 && lseek(fd, start, SEEK_SET) < 0)
		goto out;
	while (off < cap - 1) {
		ssize_t n = read(fd, buf + off, cap - 1 - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	rc = (ssize_t)off;
out:
	if (fd >= 0)
		(void)close(fd);
	return rc;
}

/* Append DIR/nI.key.pub's line to @ring (of @cap bytes, @used so far). */
static int append_pub(const char *path, char *ring, size_t cap, size_t *used)
{
	char line[256];
	ssize_t n = fgc_read_span(path, 0, line, sizeof line);

	if (n <= 0 || *used + (size_t)n >= cap || line[n - 1] != '\n')
		return -1;
	memcpy(ring + *used, line, (size_t)n + 1);
	*used += (size_t)n;
	return 0;
}

int fgc_keys_in(const char *dir, int n, char *err, size_t errlen)
{
	char path[256], name[32];
	size_t cap = (size_t)n * 160 + 1, used = 0;
	char *ring = calloc(1, cap);
	int i, rc = -1;

	if (ring == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		(void)snprintf(path, sizeof path, "%s/n%d.key", dir, i);
		(void)snprintf(name, sizeof name, "n%d", i);
		if (fgk_keygen(path, name, err, errlen) != 0)
			goto out;
		strcat(path, ".pub");
		if (append_pub(path, ring, cap, &used) != 0) {
			(void)snprintf(err, errlen, "%s: unreadable", path);
			goto out;
		}
	}
	(void)snprintf(path, sizeof path, "%s/keyring", dir);
	rc = fgc_write_file(path, ring, err, errlen);
out:
	free(ring);
	return rc;
}
