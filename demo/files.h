/* SPDX-License-Identifier: ISC */
/*
 * files.h - the files a cluster is made of: written whole, read in
 * bounded spans, and the key pairs with the keyring that trusts them.
 * The bottom of the harness (cluster.h uses it; it uses only gossip/keys).
 */
#ifndef FG_DEMO_FILES_H
#define FG_DEMO_FILES_H

#include <stddef.h>
#include <sys/types.h>

/* Write @text to @path (created 0644 or truncated; no symlink followed);
 * 0, or -1 with the reason in @err. */
int fgc_write_file(const char *path, const char *text, char *err,
                   size_t errlen);

/*
 * fgc_read_span() - bytes [max(@from, size - (@cap - 1)), size) of @path
 * into @buf, NUL-ended: what a file gained since it was @from bytes long,
 * or its end when that is more than fits.  Its length, or -1.
 */
ssize_t fgc_read_span(const char *path, long from, char *buf, size_t cap);

/* DIR/nI.key (and .pub) named "nI" for I < @n, and DIR/keyring trusting
 * all of them; 0, or -1 with the reason in @err. */
int fgc_keys_in(const char *dir, int n, char *err, size_t errlen);

#endif
