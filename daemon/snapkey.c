/* SPDX-License-Identifier: ISC */
/*
 * snapkey.c - see snapkey.h.
 */
#include "daemon/snapkey.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "util/why.h"

static const char label[] = "floodgate snapshot MAC v3";

/* Read the key file open at @fd, if it is ours: 0, or -1 with @err. */
static int key_read(int fd, const char *path, uint8_t key[FGD_SNAP_KEY_BYTES],
                    char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077) != 0 ||
	    st.st_size != FGD_SNAP_KEY_BYTES)
		return fgu_why(
		    err, errlen,
		    "%s: not a snapshot key of ours (owner %u, mode %04o, "
		    "%lld bytes; wanted uid %u, 0600, %u bytes): refused; "
		    "remove it, and its snapshot will be refused too",
		    path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
		    (long long)st.st_size, (unsigned)geteuid(),
		    FGD_SNAP_KEY_BYTES);
	n = read(fd, key, FGD_SNAP_KEY_BYTES);
	if (n != FGD_SNAP_KEY_BYTES) {
		sodium_memzero(key, FGD_SNAP_KEY_BYTES);
		return fgu_why(err, errlen, "%s: short read", path);
	}
	return 0;
}

/* Make a new key file at @path: 0, 1 someone made one first, -1. */
static int key_make(const char *path, uint8_t key[FGD_SNAP_KEY_BYTES],
                    char *err, size_t errlen)
{
	int fd = open(
	    path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int rc = -1;

	if (fd < 0 && errno == EEXIST)
		return 1;
	if (fd < 0)
		return fgu_why(err, errlen, "%s: cannot create: %s", path,
		               strerror(errno));
	randombytes_buf(key, FGD_SNAP_KEY_BYTES);
	if (fchmod(fd, 0600) == 0 &&
	    write(fd, key, FGD_SNAP_KEY_BYTES) == FGD_SNAP_KEY_BYTES &&
	    fsync(fd) == 0)
		rc = 0;
	if (close(fd) != 0)
		rc = -1;
	if (rc != 0) {
		fgu_why(err, errlen, "%s: cannot write: %s", path,
		        strerror(errno));
		sodium_memzero(key, FGD_SNAP_KEY_BYTES);
		(void)unlink(path);
	}
	return rc;
}

int fgd_snapkey_get(const char *snapshot, const uint8_t *sk, int create,
                    uint8_t key[FGD_SNAP_KEY_BYTES], char *err, size_t errlen)
{
	char path[FGD_PATH_MAX + 8];
	int fd, r, tries;

	if (sk != NULL) /* the seed half of the node's secret key */
		return crypto_generichash(key, FGD_SNAP_KEY_BYTES,
		                          (const uint8_t *)label,
		                          sizeof label - 1, sk, 32) == 0
		           ? 0
		           : fgu_why(err, errlen, "snapshot key: libsodium");
	if ((size_t)snprintf(path, sizeof path, "%s.key", snapshot) >=
	    sizeof path)
		return fgu_why(err, errlen, "%s.key: path too long", snapshot);
	for (tries = 0; tries < 2; tries++) { /* made by another, then read */
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			r = key_read(fd, path, key, err, errlen);
			close(fd);
			return r;
		}
		if (errno != ENOENT)
			return fgu_why(err, errlen, "%s: %s", path,
			               errno == ELOOP ? "a symbolic link: "
			                                "refused; remove it"
			                              : strerror(errno));
		if (!create)
			return 1;
		r = key_make(path, key, err, errlen);
		if (r != 1)
			return r;
	}
	return fgu_why(err, errlen, "%s: made and removed under us", path);
}
