/* SPDX-License-Identifier: ISC */
/*
 * ledger.c - see ledger.h.
 *
 * Placement: slot = (id[0] x cap) >> 64, so that the table needs no power
 * of two size and the last doubling can stop at exactly max x 5/4.  An
 * empty slot is an all-zero id; every probe ends at one because the table
 * never holds more than cap - 1 records.
 */
#include "gossip/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/why.h"

_Static_assert(FGD_LEDGER_KEYBYTES == crypto_shorthash_siphashx24_KEYBYTES,
               "ledger key size");
_Static_assert(crypto_shorthash_siphashx24_BYTES == 16, "ledger id size");

struct file_hdr {
	uint8_t magic[8];
	uint64_t ident[3];
	uint64_t esize;
	uint64_t cap;
	uint8_t key[FGD_LEDGER_KEYBYTES];
};

_Static_assert(sizeof(struct file_hdr) == 64, "ledger header: a line");

static const uint8_t file_magic[8] = "FGDLEDG1";

/* A table being built: memory, or a mapped temporary file beside path. */
struct table {
	uint8_t *slots;
	size_t cap;
	void *map; /* file: the mapping (header first) */
	size_t bytes;
	char *tmp; /* file: its temporary name until renamed */
};

static size_t cap_max_for(size_t max)
{
	size_t c = max + (max + 3) / 4;

	if (c < max + 1)
		c = max + 1;
	return c < FGD_LEDGER_MIN ? FGD_LEDGER_MIN : c;
}

size_t fgd_ledger_bytes_max(size_t esize, size_t max)
{
	return sizeof(struct file_hdr) + cap_max_for(max) * esize;
}

static int is_empty(const uint8_t *rec)
{
	const uint64_t *id = (const void *)rec;

	return (id[0] | id[1]) == 0;
}

static size_t home_of(const uint8_t *rec, size_t cap)
{
	const uint64_t *id = (const void *)rec;

	return (size_t)(((unsigned __int128)id[0] * cap) >> 64);
}

static uint8_t *slot_in(const struct fgd_ledger *l, uint8_t *slots, size_t i)
{
	return slots + i * l->esize;
}

void fgd_ledger_id(const struct fgd_ledger *l, const void *name, size_t len,
                   uint64_t id[2])
{
	uint8_t out[16];

	crypto_shorthash_siphashx24(out, name, len, l->key);
	memcpy(id, out, sizeof out);
	if ((id[0] | id[1]) == 0)
		id[1] = 1; /* all-zero marks an empty slot */
}

/* ---------------------------------------------------------------- tables */

static void table_drop(struct table *t)
{
	if (t->map != NULL)
		munmap(t->map, t->bytes);
	else
		free(t->slots);
	if (t->tmp != NULL) {
		(void)unlink(t->tmp);
		free(t->tmp);
	}
	memset(t, 0, sizeof *t);
}

/* A new, empty table of @cap slots, with @key in its header (files). */
static int table_new(const struct fgd_ledger *l, size_t cap, const uint8_t *key,
                     struct table *t)
{
	struct file_hdr *h;
	int fd;

	memset(t, 0, sizeof *t);
	t->cap = cap;
	if (l->path == NULL) {
		t->slots = calloc(cap, l->esize);
		return t->slots == NULL ? -1 : 0;
	}
	t->bytes = sizeof *h + cap * l->esize;
	if (asprintf(&t->tmp, "%s.XXXXXX", l->path) < 0) {
		t->tmp = NULL;
		return -1;
	}
	fd = mkostemp(t->tmp, O_CLOEXEC); /* O_EXCL, 0600 */
	if (fd < 0) {
		free(t->tmp);
		t->tmp = NULL;
		return -1;
	}
	if (ftruncate(fd, (off_t)t->bytes) == 0)
		t->map = mmap(NULL, t->bytes, PROT_READ | PROT_WRITE,
		              MAP_SHARED, fd, 0);
	close(fd);
	if (t->map == NULL || t->map == MAP_FAILED) {
		t->map = NULL;
		table_drop(t);
		return -1;
	}
	h = t->map;
	memcpy(h->magic, file_magic, sizeof h->magic);
	memcpy(h->ident, l->ident, sizeof h->ident);
	h->esize = l->esize;
	h->cap = cap;
	memcpy(h->key, key, sizeof h->key);
	t->slots = (uint8_t *)(h + 1);
	return 0;
}

/* Put @rec in @t unless a record of its id is there already; 1 if put. */
static int table_put(const struct fgd_ledger *l, struct table *t,
                     const uint8_t *rec)
{
	size_t i = home_of(rec, t->cap), k;

	for (k = 0; k < t->cap; k++) {
		uint8_t *s = slot_in(l, t->slots, i);

		if (is_empty(s)) {
			memcpy(s, rec, l->esize);
			return 1;
		}
		if (memcmp(s, rec, 16) == 0)
			return 0;
		if (++i == t->cap)
			i = 0;
	}
	return 0;
}

