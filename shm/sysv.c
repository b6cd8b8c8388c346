/* SPDX-License-Identifier: ISC */
/*
 * sysv.c - segments whose memory is System V shared memory.
 *
 * Why.  A file segment can be resized by any process that may write it,
 * and every worker may: truncating /dev/shm/floodgate to 64 KiB killed
 * the daemon and every attached worker with SIGBUS at their next touch of
 * a page past the new end.  Of what the kernel offers, a tmpfs file
 * cannot be sealed against resizing (it is born with F_SEAL_SEAL); a
 * memfd can, but lives only as long as a process holds it, so a daemon
 * restarted, or down while a worker starts, would leave workers without
 * their segment or on an orphaned one; System V shared memory has a size
 * fixed when it is made, which no call changes, and lives, like a file in
 * /dev/shm, until it is removed or the host restarts.  Only its creator,
 * its owner or root may remove it (IPC_RMID), and removing it leaves every
 * attachment mapped until it detaches.  So no process but root can make
 * the memory of another process's mapping go away.
 *
 * Naming.  Workers find the memory by the id in the segment's name, a
 * small file, the name file (sysv.h), created and published like a file
 * segment: under a temporary name, then linked into place.  It holds the
 * id, the size and the checksum of the memory's header, so a name left
 * over from memory since removed (the id may be reused) is told apart.
 * The owner lock (segment.c) is a flock() on it.  The memory also carries
 * a label, a key hashed from the segment's path, only so that memory
 * whose name file was removed with rm is found and removed when that name
 * is made again (reclaim()): nothing is ever found by it, and where
 * someone took the key first the memory goes without (IPC_PRIVATE).
 *
 * Trust.  Besides the name file's own (trust.c: its mode gives nothing to
 * others), the memory is used only when the kernel's record of who made it
 * (shm_perm.cuid) is a user trust.c trusts, its mode gives nothing to
 * others, and the name file belongs to that creator or to the memory's
 * owner: a name file made by anyone else cannot lend a name to somebody's
 * memory.  Memory marked for removal is gone (FG_ENOSEG).
 *
 * Permissions.  The memory has the segment's mode, owner and group (the
 * kernel checks them at shmat()); the name file the same owner and group,
 * and is written by its owner only (FG_SYSV_NAME_MODE).
 *
 * Removing the name file alone (rm) leaves the memory until that name is
 * made again, or the host restarts: fg_unlink() removes both; ipcs -m
 * lists what is left, and ipcrm -m ID removes it.
 */
#include "shm/sysv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm/hash.h"

uint64_t fg__sysv_name_sum(const struct fg_sysv_name *n)
{
	static const uint64_t seed[2] = {UINT64_C(0x666c6f6f64676174),
	                                 UINT64_C(0x6520737973762e6e)};

	return fg__hash64(seed, FG_SYSV_VERSION, n,
	                  offsetof(struct fg_sysv_name, check));
}

int fg__sysv_name_check(const void *buf, size_t len, struct fg_sysv_name *out)
{
	struct fg_sysv_name n;

	if (len != sizeof n)
		return FG_EBADSEG;
	memcpy(&n, buf, sizeof n);
	if (memcmp(n.magic, FG_SYSV_MAGIC, sizeof n.magic) != 0)
		return FG_EBADSEG;
	if (n.version != FG_SYSV_VERSION ||
	    n.layout_version != FG_LAYOUT_VERSION)
		return FG_EVERSION;
	if (n.shmid < 0 || n.flags != 0 || n.zero[0] != 0 || n.zero[1] != 0 ||
	    n.seg_size < FG_HDR_SIZE || n.check != fg__sysv_name_sum(&n))
		return FG_EBADSEG;
	*out = n;
	return 0;
}

void fg__sysv_name_make(struct fg_sysv_name *n, int shmid,
                        const struct fg_seg_hdr *h)
{
	memset(n, 0, sizeof *n);
	memcpy(n->magic, FG_SYSV_MAGIC, sizeof n->magic);
	n->version = FG_SYSV_VERSION;
	n->layout_version = FG_LAYOUT_VERSION;
	n->shmid = shmid;
	n->seg_size = h->seg_size;
	n->ident = h->checksum;
	n->check = fg__sysv_name_sum(n);
}

