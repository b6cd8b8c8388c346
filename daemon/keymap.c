/*
 * keymap.c - see keymap.h.
 */
#include "daemon/keymap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/hash.h"

static const uint64_t map_seed[2] = {UINT64_C(0x6b65796d61702d31),
                                     UINT64_C(0x666c6f6f64676174)};

struct map_file_hdr {
	uint8_t magic[8];
	uint64_t ident[3];
	uint64_t cap;
	uint64_t entry_size;
	uint64_t pad[2];
};

static const uint8_t map_magic[8] = "FGDMAP02";

static uint64_t entry_hash(uint64_t origin, const char *rule, size_t rule_len,
                           const void *key, size_t key_len)
{
	uint64_t h = fg__hash64(map_seed, origin, rule, rule_len);

	h = fg__hash64(map_seed, h, key, key_len);
	return h ? h : 1; /* 0 marks an empty slot */
}

/* A new, empty table of @cap slots: in memory, or in "path.new". */
static int table_alloc(struct fgd_map *m, size_t cap)
{
	struct map_file_hdr *h;
	char tmp[512];
	size_t bytes;
	void *p;
	int fd;

	if (m->path == NULL) {
		m->e = calloc(cap, sizeof *m->e);
		if (m->e == NULL)
			return -1;
		m->cap = cap;
		m->n = 0;
		return 0;
	}
	bytes = sizeof *h + cap * sizeof *m->e;
	snprintf(tmp, sizeof tmp, "%s.new", m->path);
	(void)unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)bytes) != 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		unlink(tmp);
		return -1;
	}
	h = p;
	memcpy(h->magic, map_magic, sizeof h->magic);
	memcpy(h->ident, m->ident, sizeof h->ident);
	h->cap = cap;
	h->entry_size = sizeof *m->e;
	m->e = (struct fgd_entry *)(void *)(h + 1);
	m->cap = cap;
	m->bytes = bytes;
	m->n = 0;
	return 0;
}

static void table_release(struct fgd_map *m)
{
	if (m->e == NULL)
		return;
	if (m->path)
		munmap((struct map_file_hdr *)(void *)m->e - 1, m->bytes);
	else
		free(m->e);
	m->e = NULL;
}

/* Make the table just built the one in force. */
static int table_commit(struct fgd_map *m)
{
	char tmp[512];

	if (m->path == NULL)
		return 0;
	snprintf(tmp, sizeof tmp, "%s.new", m->path);
	return rename(tmp, m->path);
}

int fgd_map_init(struct fgd_map *m, size_t max)
{
	memset(m, 0, sizeof *m);
	m->max = max;
	return table_alloc(m, 64);
}

/*
 * Nothing read back from a file is trusted beyond what was checked: every
 * used entry's lengths must be in bounds (they index fixed arrays), and
 * the load must leave empty slots (every probe ends at one).
 */
static int entries_valid(struct fgd_map *m)
{
	size_t i;

	m->n = 0;
	for (i = 0; i < m->cap; i++) {
		const struct fgd_entry *e = &m->e[i];

		if (e->hash == 0)
			continue;
		if (e->rule_len == 0 || e->rule_len > FG_RULE_NAME_MAX ||
		    e->key_len == 0 || e->key_len > FG_KEY_MAX)
			return 0;
		m->n++;
	}
	return m->n * 4 <= m->cap * 3;
}

int fgd_map_open(struct fgd_map *m, size_t max, const char *path,
                 const uint64_t ident[3])
{
	const struct map_file_hdr *h;
	struct stat st;
	void *p;
	int fd;

	memset(m, 0, sizeof *m);
	m->max = max;
	m->path = strdup(path);
	if (m->path == NULL)
		return -1;
	memcpy(m->ident, ident, sizeof m->ident);
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size > sizeof *h) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
		         MAP_SHARED, fd, 0);
		h = p;
		if (p != MAP_FAILED &&
		    memcmp(h->magic, map_magic, sizeof h->magic) == 0 &&
		    memcmp(h->ident, ident, sizeof h->ident) == 0 &&
		    h->entry_size == sizeof *m->e && h->cap >= 64 &&
		    (h->cap & (h->cap - 1)) == 0 &&
		    h->cap <= ((size_t)st.st_size - sizeof *h) / sizeof *m->e &&
		    (size_t)st.st_size == sizeof *h + h->cap * sizeof *m->e) {
			close(fd);
			m->e = (struct fgd_entry *)(void *)(h + 1);
			m->cap = h->cap;
			m->bytes = (size_t)st.st_size;
			if (entries_valid(m))
				return 0;
			/* damaged: trust none of it */
			munmap(p, (size_t)st.st_size);
			m->e = NULL;
			m->n = 0;
			goto fresh;
		}
		if (p != MAP_FAILED)
			munmap(p, (size_t)st.st_size);
	}
	if (fd >= 0)
		close(fd);
