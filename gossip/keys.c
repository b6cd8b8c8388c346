/* SPDX-License-Identifier: ISC */
/*
 * keys.c - node key files and the keyring (keys.h).
 *
 * Secret key file: one line, the 64-byte libsodium crypto_sign secret key
 * (seed || public key) in standard base64 (88 characters), mode 0600.
 * Public key file (PATH.pub): one keyring line "NAME BASE64-PK", so adding
 * a node to a keyring is `cat node.key.pub >> keyring`.
 *
 * Secret hygiene (libsodium's advice, and wireguard-tools'):
 *  - keygen creates with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600: it never
 *    overwrites a key, never follows a planted symlink, and the key is
 *    never readable by anyone else, not even between open() and chmod();
 *  - load refuses anything but a regular file, and a file with any
 *    group/other permission bit, naming the mode and the fix;
 *  - the key passes through stack buffers only on its way into
 *    sodium_malloc'ed memory (guard pages, MADV_DONTDUMP, mlock'ed),
 *    which is then made read-only; every stack buffer is wiped with
 *    sodium_memzero() on every path, success or not;
 *  - the public half stored in the key is checked against the one derived
 *    from the seed, so a corrupt file is refused instead of signing with
 *    a key whose public half nobody trusts.
 *
 * The keyring is public but it is the trust anchor: parsing is a pure
 * function of the text (fuzzable) with every resource bounded (text size,
 * number of keys), errors are "file:line: reason", and loading refuses a
 * file anyone may write.  Base64 is decoded strictly (padding and unused
 * bits must be canonical), so one key has exactly one spelling and the
 * duplicate check on decoded keys is complete.
 */
#include "gossip/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define B64        sodium_base64_VARIANT_ORIGINAL
#define SK_B64_LEN (sodium_base64_ENCODED_LEN(FGW_SK_SIZE, B64) - 1) /* 88 */
#define PK_B64_LEN (sodium_base64_ENCODED_LEN(FGW_PK_SIZE, B64) - 1) /* 44 */

_Static_assert(FGK_NAME_MAX + 1 <= sizeof(((struct fgw_peer_key *)0)->name),
               "name fits the keyring entry");
_Static_assert(SK_B64_LEN + 2 < FGK_SECRET_FILE_MAX, "secret file size");

__attribute__((format(printf, 3, 0))) static void
vseterr(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err != NULL && errlen != 0)
		vsnprintf(err, errlen, fmt, ap);
}

__attribute__((format(printf, 3, 4))) static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vseterr(err, errlen, fmt, ap);
	va_end(ap);
}