/* What /proc/sysvipc/shm says of @shmid, which anyone may read: the
 * permissions IPC_STAT shows only to who may read the memory. */
static int proc_stat(int shmid, struct shmid_ds *ds)
{
	unsigned long long size;
	unsigned mode, uid, gid, cuid, cgid;
	char line[512];
	int key, id, found = 0;
	FILE *f = fopen("/proc/sysvipc/shm", "re");

	if (f == NULL)
		return -1;
	while (!found && fgets(line, sizeof line, f) != NULL)
		found =
		    sscanf(line, "%d %d %o %llu %*d %*d %*u %u %u %u %u", &key,
		           &id, &mode, &size, &uid, &gid, &cuid, &cgid) == 8 &&
		    id == shmid;
	fclose(f);
	if (!found)
		return -1;
	ds->shm_perm.mode = (unsigned short)mode;
	ds->shm_perm.uid = uid;
	ds->shm_perm.gid = gid;
	ds->shm_perm.cuid = cuid;
	ds->shm_perm.cgid = cgid;
	ds->shm_segsz = (size_t)size;
	return 0;
}

int fg__sysv_stat(int fd, struct fg_sysv_name *name, struct shmid_ds *ds)
{
	uint8_t buf[sizeof *name + 1];
	ssize_t n;
	int r;

	memset(ds, 0, sizeof *ds);
	n = pread(fd, buf, sizeof buf, 0);
	if (n < 0)
		return fg__errno_to_fg(errno);
	r = fg__sysv_name_check(buf, (size_t)n, name);
	if (r != 0)
		return r;
	if (shmctl(name->shmid, IPC_STAT, ds) != 0) {
		if (errno == EINVAL || errno == EIDRM)
			return FG_ENOSEG;
		r = fg__errno_to_fg(errno);
		if (r == FG_EACCES && proc_stat(name->shmid, ds) != 0)
			ds->shm_segsz = 0;
		return r;
	}
	return ds->shm_perm.mode & SHM_DEST ? FG_ENOSEG : 0;
}

enum fg_distrust fg__sysv_judge(const struct fg_trust *t,
                                const struct stat *name_st,
                                const struct shmid_ds *ds)
{
	enum fg_distrust v;

	v = fg__trust_check(t, ds->shm_perm.cuid, ds->shm_perm.mode & 0777);
	if (v != FG_TRUSTED)
		return v;
	if (name_st->st_uid != ds->shm_perm.cuid &&
	    name_st->st_uid != ds->shm_perm.uid)
		return FG_DISTRUST_NAME;
	return name_st->st_mode & 0007 ? FG_DISTRUST_MODE : FG_TRUSTED;
}

int fg__sysv_attach(int fd, const struct fg_trust *t, int owner,
                    struct fg_seg *seg)
{
	enum fg_distrust v;
	struct fg_sysv_name name;
	struct fg_seg_hdr hdr;
	struct shmid_ds ds;
	struct stat st;
	void *base;
	int r;

	r = fg__sysv_stat(fd, &name, &ds);
	if (r != 0)
		return r;
	if (fstat(fd, &st) != 0)
		return fg__errno_to_fg(errno);
	v = fg__sysv_judge(t, &st, &ds);
	if (v != FG_TRUSTED && !(owner && v == FG_DISTRUST_MODE))
		return FG_EACCES;
	if (ds.shm_segsz != name.seg_size)
		return FG_EBADSEG;
	base = shmat(name.shmid, NULL, 0);
	if (base == (void *)-1)
		return errno == EINVAL || errno == EIDRM
		           ? FG_ENOSEG
		           : fg__errno_to_fg(errno);
	/* One copy, checked, then used: never re-read from the memory. */
	memcpy(&hdr, base, sizeof hdr);
	r = fg__seg_validate(&hdr, name.seg_size);
	if (r == 0 && hdr.checksum != name.ident)
		r = FG_EBADSEG; /* another segment's memory, under a reused id
		                 */
	if (r != 0) {
		shmdt(base);
		return r;
	}
	if (hdr.flags & FG_SEG_HUGE)
		(void)madvise(base, (size_t)hdr.seg_size, MADV_HUGEPAGE);
	fg__seg_use(seg, base, &hdr, fd, name.shmid);
	return 0;
}

