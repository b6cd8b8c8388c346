/* SPDX-License-Identifier: ISC */
/*
 * segment.c - naming, validating and mapping segments; the file kind.
 *
 * A segment's bytes (layout.h) live in one of two places: a regular file,
 * by default in /dev/shm, mapped MAP_SHARED (this file), or System V
 * shared memory named by a small file (sysv.c), which no process can
 * resize.  What is at a name, whose it is and what to do about it is
 * attach.c's; whether to trust who made it, trust.c's.
 *
 * A file segment is created under a temporary name, filled in, and only
 * then linked under its public name, so an attacher sees either no
 * segment or a complete one.  Its memory is reserved with fallocate at
 * creation: a sparse tmpfs file would let a worker die of SIGBUS on first
 * touch of a page when /dev/shm is full.  Any process that may write it
 * may also truncate it, which kills every process that maps it: that is
 * why floodgated keeps its table in System V memory.
 *
 * Attaching trusts nothing in the segment: the header is read once (pread,
 * or a copy out of the memory), checked (magic, version, every size and
 * offset, checksum), and the geometry the process then uses is its own
 * copy, never re-read from the shared mapping where another process could
 * change it.  The owner keeps the identity it validated, and writes it
 * back if someone changed it (fg__seg_repair), since new attachers check
 * it.
 */
#include "shm/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm/hash.h"

#define PAGE           4096u
#define ALIGN_UP(x, a) (((x) + (a)-1) / (a) * (a))
#define RULES_BYTES    ((uint64_t)FG_MAX_RULES * FG_RULE_SIZE)
#define OVR_OFF        ALIGN_UP((uint64_t)FG_HDR_SIZE + RULES_BYTES, PAGE)
#define DIRTY_OFF      (OVR_OFF + FG_OVR_BYTES)
/* Beyond this a segment is a mistake, not a configuration (1 TiB). */
#define SEG_SIZE_MAX (UINT64_C(1) << 40)

static int name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > FG_SEG_NAME_MAX || name[0] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		      ch == '.'))
			return 0;
	}
	return 1;
}

int fg__seg_path(const char *segment, char *out, size_t outlen)
{
	int n;

	if (segment == NULL) {
		segment = secure_getenv("FLOODGATE_SEGMENT");
		if (segment == NULL || segment[0] == '\0')
			segment = FG_DEFAULT_SEGMENT;
	}
	if (segment[0] == '/') {
		const char *base = strrchr(segment, '/') + 1;

		/* room for the ".tmp-" suffix of creation within NAME_MAX */
		if (strlen(segment) > FG_SEG_PATH_MAX || base[0] == '\0' ||
		    strlen(base) > FG_SEG_BASE_MAX)
			return FG_ENAME;
		n = snprintf(out, outlen, "%s", segment);
	} else {
		if (!name_ok(segment))
			return FG_ENAME;
		n = snprintf(out, outlen, "%s%s", FG_SHM_DIR, segment);
	}
	return n < 0 || (size_t)n >= outlen ? FG_ENAME : 0;
}

/* Bytes of the table's region for @nb buckets and @nr records: the
 * serial line, the stripes, the buckets, the records (shm/cuckoo.c's
 * fg__cuckoo_size). */
static uint64_t table_bytes(uint64_t nb, uint64_t nr)
{
	return FG_TABLE_HEAD + FG_TABLE_STRIPES * 8u + nb * FG_BUCKET_SIZE +
	       nr * FG_RECORD_SIZE;
}

int fg__seg_geometry(uint64_t capacity, unsigned flags, struct fg_seg_geom *g)
{
	uint64_t size, dirty_bits;

	/* a key costs less than a bucket: this bounds every product below */
	if (capacity == 0 || capacity > SEG_SIZE_MAX / FG_BUCKET_SIZE)
		return FG_ETOOBIG;
	g->nbuckets = FG_BUCKETS_FOR(capacity);
	g->nrecords = FG_RECORDS_FOR(capacity);
	dirty_bits = (g->nbuckets + FG_DIRTY_BUCKETS - 1) / FG_DIRTY_BUCKETS;
	g->dirty_off = DIRTY_OFF;
	g->table_off =
	    DIRTY_OFF + ALIGN_UP((dirty_bits + 63) / 64 * 8, (uint64_t)PAGE);
	g->cold_off =
	    ALIGN_UP(g->table_off + table_bytes(g->nbuckets, g->nrecords),
	             (uint64_t)PAGE);
	size = g->cold_off + g->nbuckets * FG_BUCKET_SLOTS * FG_COLD_SIZE;
	if (flags & FG_SEG_HUGE)
		size = ALIGN_UP(size, FG_HUGE_PAGE);
	if (size > SEG_SIZE_MAX || size > (uint64_t)SIZE_MAX)
		return FG_ETOOBIG;
	g->size = size;
	return 0;
}