/* seterr(), returning -1. */
__attribute__((format(printf, 3, 4))) static int
seterr_r(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vseterr(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > FGK_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read at most @cap bytes; *@len receives the count.  -1 with errno. */
static int read_upto(int fd, void *buf, size_t cap, size_t *len)
{
	char *p = buf;
	ssize_t n;

	*len = 0;
	while (*len < cap) {
		n = read(fd, p + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	return 0;
}

/* Write, flush to disk and close @fd: -1 with errno on any failure. */
static int finish_file(int fd, const void *buf, size_t len)
{
	int saved;

	if (write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

/* ------------------------------------------------------------ keygen */

/*
 * Open @path for reading, a regular file only; -1 with a message in @err.
 * O_NONBLOCK: a FIFO planted at @path must not hang us in open().
 */
static int open_regular(const char *path, struct stat *st, char *err,
                        size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) != 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		seterr(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Open @path for a new key file: never one that exists (a key is never
 * overwritten), never through a symbolic link.  Its fd, or -1 with why. */
static int open_new(const char *path, mode_t mode, char *err, size_t errlen)
{
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = open(path, flags, mode);

	if (fd < 0)
		seterr(err, errlen, "%s: %s%s", path, strerror(errno),
		       errno == EEXIST ? " (refusing to overwrite a key)" : "");
	return fd;
}

/* A new key pair as the two files' lines: @skline (secret, base64 and a
 * newline) and @publine ("NAME KEY\n"); the latter's length, or -1. */
static int key_lines(const char *name, char skline[SK_B64_LEN + 2],
                     char *publine, size_t publen)
{
	uint8_t pk[FGW_PK_SIZE], sk[FGW_SK_SIZE];
	char pkb64[PK_B64_LEN + 1];
	int n = -1;

	if (crypto_sign_keypair(pk, sk) == 0) {
		sodium_bin2base64(skline, SK_B64_LEN + 1, sk, sizeof sk, B64);
		skline[SK_B64_LEN] = '\n';
		skline[SK_B64_LEN + 1] = '\0';
		sodium_bin2base64(pkb64, sizeof pkb64, pk, sizeof pk, B64);
		n = snprintf(publine, publen, "%s %s\n", name, pkb64);
		if (n < 0 || (size_t)n >= publen)
			n = -1;
	}
	sodium_memzero(sk, sizeof sk);
	return n;
}

/* Write the two lines into the new files @skfd and @pubfd (closed
 * whatever happens): 0, or -1 with why. */
static int keys_write(int skfd, const char *path, const char *skline, int pubfd,
                      const char *pubpath, const char *publine, size_t publen,
                      char *err, size_t errlen)
{
	if (finish_file(skfd, skline, SK_B64_LEN + 1) != 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		(void)close(pubfd);
		return -1;
	}
	if (finish_file(pubfd, publine, publen) != 0) {
		seterr(err, errlen, "%s: %s", pubpath, strerror(errno));
		return -1;
	}
	return 0;
}

int fgk_keygen(const char *path, const char *name, char *err, size_t errlen)
{
	char skline[SK_B64_LEN + 2];
	char publine[FGK_NAME_MAX + 1 + PK_B64_LEN + 2];
	char pubpath[PATH_MAX];
	int skfd, pubfd, n, ret = -1;

	if (path == NULL || name == NULL || !name_ok(name, strlen(name))) {
		seterr(err, errlen,
		       "bad node name: must be 1 to %d of A-Z a-z 0-9 . _ -",
		       FGK_NAME_MAX);
		return -1;
	}
	n = snprintf(pubpath, sizeof pubpath, "%s.pub", path);
	if (n < 0 || (size_t)n >= sizeof pubpath) {
		seterr(err, errlen, "%s: path too long", path);
		return -1;
	}
	if (sodium_init() < 0) {
		seterr(err, errlen, "sodium_init failed");
		return -1;
	}
	skfd = open_new(path, 0600, err, errlen);
	if (skfd < 0)
		return -1;
	pubfd = open_new(pubpath, 0644, err, errlen);
	if (pubfd < 0) {
		(void)close(skfd);
		(void)unlink(path); /* ours: the .pub was somebody's */
		return -1;
	}
	n = key_lines(name, skline, publine, sizeof publine);
	if (n < 0) {
		seterr(err, errlen, "%s: could not make a key pair", path);
		(void)close(skfd);
		(void)close(pubfd);
	} else {
		ret = keys_write(skfd, path, skline, pubfd, pubpath, publine,
		                 (size_t)n, err, errlen);
	}
	if (ret != 0) { /* both files are ours */
		(void)unlink(path);
		(void)unlink(pubpath);
	}
	sodium_memzero(skline, sizeof skline);
	return ret;
}

/* ------------------------------------------------------------ secret */

/* The one line of the secret key file @path, which only we may read,
 * into @text: its length without the line end, or -1 with why. */
static ssize_t secret_text(const char *path, char *text, size_t size, char *err,
                           size_t errlen)
{
	struct stat st;
	size_t len = 0;
	int fd = open_regular(path, &st, err, errlen), r = -1;

	if (fd < 0)
		return -1;
	if (st.st_mode & 077)
		seterr(err, errlen,
		       "%s: mode %04o lets group or others access a secret "
		       "key; fix with: chmod 600 %s",
		       path, (unsigned)(st.st_mode & 07777), path);
	else if (read_upto(fd, text, size, &len) != 0)
		seterr(err, errlen, "%s: %s", path, strerror(errno));
	else if (len == size)
		seterr(err, errlen, "%s: too long for a key file", path);
	else
		r = 0;
	(void)close(fd);
	if (r != 0)
		return -1;
	/* One line: the base64 text and an optional "\n" or "\r\n". */
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len > 0 && text[len - 1] == '\r')
		len--;
	return (ssize_t)len;
}

/* @text of @len bytes as a secret key whose public half matches its
 * seed, into @bin: 0, or -1 with why. */
static int secret_decode(const char *path, const char *text, size_t len,
                         uint8_t bin[FGW_SK_SIZE], char *err, size_t errlen)
{
	uint8_t seedpk[FGW_PK_SIZE], seedsk[FGW_SK_SIZE];
	const char *b64end = NULL;
	size_t binlen = 0;
	int r = 0;

	if (len != SK_B64_LEN ||
	    sodium_base642bin(bin, FGW_SK_SIZE, text, len, NULL, &binlen,
	                      &b64end, B64) != 0 ||
	    binlen != FGW_SK_SIZE || b64end != text + len)
		r = seterr_r(err, errlen,
		             "%s: not a secret key (expected one line of %d "
		             "base64 characters)",
		             path, (int)SK_B64_LEN);
	else if (crypto_sign_seed_keypair(seedpk, seedsk, bin) != 0 ||
	         sodium_memcmp(seedpk, bin + crypto_sign_SEEDBYTES,
	                       FGW_PK_SIZE) != 0)
		r = seterr_r(err, errlen,
		             "%s: corrupt secret key (its public half does "
		             "not match its seed)",
		             path);
	sodium_memzero(seedsk, sizeof seedsk);
	sodium_memzero(seedpk, sizeof seedpk);
	return r;
}

/* @bin in memory of its own, read-only: 0 and *@skp, or -1 with why. */
static int secret_keep(const char *path, const uint8_t *bin, uint8_t **skp,
                       uint8_t pk[FGW_PK_SIZE], char *err, size_t errlen)
{
	uint8_t *sk = sodium_malloc(FGW_SK_SIZE);

	if (sk == NULL)
		return seterr_r(err, errlen, "%s: sodium_malloc: %s", path,
		                strerror(errno));
	memcpy(sk, bin, FGW_SK_SIZE);
	if (sodium_mprotect_readonly(sk) != 0 ||
	    crypto_sign_ed25519_sk_to_pk(pk, sk) != 0) {
		sodium_free(sk); /* wipes */
		return seterr_r(err, errlen, "%s: cannot protect the key: %s",
		                path, strerror(errno));
	}
	*skp = sk;
	return 0;
}

int fgk_load_secret(const char *path, uint8_t **skp, uint8_t pk[FGW_PK_SIZE],
                    char *err, size_t errlen)
{
	char text[FGK_SECRET_FILE_MAX];
	uint8_t bin[FGW_SK_SIZE];
	ssize_t len;
	int ret = -1;

	*skp = NULL;
	memset(pk, 0, FGW_PK_SIZE);
	if (sodium_init() < 0) {
		seterr(err, errlen, "sodium_init failed");
		return -1;
	}
	len = secret_text(path, text, sizeof text, err, errlen);
	if (len >= 0 &&
	    secret_decode(path, text, (size_t)len, bin, err, errlen) == 0)
		ret = secret_keep(path, bin, skp, pk, err, errlen);
	if (ret != 0)
		memset(pk, 0, FGW_PK_SIZE);
	sodium_memzero(text, sizeof text);
	sodium_memzero(bin, sizeof bin);
	return ret;
}

void fgk_secret_free(uint8_t *sk)
{
	sodium_free(sk); /* makes it writable, wipes it, frees it */
}

/* ------------------------------------------------------------ keyring */

int fgw_keyring_find(const struct fgw_keyring *kr,
                     const uint8_t pk[FGW_PK_SIZE])
{
	size_t i;

	if (kr == NULL || kr->keys == NULL)
		return -1;
	/* Public keys: no need for a constant-time compare.  The keyring
	 * is small (a peer list); linear is cheaper than one verify. */
	for (i = 0; i < kr->n && i < (size_t)INT32_MAX; i++)
		if (memcmp(kr->keys[i].pk, pk, FGW_PK_SIZE) == 0)
			return (int)i;
	return -1;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The first three blank-separated words of @s (@len bytes, its comment
 * cut): their number. */
static size_t words3(const char *s, size_t len, const char *tok[3],
                     size_t toklen[3])
{
	const char *hash = memchr(s, '#', len);
	size_t i = 0, ntok = 0;

	if (hash != NULL)
		len = (size_t)(hash - s);
	while (i < len && ntok < 3) {
		while (i < len && is_space(s[i]))
			i++;
		if (i == len)
			break;
		tok[ntok] = s + i;
		while (i < len && !is_space(s[i]))
			i++;
		toklen[ntok] = (size_t)(s + i - tok[ntok]);
		ntok++;
	}
	return ntok;
}

/* Parse one line (no '\n') into @out: 1 a key, 0 blank, -1 error. */
static int parse_line(const char *s, size_t len, struct fgw_peer_key *out,
                      char *why, size_t whylen)
{
	const char *tok[3], *b64end = NULL;
	size_t toklen[3], ntok, binlen = 0;

	if (memchr(s, '\0', len) != NULL)
		return seterr_r(why, whylen, "NUL byte");
	ntok = words3(s, len, tok, toklen);
	if (ntok == 0)
		return 0;
	if (!name_ok(tok[0], toklen[0]))
		return seterr_r(
		    why, whylen,
		    "bad name: must be 1 to %d of A-Z a-z 0-9 . _ -",
		    FGK_NAME_MAX);
	if (ntok != 2)
		return seterr_r(why, whylen,
		                ntok == 1 ? "missing public key after the name"
		                          : "unexpected text after the public "
		                            "key");
	if (toklen[1] != PK_B64_LEN ||
	    sodium_base642bin(out->pk, sizeof out->pk, tok[1], toklen[1], NULL,
	                      &binlen, &b64end, B64) != 0 ||
	    binlen != FGW_PK_SIZE || b64end != tok[1] + toklen[1])
		return seterr_r(why, whylen,
		                "bad public key: expected %d base64 characters "
		                "(32 bytes)",
		                (int)PK_B64_LEN);
	memset(out->name, 0, sizeof out->name);
	memcpy(out->name, tok[0], toklen[0]);
	return 1;
}

/* Add @key to the @n keys of @keys (room for @cap): 0, or -1 with why
 * (a name or key listed twice, too many, no memory). */
static int keyring_add(struct fgw_peer_key **keys, size_t *n, size_t *cap,
                       const struct fgw_peer_key *key, char *why, size_t whylen)
{
	struct fgw_peer_key *grown;
	size_t i;

	for (i = 0; i < *n; i++) {
		if (strcmp((*keys)[i].name, key->name) == 0)
			return seterr_r(why, whylen, "duplicate name '%s'",
			                key->name);
		if (memcmp((*keys)[i].pk, key->pk, FGW_PK_SIZE) == 0)
			return seterr_r(
			    why, whylen,
			    "duplicate key (already listed as '%s')",
			    (*keys)[i].name);
	}
	if (*n == FGK_KEYRING_MAX)
		return seterr_r(why, whylen, "more than %d keys",
		                FGK_KEYRING_MAX);
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 16;

		if (c > FGK_KEYRING_MAX)
			c = FGK_KEYRING_MAX;
		grown = realloc(*keys, c * sizeof *grown);
		if (grown == NULL)
			return seterr_r(why, whylen, "out of memory");
		*keys = grown;
		*cap = c;
	}
	(*keys)[(*n)++] = *key;
	return 0;
}

int fgk_keyring_parse(const char *text, size_t len, const char *fname,
                      struct fgw_keyring *kr, char *err, size_t errlen)
{
	struct fgw_peer_key key, *keys = NULL;
	size_t n = 0, cap = 0, pos = 0, eol, lineno = 0;
	char why[160] = "";
	int r;

	kr->n = 0;
	kr->keys = NULL;
	kr->pw = NULL;
	if (fname == NULL)
		fname = "keyring";
	if (text == NULL && len > 0)
		return seterr_r(err, errlen, "%s: no text", fname);
	if (len > FGK_KEYRING_FILE_MAX)
		return seterr_r(err, errlen, "%s: longer than %u bytes", fname,
		                FGK_KEYRING_FILE_MAX);
	/* Each turn consumes a line and its '\n': bounded by @len. */
	for (r = 0; pos < len && r >= 0; pos = eol + 1) {
		const char *nl = memchr(text + pos, '\n', len - pos);

		eol = nl != NULL ? (size_t)(nl - text) : len;
		lineno++;
		r = parse_line(text + pos, eol - pos, &key, why, sizeof why);
		if (r > 0)
			r = keyring_add(&keys, &n, &cap, &key, why, sizeof why);
	}
	if (r < 0) {
		free(keys);
		return seterr_r(err, errlen, "%s:%zu: %s", fname, lineno, why);
	}
	kr->keys = keys;
	kr->n = n;
	return 0;
}

int fgk_keyring_load(const char *path, struct fgw_keyring *kr, char *err,
                     size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	struct stat st;
	int fd = -1, ret = -1;

	kr->n = 0;
	kr->keys = NULL;
	kr->pw = NULL;
	fd = open_regular(path, &st, err, errlen);
	if (fd < 0)
		goto out;
	/* Whoever can write the keyring decides whom we trust. */
	if (st.st_mode & S_IWOTH) {
		seterr(err, errlen,
		       "%s: mode %04o lets anyone add trusted keys; fix with: "
		       "chmod o-w %s",
		       path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (st.st_size > (off_t)FGK_KEYRING_FILE_MAX) {
		seterr(err, errlen, "%s: longer than %u bytes", path,
		       FGK_KEYRING_FILE_MAX);
		goto out;
	}
	/* One byte more than allowed, to see a file that grew meanwhile. */
	text = malloc(FGK_KEYRING_FILE_MAX + 1);
	if (text == NULL) {
		seterr(err, errlen, "%s: out of memory", path);
		goto out;
	}
	if (read_upto(fd, text, FGK_KEYRING_FILE_MAX + 1, &len) != 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	ret = fgk_keyring_parse(text, len, path, kr, err, errlen);
out:
	if (fd >= 0)
		(void)close(fd);
	free(text);
	return ret;
}

void fgk_keyring_free(struct fgw_keyring *kr)
{
	if (kr == NULL)
		return;
	free(kr->keys);
	kr->keys = NULL;
	kr->n = 0;
	kr->pw = NULL; /* not ours: fgw_pairwise_free() it */
}