/* Give memory @shmid mode @mode (permission bits), owner @uid and group
 * @gid where they are not 0 or -1; nothing when it has them already. */
static int mem_perms(int shmid, mode_t mode, int64_t uid, int64_t gid)
{
	struct shmid_ds ds;

	if (shmctl(shmid, IPC_STAT, &ds) != 0)
		return fg__errno_to_fg(errno);
	if ((ds.shm_perm.mode & 0777) == mode &&
	    (uid <= 0 || (int64_t)ds.shm_perm.uid == uid) &&
	    (gid <= 0 || (int64_t)ds.shm_perm.gid == gid))
		return 0;
	ds.shm_perm.mode = (unsigned short)mode;
	if (uid > 0)
		ds.shm_perm.uid = (uid_t)uid;
	if (gid > 0)
		ds.shm_perm.gid = (gid_t)gid;
	return shmctl(shmid, IPC_SET, &ds) == 0 ? 0 : fg__errno_to_fg(errno);
}

/* The label of the memory of the segment at @path: its System V key,
 * never IPC_PRIVATE. */
static key_t label(const char *path)
{
	static const uint64_t seed[2] = {UINT64_C(0x666c6f6f64676174),
	                                 UINT64_C(0x65206b65792e2e2e)};
	uint32_t h = (uint32_t)fg__hash64(seed, 0, path, strlen(path));

	return (key_t)(h | 1u);
}

/* Remove memory left labelled @key by an earlier segment of this name
 * whose name file was removed (rm): 1 if it did.  Only memory we made,
 * that nobody uses, and that starts like a segment; anything else keeps
 * its label and the new memory goes without one. */
