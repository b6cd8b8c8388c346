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

__attribute__((format(printf, 3, 4))) static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
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

int fgk_keygen(const char *path, const char *name, char *err, size_t errlen)
{
	uint8_t pk[FGW_PK_SIZE];
	uint8_t sk[FGW_SK_SIZE];
	char skline[SK_B64_LEN + 2];
	char pkb64[PK_B64_LEN + 1];
	char publine[FGK_NAME_MAX + 1 + PK_B64_LEN + 2];
	char pubpath[PATH_MAX];
	int skfd = -1, pubfd = -1;
	int made_sk = 0, made_pub = 0;
	int n, fd, ret = -1;
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;

	if (path == NULL || name == NULL || !name_ok(name, strlen(name))) {
		seterr(err, errlen,
		       "bad node name: must be 1 to %d of A-Z a-z 0-9 . _ -",
		       FGK_NAME_MAX);
		goto out;
	}
	n = snprintf(pubpath, sizeof pubpath, "%s.pub", path);
	if (n < 0 || (size_t)n >= sizeof pubpath) {
		seterr(err, errlen, "%s: path too long", path);
		goto out;
	}
	if (sodium_init() < 0) {
		seterr(err, errlen, "sodium_init failed");
		goto out;
	}
	skfd = open(path, flags, 0600);
	if (skfd < 0) {
		seterr(err, errlen, "%s: %s%s", path, strerror(errno),
		       errno == EEXIST ? " (refusing to overwrite a key)" : "");
		goto out;
	}
	made_sk = 1;
	pubfd = open(pubpath, flags, 0644);
	if (pubfd < 0) {
		seterr(err, errlen, "%s: %s%s", pubpath, strerror(errno),
		       errno == EEXIST ? " (refusing to overwrite a key)" : "");
		goto out;
	}
	made_pub = 1;

	if (crypto_sign_keypair(pk, sk) != 0) {
		seterr(err, errlen, "crypto_sign_keypair failed");
		goto out;
	}
	sodium_bin2base64(skline, sizeof skline - 1, sk, sizeof sk, B64);
	skline[SK_B64_LEN] = '\n';
	skline[SK_B64_LEN + 1] = '\0';
	sodium_bin2base64(pkb64, sizeof pkb64, pk, sizeof pk, B64);
	n = snprintf(publine, sizeof publine, "%s %s\n", name, pkb64);
	if (n < 0 || (size_t)n >= sizeof publine) {
		seterr(err, errlen, "%s: line too long", pubpath);
		goto out;
	}

	fd = skfd;
	skfd = -1; /* finish_file closes it, whatever happens */
	if (finish_file(fd, skline, SK_B64_LEN + 1) != 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	fd = pubfd;
	pubfd = -1;
	if (finish_file(fd, publine, (size_t)n) != 0) {
		seterr(err, errlen, "%s: %s", pubpath, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (skfd >= 0)
		(void)close(skfd);
	if (pubfd >= 0)
		(void)close(pubfd);
	if (ret != 0 && made_sk)
		(void)unlink(path);
	if (ret != 0 && made_pub)
		(void)unlink(pubpath);
	sodium_memzero(sk, sizeof sk);
	sodium_memzero(skline, sizeof skline);
	sodium_memzero(pk, sizeof pk);
	return ret;
}

/* ------------------------------------------------------------ secret */

int fgk_load_secret(const char *path, uint8_t **skp, uint8_t pk[FGW_PK_SIZE],
                    char *err, size_t errlen)
{
	char text[FGK_SECRET_FILE_MAX];
	uint8_t bin[FGW_SK_SIZE];
	uint8_t seedpk[FGW_PK_SIZE];
	uint8_t seedsk[FGW_SK_SIZE];
	uint8_t *sk = NULL;
	const char *b64end = NULL;
	size_t len = 0, binlen = 0;
	struct stat st;
	int fd = -1, ret = -1;

	*skp = NULL;
	memset(pk, 0, FGW_PK_SIZE);
	if (sodium_init() < 0) {
		seterr(err, errlen, "sodium_init failed");
		goto out;
	}
	fd = open_regular(path, &st, err, errlen);
	if (fd < 0)
		goto out;
	if (st.st_mode & 077) {
		seterr(err, errlen,
		       "%s: mode %04o lets group or others access a secret "
		       "key; fix with: chmod 600 %s",
		       path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (read_upto(fd, text, sizeof text, &len) != 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (len == sizeof text) {
		seterr(err, errlen, "%s: too long for a key file", path);
		goto out;
	}
	/* One line: the base64 text and an optional "\n" or "\r\n". */
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len > 0 && text[len - 1] == '\r')
		len--;
	if (len != SK_B64_LEN ||
	    sodium_base642bin(bin, sizeof bin, text, len, NULL, &binlen,
	                      &b64end, B64) != 0 ||
	    binlen != sizeof bin || b64end != text + len) {
		seterr(err, errlen,
		       "%s: not a secret key (expected one line of %d "
		       "base64 characters)",
		       path, (int)SK_B64_LEN);
		goto out;
	}
	if (crypto_sign_seed_keypair(seedpk, seedsk, bin) != 0 ||
	    sodium_memcmp(seedpk, bin + crypto_sign_SEEDBYTES, FGW_PK_SIZE) !=
	        0) {
		seterr(err, errlen,
		       "%s: corrupt secret key (its public half does not "
		       "match its seed)",
		       path);
		goto out;
	}
	sk = sodium_malloc(FGW_SK_SIZE);
	if (sk == NULL) {
		seterr(err, errlen, "%s: sodium_malloc: %s", path,
		       strerror(errno));
		goto out;
	}
	memcpy(sk, bin, FGW_SK_SIZE);
	if (sodium_mprotect_readonly(sk) != 0) {
		seterr(err, errlen, "%s: sodium_mprotect_readonly: %s", path,
		       strerror(errno));
		goto out;
	}
	if (crypto_sign_ed25519_sk_to_pk(pk, sk) != 0) {
		seterr(err, errlen, "%s: crypto_sign_ed25519_sk_to_pk failed",
		       path);
		goto out;
	}
	*skp = sk;
	sk = NULL;
	ret = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	sodium_free(sk); /* wipes; NULL is fine */
	if (ret != 0)
		memset(pk, 0, FGW_PK_SIZE);
	sodium_memzero(text, sizeof text);
	sodium_memzero(bin, sizeof bin);
	sodium_memzero(seedsk, sizeof seedsk);
	sodium_memzero(seedpk, sizeof seedpk);
	return ret;
}

void fgk_secret_free(uint8_t *sk)
{
	sodium_free(sk); /* makes it writable, wipes it, frees it */
}

/* ------------------------------------------------------------ keyring */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Parse one line (no '\n') into @out: 1 a key, 0 blank, -1 error. */
static int parse_line(const char *s, size_t len, struct fgw_peer_key *out,
                      char *why, size_t whylen)
{
	const char *tok[3];
	size_t toklen[3];
	size_t i = 0, ntok = 0, binlen = 0;
	const char *b64end = NULL;
	const char *hash;

	if (memchr(s, '\0', len) != NULL) {
		seterr(why, whylen, "NUL byte");
		return -1;
	}
	hash = memchr(s, '#', len);
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
	if (ntok == 0)
		return 0;
	if (!name_ok(tok[0], toklen[0])) {
		seterr(why, whylen,
		       "bad name: must be 1 to %d of A-Z a-z 0-9 . _ -",
		       FGK_NAME_MAX);
		return -1;
	}
	if (ntok == 1) {
		seterr(why, whylen, "missing public key after the name");
		return -1;
	}
	if (ntok > 2) {
		seterr(why, whylen, "unexpected text after the public key");
		return -1;
	}
	if (toklen[1] != PK_B64_LEN ||
	    sodium_base642bin(out->pk, sizeof out->pk, tok[1], toklen[1], NULL,
	                      &binlen, &b64end, B64) != 0 ||
	    binlen != FGW_PK_SIZE || b64end != tok[1] + toklen[1]) {
		seterr(why, whylen,
		       "bad public key: expected %d base64 characters "
		       "(32 bytes)",
		       (int)PK_B64_LEN);
		return -1;
	}
	memset(out->name, 0, sizeof out->name);
	memcpy(out->name, tok[0], toklen[0]);
	return 1;
}

int fgk_keyring_parse(const char *text, size_t len, const char *fname,
                      struct fgw_keyring *kr, char *err, size_t errlen)
{
	struct fgw_peer_key key, *keys = NULL, *grown;
	size_t n = 0, cap = 0, pos = 0, eol, lineno = 0, i;
	char why[160];
	int r, ret = -1;

	kr->n = 0;
	kr->keys = NULL;
	kr->pw = NULL;
	why[0] = '\0';
	if (fname == NULL)
		fname = "keyring";
	if (text == NULL && len > 0) {
		seterr(err, errlen, "%s: no text", fname);
		goto out;
	}
	if (len > FGK_KEYRING_FILE_MAX) {
		seterr(err, errlen, "%s: longer than %u bytes", fname,
		       FGK_KEYRING_FILE_MAX);
		goto out;
	}
	/* Each turn consumes a line and its '\n': bounded by @len. */
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);

		eol = nl != NULL ? (size_t)(nl - text) : len;
		lineno++;
		r = parse_line(text + pos, eol - pos, &key, why, sizeof why);
		pos = eol + 1;
		if (r < 0)
			goto bad;
		if (r == 0)
			continue;
		for (i = 0; i < n; i++) {
			if (strcmp(keys[i].name, key.name) == 0) {
				seterr(why, sizeof why, "duplicate name '%s'",
				       key.name);
				goto bad;
			}
			if (memcmp(keys[i].pk, key.pk, FGW_PK_SIZE) == 0) {
				seterr(why, sizeof why,
				       "duplicate key (already listed as "
				       "'%s')",
				       keys[i].name);
				goto bad;
			}
		}
		if (n == FGK_KEYRING_MAX) {
			seterr(why, sizeof why, "more than %d keys",
			       FGK_KEYRING_MAX);
			goto bad;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			if (cap > FGK_KEYRING_MAX)
				cap = FGK_KEYRING_MAX;
			grown = realloc(keys, cap * sizeof *keys);
			if (grown == NULL) {
				seterr(why, sizeof why, "out of memory");
				goto bad;
			}
			keys = grown;
		}
		keys[n++] = key;
	}
	kr->keys = keys;
	kr->n = n;
	keys = NULL;
	ret = 0;
	goto out;
bad:
	seterr(err, errlen, "%s:%zu: %s", fname, lineno, why);
out:
	free(keys);
	return ret;
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