/* Make @t the ledger's table (a file is renamed into place first). */
static int table_commit(struct fgd_ledger *l, struct table *t)
{
	if (t->tmp != NULL) {
		if (rename(t->tmp, l->path) != 0)
			return -1;
		free(t->tmp);
		t->tmp = NULL;
	}
	if (l->slots != NULL && l->path != NULL)
		munmap(l->slots - sizeof(struct file_hdr), l->bytes);
	else
		free(l->slots);
	l->slots = t->slots;
	l->cap = t->cap;
	l->bytes = t->bytes;
	if (l->hand >= l->cap)
		l->hand = 0;
	memset(t, 0, sizeof *t);
	return 0;
}

/* Move every record of @from (@cap slots, NULL: none) into a new table of
 * @cap_new slots and commit it; at most l->max records are kept. */
static int rebuild(struct fgd_ledger *l, uint8_t *from, size_t cap,
                   size_t cap_new)
{
	struct table t;
	size_t i, n = 0;

	if (table_new(l, cap_new, l->key, &t) != 0)
		return -1;
	for (i = 0; from != NULL && i < cap && n < l->max && n + 1 < cap_new;
	     i++) {
		const uint8_t *rec = slot_in(l, from, i);

		if (!is_empty(rec))
			n += (size_t)table_put(l, &t, rec);
	}
	if (table_commit(l, &t) != 0) {
		table_drop(&t);
		return -1;
	}
	l->n = n;
	return 0;
}

/* -------------------------------------------------------------- lifetime */

static int setup(struct fgd_ledger *l, size_t esize, size_t max,
                 const uint8_t *key)
{
	memset(l, 0, sizeof *l);
	if (esize < 16 || esize % 8 != 0 || max == 0)
		return -1;
	l->esize = esize;
	l->max = max;
	l->cap_max = cap_max_for(max);
	if (key != NULL)
		memcpy(l->key, key, sizeof l->key);
	else
		randombytes_buf(l->key, sizeof l->key);
	return 0;
}

int fgd_ledger_init(struct fgd_ledger *l, size_t esize, size_t max,
                    const uint8_t *key)
{
	if (setup(l, esize, max, key) != 0)
		return -1;
	return rebuild(l, NULL, 0, FGD_LEDGER_MIN);
}

/* The header of a file that holds a ledger of ours, or NULL. */
static const struct file_hdr *file_valid(const struct fgd_ledger *l,
                                         const void *p, size_t size)
{
	const struct file_hdr *h = p;

	if (size < sizeof *h || memcmp(h->magic, file_magic, 8) != 0 ||
	    memcmp(h->ident, l->ident, sizeof h->ident) != 0 ||
	    h->esize != l->esize || h->cap < 2 ||
	    sodium_memcmp(h->key, l->key, sizeof h->key) != 0 ||
	    h->cap > (size - sizeof *h) / l->esize ||
	    size != sizeof *h + h->cap * l->esize)
		return NULL;
	return h;
}

/*
 * Reload what @fd holds, if it is ours and a ledger: its key, then its
 * records re-inserted into a new file.  0 (also when there was nothing
 * to reload), or -1 with @err set.
 */
static int reload(struct fgd_ledger *l, int fd, char *err, size_t errlen)
{
	const struct file_hdr *h;
	struct stat st;
	size_t cap, size;
	void *p;
	int r;

	if (fstat(fd, &st) != 0)
		return fgu_why(err, errlen, "%s: %s", l->path, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0)
		return fgu_why(err, errlen,
		               "%s: not a file of ours (owner %u, mode %04o): "
		               "refused; remove it",
		               l->path, (unsigned)st.st_uid,
		               (unsigned)(st.st_mode & 07777));
	size = (size_t)st.st_size;
	if (size < sizeof *h)
		return 0;
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return 0;
	h = file_valid(l, p, size);
	r = 0;
	if (h != NULL) {
		cap = h->cap;
		if (cap > l->cap_max)
			cap = l->cap_max;
		r = rebuild(l, (uint8_t *)(void *)(h + 1), h->cap, cap);
		l->reloaded = r == 0;
		if (r != 0)
			fgu_why(err, errlen, "%s: cannot rewrite: %s", l->path,
			        strerror(errno));
	}
	munmap(p, size);
	return r;
}