static int reclaim(key_t key)
{
	struct shmid_ds ds;
	void *p;
	int shmid = shmget(key, 0, 0), ours;

	if (shmid < 0 || shmctl(shmid, IPC_STAT, &ds) != 0 ||
	    ds.shm_perm.cuid != geteuid() || ds.shm_nattch != 0 ||
	    ds.shm_segsz < FG_HDR_SIZE)
		return 0;
	p = shmat(shmid, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		return 0;
	ours = memcmp(p, FG_SEG_MAGIC, 8) == 0;
	shmdt(p);
	return ours && shmctl(shmid, IPC_RMID, NULL) == 0;
}

/* New memory of @size bytes for the segment at @path, labelled with its
 * key where the label is free: ipcs -m shows which is whose, and the
 * memory of a name removed with rm is reclaimed when the name is made
 * again. */
static int mem_get(const char *path, uint64_t size, mode_t mode)
{
	key_t key = label(path);
	int shmid = shmget(key, (size_t)size, IPC_CREAT | IPC_EXCL | mode);

	if (shmid < 0 && errno == EEXIST && reclaim(key))
		shmid = shmget(key, (size_t)size, IPC_CREAT | IPC_EXCL | mode);
	if (shmid < 0 && errno == EEXIST)
		shmid = shmget(IPC_PRIVATE, (size_t)size, IPC_CREAT | mode);
	return shmid;
}

/* Fault in every page of new memory, so that a host short of memory
 * fails here, not at a worker's first touch of a page. */
static int mem_reserve(void *base, uint64_t size, unsigned segflags)
{
	int r;

	if (segflags & FG_SEG_HUGE)
		(void)madvise(base, (size_t)size, MADV_HUGEPAGE);
	r = fg__seg_populate(base, (size_t)size);
	if (r == EINVAL) { /* an older kernel: touch every page */
		size_t off;

		for (off = 0; off < size; off += 4096)
			((volatile uint8_t *)base)[off] = 0;
		r = 0;
	}
	return r == 0 ? 0 : fg__errno_to_fg(r);
}

/* New memory for the segment at @path, attached at *@base, reserved. */
static int mem_make(const char *path, uint64_t size, unsigned segflags,
                    const struct fg_seg_perms *p, int *shmidp, void **base)
{
	int shmid, r;

	shmid = mem_get(path, size, p->mode & 0777);
	if (shmid < 0)
		return errno == EINVAL ? FG_ETOOBIG : fg__errno_to_fg(errno);
	r = mem_perms(shmid, p->mode & 0777, p->uid, p->gid);
	if (r == 0) {
		*base = shmat(shmid, NULL, 0);
		if (*base == (void *)-1)
			r = fg__errno_to_fg(errno);
		else if ((r = mem_reserve(*base, size, segflags)) != 0)
			shmdt(*base);
	}
	if (r != 0) {
		shmctl(shmid, IPC_RMID, NULL);
		return r;
	}
	*shmidp = shmid;
	return 0;
}

/* The new name file @tmp of memory @shmid with header @h: its fd. */
static int name_write(const char *tmp, int shmid, const struct fg_seg_hdr *h,
                      const struct fg_seg_perms *p, int *fdp)
{
	mode_t mode = FG_SYSV_NAME_MODE(p->mode);
	struct fg_sysv_name n;
	int fd, r;

	fg__sysv_name_make(&n, shmid, h);
	fd =
	    open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return fg__errno_to_fg(errno);
	r = fg__seg_fperms(fd, mode, p->uid, p->gid);
	if (r == 0 && pwrite(fd, &n, sizeof n, 0) != (ssize_t)sizeof n)
		r = errno ? fg__errno_to_fg(errno) : FG_ENOMEM;
	if (r != 0) {
		close(fd);
		unlink(tmp);
		return r;
	}
	*fdp = fd;
	return 0;
}

int fg__sysv_build(const char *path, const char *tmp,
                   const struct fg_seg_geom *g, uint64_t capacity,
                   unsigned segflags, const struct fg_seg_perms *p,
                   struct fg_seg *seg)
{
	struct fg_seg_hdr hdr;
	void *base = NULL;
	int shmid = -1, fd = -1, r;

	r = mem_make(path, g->size, segflags, p, &shmid, &base);
	if (r != 0)
		return r;
	r = fg__seg_hdr_init(base, g, capacity, segflags);
	if (r == 0) {
		memcpy(&hdr, base, sizeof hdr);
		r = name_write(tmp, shmid, &hdr, p, &fd);
	}
	if (r != 0) {
		shmdt(base);
		shmctl(shmid, IPC_RMID, NULL);
		return r;
	}
	fg__seg_use(seg, base, &hdr, fd, shmid);
	return 0;
}

void fg__sysv_discard(struct fg_seg *seg)
{
	int shmid = seg->shmid;

	fg__seg_detach(seg);
	if (shmid >= 0)
		shmctl(shmid, IPC_RMID, NULL);
}

int fg__sysv_remove(int fd)
{
	struct fg_sysv_name name;
	struct shmid_ds ds;
	struct stat st;
	int r = fg__sysv_stat(fd, &name, &ds);

	if (r == FG_ENOSEG)
		return 0;
	if (r != 0)
		return r;
	if (fstat(fd, &st) != 0)
		return fg__errno_to_fg(errno);
	/* Somebody else's memory under a name not made by them: leave it. */
	if (st.st_uid != ds.shm_perm.cuid && st.st_uid != ds.shm_perm.uid)
		return FG_EACCES;
	if (shmctl(name.shmid, IPC_RMID, NULL) != 0 && errno != EINVAL &&
	    errno != EIDRM)
		return fg__errno_to_fg(errno);
	return 0;
}

int fg__sysv_perms(const struct fg_seg *seg, const struct fg_seg_perms *p)
{
	int r = mem_perms(seg->shmid, p->mode & 0777, p->uid, p->gid);

	if (r != 0)
		return r;
	return fg__seg_fperms(seg->fd, FG_SYSV_NAME_MODE(p->mode), p->uid,
	                      p->gid);
}