uint64_t fg__seg_checksum(const struct fg_seg_hdr *h)
{
	static const uint64_t seed[2] = {UINT64_C(0x666c6f6f64676174),
	                                 UINT64_C(0x65206c61796f7574)};

	return fg__hash64(seed, FG_LAYOUT_VERSION, h,
	                  offsetof(struct fg_seg_hdr, checksum));
}

/* The sizes every segment of this layout has. */
static int fixed_fields_ok(const struct fg_seg_hdr *h)
{
	const uint32_t got[] = {h->hdr_size,  h->slot_size, h->rule_size,
	                        h->max_rules, h->key_max,   h->bucket_size,
	                        h->cold_size, h->stripes,   h->dirty_buckets,
	                        h->reserved0};
	static const uint32_t want[] = {FG_HDR_SIZE,      FG_SLOT_SIZE,
	                                FG_RULE_SIZE,     FG_MAX_RULES,
	                                FG_TABLE_KEY_MAX, FG_BUCKET_SIZE,
	                                FG_COLD_SIZE,     FG_TABLE_STRIPES,
	                                FG_DIRTY_BUCKETS, 0};
	static const uint64_t zero[4];

	return memcmp(got, want, sizeof want) == 0 &&
	       memcmp(h->reserved, zero, sizeof zero) == 0 &&
	       h->rules_off == FG_HDR_SIZE && (h->flags & ~FG_SEG_HUGE) == 0;
}

/* Where everything is follows from the capacity and the flags alone. */
static int geometry_ok(const struct fg_seg_hdr *h, uint64_t file_size)
{
	struct fg_seg_geom g;

	if (fg__seg_geometry(h->capacity, h->flags, &g) != 0)
		return 0;
	{
		const uint64_t got[] = {h->nbuckets,  h->nslots,   h->dirty_off,
		                        h->table_off, h->cold_off, h->seg_size,
		                        file_size,    h->nrecords};
		const uint64_t want[] = {
		    g.nbuckets,  g.nbuckets * FG_BUCKET_SLOTS,
		    g.dirty_off, g.table_off,
		    g.cold_off,  g.size,
		    g.size,      g.nrecords};

		return memcmp(got, want, sizeof want) == 0;
	}
}

int fg__seg_validate(const struct fg_seg_hdr *h, uint64_t file_size)
{
	if (file_size < FG_HDR_SIZE ||
	    memcmp(h->magic, FG_SEG_MAGIC, sizeof h->magic) != 0)
		return FG_EBADSEG;
	if (h->layout_version != FG_LAYOUT_VERSION)
		return FG_EVERSION;
	if (!fixed_fields_ok(h) || !geometry_ok(h, file_size))
		return FG_EBADSEG;
	if (h->checksum != fg__seg_checksum(h))
		return FG_EBADSEG;
	return 0;
}

void fg__seg_use(struct fg_seg *seg, void *base, const struct fg_seg_hdr *hdr,
                 int fd, int shmid)
{
	uint8_t *b = base;

	seg->fd = fd;
	seg->shmid = shmid;
	seg->lock_fd = -1;
	seg->base = base;
	seg->size = (size_t)hdr->seg_size;
	seg->capacity = hdr->capacity;
	memcpy(seg->ident, hdr, sizeof seg->ident);
	seg->rules = (struct fg_rule_rec *)(void *)(b + hdr->rules_off);
	seg->ovr = (struct fg_ovr_region *)(void *)(b + OVR_OFF);
	/* validated: the table's region is the size fg__table_init wants */
	(void)fg__table_init(&seg->tbl, base, seg->rules, b + hdr->table_off,
	                     (struct fg_cold *)(void *)(b + hdr->cold_off),
	                     (uint64_t *)(void *)(b + hdr->dirty_off),
	                     hdr->nbuckets, hdr->nrecords, hdr->hash_seed);
}

/* Map the file segment open at @fd, validated first: 0, FG_EBADSEG,
 * FG_EVERSION or another FG_E* code. */