fresh:
	/* absent, or another segment's, or damaged: start empty */
	if (table_alloc(m, 64) != 0 || table_commit(m) != 0) {
		fgd_map_fini(m);
		return -1;
	}
	return 0;
}

void fgd_map_fini(struct fgd_map *m)
{
	table_release(m);
	free(m->path);
	memset(m, 0, sizeof *m);
}

/* The slot of the entry, or the empty slot where it would go; NULL only
 * if a table read from a damaged file has no empty slot left. */
static struct fgd_entry *slot_for(struct fgd_map *m, uint64_t h,
                                  uint64_t origin, const char *rule,
                                  size_t rule_len, const void *key,
                                  size_t key_len)
{
	size_t i = h & (m->cap - 1), n;

	for (n = 0; n < m->cap; n++) {
		struct fgd_entry *e = &m->e[i];

		if (e->hash == 0)
			return e;
		if (e->hash == h && e->origin == origin &&
		    e->rule_len == rule_len && e->key_len == key_len &&
		    memcmp(e->rule, rule, rule_len) == 0 &&
		    memcmp(e->key, key, key_len) == 0)
			return e;
		i = (i + 1) & (m->cap - 1);
	}
	return NULL;
}

/* Move every entry accepted by @keep into a table of @cap slots. */
/* Whether fgd_map_expire() drops @e. */
static int expired(const struct fgd_entry *e, uint64_t before, uint64_t stale)
{
	if (e->count <= e->floor)
		return e->touched < before;
	return stale != 0 && e->touched < stale;
}

static int rebuild(struct fgd_map *m, size_t cap, uint64_t before,
                   uint64_t stale)
{
	struct fgd_map old = *m;
	size_t i;

	if (table_alloc(m, cap) != 0) {
		*m = old;
		return -1;
	}
	for (i = 0; i < old.cap; i++) {
		struct fgd_entry *e = &old.e[i], *d;

		if (e->hash == 0 || expired(e, before, stale))
			continue;
		d = slot_for(m, e->hash, e->origin, e->rule, e->rule_len,
		             e->key, e->key_len);
		if (d == NULL)
			continue; /* cannot happen: the new table has room */
		*d = *e;
		m->n++;
	}
	if (table_commit(m) != 0) {
		table_release(m);
		*m = old;
		return -1;
	}
	table_release(&old);
	return 0;
}

struct fgd_entry *fgd_map_get(struct fgd_map *m, uint64_t origin,
                              const char *rule, size_t rule_len,
                              const void *key, size_t key_len, int create)
{
	uint64_t h;
	struct fgd_entry *e;

	if (rule_len == 0 || rule_len > FG_RULE_NAME_MAX || key_len == 0 ||
	    key_len > FG_KEY_MAX)
		return NULL;
	h = entry_hash(origin, rule, rule_len, key, key_len);
	e = slot_for(m, h, origin, rule, rule_len, key, key_len);
	if (e == NULL)
		return NULL;
	if (e->hash != 0 || !create)
		return e->hash != 0 ? e : NULL;
	if (m->n >= m->max)
		return NULL;
	if ((m->n + 1) * 4 > m->cap * 3) { /* keep the load under 3/4 */
		if (rebuild(m, m->cap * 2, 0, 0) != 0)
			return NULL;
		e = slot_for(m, h, origin, rule, rule_len, key, key_len);
	}
	memset(e, 0, sizeof *e);
	e->hash = h;
	e->origin = origin;
	e->rule_len = (uint8_t)rule_len;
	e->key_len = (uint8_t)key_len;
	memcpy(e->rule, rule, rule_len);
	memcpy(e->key, key, key_len);
	m->n++;
	return e;
}

size_t fgd_map_expire(struct fgd_map *m, uint64_t before, uint64_t stale)
{
	size_t n = m->n, cap = m->cap, drop = 0, i;

	for (i = 0; i < m->cap; i++)
		drop += m->e[i].hash != 0 && expired(&m->e[i], before, stale);
	if (drop == 0)
		return 0; /* nothing to drop: no rebuild, no file rewritten */
	/* shrink when mostly empty, never below the initial size */
	while (cap > 64 && (n - drop) * 8 < cap)
		cap /= 2;
	if (rebuild(m, cap, before, stale) != 0)
		return 0;
	return n - m->n;
}