int fgd_ledger_open(struct fgd_ledger *l, size_t esize, size_t max,
                    const uint8_t *key, const char *path,
                    const uint64_t ident[3], char *err, size_t errlen)
{
	int fd;

	if (setup(l, esize, max, key) != 0)
		return fgu_why(err, errlen, "ledger: bad parameters");
	l->path = strdup(path);
	if (l->path == NULL)
		return fgu_why(err, errlen, "out of memory");
	memcpy(l->ident, ident, sizeof l->ident);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT) {
		fgu_why(err, errlen, "%s: %s", path,
		        errno == ELOOP ? "a symbolic link: refused; remove it"
		                       : strerror(errno));
		goto fail;
	}
	if (fd >= 0) {
		int r = reload(l, fd, err, errlen);

		close(fd);
		if (r != 0)
			goto fail;
	}
	if (l->slots == NULL && rebuild(l, NULL, 0, FGD_LEDGER_MIN) != 0) {
		fgu_why(err, errlen, "%s: cannot create: %s", path,
		        strerror(errno));
		goto fail;
	}
	return 0;
fail:
	fgd_ledger_fini(l);
	return -1;
}

void fgd_ledger_fini(struct fgd_ledger *l)
{
	if (l->slots != NULL) {
		if (l->path != NULL)
			munmap(l->slots - sizeof(struct file_hdr), l->bytes);
		else
			free(l->slots);
	}
	free(l->path);
	sodium_memzero(l, sizeof *l);
}

/* ------------------------------------------------------------ records */

void *fgd_ledger_find(struct fgd_ledger *l, const uint64_t id[2])
{
	size_t i = (size_t)(((unsigned __int128)id[0] * l->cap) >> 64), k;

	for (k = 0; k < l->cap; k++) {
		uint8_t *s = slot_in(l, l->slots, i);

		if (is_empty(s))
			return NULL;
		if (memcmp(s, id, 16) == 0)
			return s;
		if (++i == l->cap)
			i = 0;
	}
	return NULL;
}

void fgd_ledger_prefetch(const struct fgd_ledger *l, const uint64_t id[2])
{
	if (l->cap != 0)
		__builtin_prefetch(slot_in(
		    l, l->slots,
		    (size_t)(((unsigned __int128)id[0] * l->cap) >> 64)));
}

void *fgd_ledger_add(struct fgd_ledger *l, const uint64_t id[2])
{
	size_t i, k;

	if (l->n >= l->max)
		return NULL;
	if ((l->n + 1) * 5 > l->cap * 4 && l->cap < l->cap_max) {
		size_t cap = l->cap * 2 < l->cap_max ? l->cap * 2 : l->cap_max;

		if (rebuild(l, l->slots, l->cap, cap) != 0 && l->n + 2 > l->cap)
			return NULL; /* could not grow, and no room left */
	}
	i = (size_t)(((unsigned __int128)id[0] * l->cap) >> 64);
	for (k = 0; k < l->cap; k++) {
		uint8_t *s = slot_in(l, l->slots, i);

		if (is_empty(s)) {
			memset(s, 0, l->esize);
			memcpy(s, id, 16);
			l->n++;
			return s;
		}
		if (++i == l->cap)
			i = 0;
	}
	return NULL;
}

void fgd_ledger_del(struct fgd_ledger *l, void *rec)
{
	size_t i = (size_t)((uint8_t *)rec - l->slots) / l->esize, j = i, k;

	l->n--;
	for (;;) {
		uint8_t *s;

		if (++j == l->cap)
			j = 0;
		s = slot_in(l, l->slots, j);
		if (is_empty(s))
			break;
		k = home_of(s, l->cap);
		/* The record at j may fill the hole at i unless its home lies
		 * cyclically in (i, j]. */
		if ((j > i && (k <= i || k > j)) ||
		    (j < i && (k <= i && k > j))) {
			memcpy(slot_in(l, l->slots, i), s, l->esize);
			i = j;
		}
	}
	memset(slot_in(l, l->slots, i), 0, l->esize);
}

void fgd_ledger_clear(struct fgd_ledger *l)
{
	memset(l->slots, 0, l->cap * l->esize);
	l->n = 0;
	l->hand = 0;
}

void *fgd_ledger_at(const struct fgd_ledger *l, size_t i)
{
	uint8_t *s = slot_in(l, l->slots, i);

	return i < l->cap && !is_empty(s) ? s : NULL;
}

void *fgd_ledger_victim(struct fgd_ledger *l, unsigned sample,
                        int (*worse)(const void *a, const void *b))
{
	uint8_t *best = NULL;
	size_t k, seen = 0;

	for (k = 0; k < l->cap && seen < sample; k++) {
		uint8_t *s = slot_in(l, l->slots, l->hand);

		if (++l->hand >= l->cap)
			l->hand = 0;
		if (is_empty(s))
			continue;
		seen++;
		if (best == NULL || worse(s, best) > 0)
			best = s;
	}
	return best;
}