int fg__seg_map_file(int fd, struct fg_seg *seg)
{
	struct fg_seg_hdr hdr;
	struct stat st;
	ssize_t n;
	void *base;
	int r;

	if (fstat(fd, &st) != 0)
		return fg__errno_to_fg(errno);
	if (!S_ISREG(st.st_mode))
		return FG_EBADSEG;
	n = pread(fd, &hdr, sizeof hdr, 0);
	if (n < 0)
		return fg__errno_to_fg(errno);
	if ((size_t)n < sizeof hdr)
		return FG_EBADSEG;
	r = fg__seg_validate(&hdr, (uint64_t)st.st_size);
	if (r != 0)
		return r;
	base = mmap(NULL, (size_t)hdr.seg_size, PROT_READ | PROT_WRITE,
	            MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return fg__errno_to_fg(errno);
	/* Ask for huge pages: the kernel may grant them (layout.h). */
	if (hdr.flags & FG_SEG_HUGE)
		(void)madvise(base, (size_t)hdr.seg_size, MADV_HUGEPAGE);
	/* The identity is immutable; if it changed since pread, the file was
	 * replaced under us: refuse rather than trust either copy. */
	if (memcmp(base, &hdr, FG_IDENT_SIZE) != 0) {
		munmap(base, (size_t)hdr.seg_size);
		return FG_EBADSEG;
	}
	fg__seg_use(seg, base, &hdr, fd, -1);
	return 0;
}

void fg__seg_detach(struct fg_seg *seg)
{
	if (seg->base != NULL) {
		if (seg->shmid >= 0)
			shmdt(seg->base);
		else
			munmap(seg->base, seg->size);
	}
	if (seg->fd >= 0)
		close(seg->fd);
	seg->base = NULL;
	seg->fd = -1;
}

int fg__seg_hdr_init(struct fg_seg_hdr *h, const struct fg_seg_geom *g,
                     uint64_t capacity, unsigned segflags)
{
	struct timespec ts;

	/* The memory is new and zero-filled: every slot FREE, no rules. */
	memcpy(h->magic, FG_SEG_MAGIC, sizeof h->magic);
	h->layout_version = FG_LAYOUT_VERSION;
	h->hdr_size = FG_HDR_SIZE;
	h->seg_size = g->size;
	h->nslots = g->nbuckets * FG_BUCKET_SLOTS;
	h->capacity = capacity;
	h->slot_size = FG_SLOT_SIZE;
	h->rule_size = FG_RULE_SIZE;
	h->max_rules = FG_MAX_RULES;
	h->key_max = FG_TABLE_KEY_MAX;
	h->rules_off = FG_HDR_SIZE;
	h->table_off = g->table_off;
	h->nbuckets = g->nbuckets;
	h->nrecords = g->nrecords;
	h->dirty_off = g->dirty_off;
	h->cold_off = g->cold_off;
	h->bucket_size = FG_BUCKET_SIZE;
	h->cold_size = FG_COLD_SIZE;
	h->stripes = FG_TABLE_STRIPES;
	h->dirty_buckets = FG_DIRTY_BUCKETS;
	h->flags = segflags;
	if (getrandom(h->hash_seed, sizeof h->hash_seed, 0) !=
	    (ssize_t)sizeof h->hash_seed)
		return FG_ESYS;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->created_ns =
	    (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	h->checksum = fg__seg_checksum(h);
	return 0;
}

/*
 * Reserve the memory of a segment asked for 2 MiB pages: the kernel picks
 * the page size when a page is allocated, and fallocate() allocates
 * without the mapping that says "huge", so the pages are faulted in
 * through one instead (MADV_POPULATE_WRITE reports a full /dev/shm as an
 * error, where touching them would be SIGBUS).  0, EINVAL where the
 * kernel cannot (then fallocate()), or an errno.
 */
static int reserve_huge(int fd, uint64_t size)
{
	void *p;
	int r = 0;

	if (ftruncate(fd, (off_t)size) != 0)
		return errno;
	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return errno;
	(void)madvise(p, (size_t)size, MADV_HUGEPAGE);
	r = fg__seg_populate(p, (size_t)size);
	munmap(p, (size_t)size);
	if (r == EINVAL) /* an older kernel: reserve the small way */
		r = posix_fallocate(fd, 0, (off_t)size);
	return r;
}

int fg__seg_populate(void *p, size_t size)
{
#ifdef MADV_POPULATE_WRITE
	if (madvise(p, size, MADV_POPULATE_WRITE) != 0)
		return errno;
	return 0;
#else
	(void)p;
	(void)size;
	return EINVAL;
#endif
}

/* Give @fd mode @mode, and owner @uid and group @gid where they are not
 * 0 or -1 (left as they are). */
int fg__seg_fperms(int fd, mode_t mode, int64_t uid, int64_t gid)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return fg__errno_to_fg(errno);
	if ((st.st_mode & 07777) != mode && fchmod(fd, mode) != 0)
		return fg__errno_to_fg(errno);
	if (uid <= 0 || (int64_t)st.st_uid == uid)
		uid = -1;
	if (gid <= 0 || (int64_t)st.st_gid == gid)
		gid = -1;
	if ((uid >= 0 || gid >= 0) && fchown(fd, (uid_t)uid, (gid_t)gid) != 0)
		return fg__errno_to_fg(errno);
	return 0;
}

/* Reserve @size bytes of file @fd: a sparse tmpfs file would let a worker
 * die of SIGBUS on first touch of a page when /dev/shm is full. */
static int reserve(int fd, uint64_t size, unsigned segflags)
{
	int r = segflags & FG_SEG_HUGE ? reserve_huge(fd, size)
	                               : posix_fallocate(fd, 0, (off_t)size);

	if (r == EOPNOTSUPP || r == EINVAL)
		r = ftruncate(fd, (off_t)size) == 0 ? 0 : errno;
	return r == 0 ? 0 : fg__errno_to_fg(r);
}

int fg__seg_build_file(const char *tmp, const struct fg_seg_geom *g,
                       uint64_t capacity, unsigned segflags,
                       const struct fg_seg_perms *p, int *fdp)
{
	struct fg_seg_hdr *h;
	int fd, r;

	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	          p->mode);
	if (fd < 0)
		return fg__errno_to_fg(errno);
	r = fg__seg_fperms(fd, p->mode, p->uid, p->gid);
	if (r == 0)
		r = reserve(fd, g->size, segflags);
	if (r != 0)
		goto fail;
	h = mmap(NULL, FG_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		r = fg__errno_to_fg(errno);
		goto fail;
	}
	r = fg__seg_hdr_init(h, g, capacity, segflags);
	munmap(h, FG_HDR_SIZE);
	if (r != 0)
		goto fail;
	*fdp = fd;
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return r;
}

/*
 * The lock is taken on a descriptor opened for the occasion: flock()
 * belongs to an open file description, which a handle inherited through
 * fork() shares with its parent, so locking the handle's own descriptor
 * would not exclude the parent.  /proc/self/fd reopens the very file we
 * opened (the segment, or the name of its System V memory), even if the
 * name has since been replaced.
 */
int fg__seg_lock(struct fg_seg *seg)
{
	char self[64];
	int fd;

	snprintf(self, sizeof self, "/proc/self/fd/%d", seg->fd);
	fd = open(self, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = open(seg->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return fg__errno_to_fg(errno);
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			close(fd);
			return FG_ESYS;
		}
	}
	seg->lock_fd = fd;
	return 0;
}

void fg__seg_unlock(struct fg_seg *seg)
{
	if (seg->lock_fd >= 0)
		close(seg->lock_fd); /* releases the lock */
	seg->lock_fd = -1;
}

/*
 * The hold is an open file description lock (fcntl F_OFD_SETLK), a write
 * lock on the whole file: a second daemon on the same segment, under
 * another configuration (its control socket, its state file elsewhere),
 * finds it and refuses, rather than harvest and gossip the same table
 * under the same node.  fcntl() locks and the owner lock's flock() never
 * conflict; a write lock needs the file open for writing, which only its
 * owner and root may, so no worker can take it first; and it goes with
 * the holder's last descriptor, however that process ends.
 */
int fg__seg_hold(const struct fg_seg *seg)
{
	struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char self[64];
	int fd, e;

	snprintf(self, sizeof self, "/proc/self/fd/%d", seg->fd);
	fd = open(self, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fcntl(fd, F_OFD_SETLK, &l) == 0)
		return fd;
	e = errno == EACCES ? EAGAIN : errno;
	close(fd);
	errno = e;
	return -1;
}

int fg__seg_held(const char *path)
{
	struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	struct stat ls, fs;
	int fd, r = -1;

	/* opened only if a regular file: opening a device may do things */
	if (lstat(path, &ls) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISREG(ls.st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? 0 : -1;
	if (fstat(fd, &fs) != 0)
		goto out;
	if (fs.st_ino != ls.st_ino || fs.st_dev != ls.st_dev)
		r = 0; /* replaced since: not the file looked at */
	else if (fcntl(fd, F_OFD_GETLK, &l) == 0)
		r = l.l_type != F_UNLCK;
out:
	close(fd);
	return r;
}

int fg__seg_repair(struct fg_seg *seg)
{
	int r;

	if (memcmp(seg->base, seg->ident, FG_IDENT_SIZE) == 0)
		return 0;
	r = fg__seg_lock(seg);
	if (r != 0)
		return r;
	/* Identity fields are read once, at attach: rewriting them under a
	 * running worker changes nothing it uses. */
	memcpy(seg->base, seg->ident, FG_IDENT_SIZE);
	fg__seg_unlock(seg);
	return 1;
}
