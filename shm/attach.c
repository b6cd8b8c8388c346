/* SPDX-License-Identifier: ISC */
/*
 * attach.c - what is at a segment's name, whose it is, and what to do
 * about it: attaching as a worker, creating or re-attaching as the owner,
 * removing.
 *
 * Two kinds of segment answer to a name (segment.c, sysv.c): a file
 * whose bytes are the segment, or a name file naming System V memory.
 * The first bytes at the name tell which; either way what is there is
 * opened without following a symbolic link, only if it is a regular file,
 * and used only if trust.c trusts it: made by root, by us, by the user an
 * owner was asked to give it to, or by the owner of a directory nobody
 * else may add names to; never world-accessible.  A segment anyone else
 * made is refused, never adopted and never changed: FG_EACCES, which
 * fg_diagnose() explains.
 *
 * The owner (fg_create) also applies the mode, owner and group it asks
 * for to a segment it finds, so that a segment whose mode was changed
 * since is set back by the next start of its daemon; or fails with
 * FG_EACCES when it may not.  A segment is created under a temporary name
 * and linked into place only once complete, so an attacher sees either no
 * segment or a whole one; two owners racing to create one end up on the
 * same one (the loser of link() attaches to the winner's).
 */
#include "shm/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/sysv.h"

enum kind {
	KIND_NONE = FG_FOUND_OTHER,
	KIND_FILE = FG_FOUND_FILE,
	KIND_SYSV = FG_FOUND_SYSV
};

/* What is at a name: opened, and the directory it is in described. */
struct entry {
	int fd;
	int writable; /* fd is open for writing */
	enum kind kind;
	struct stat st;
	struct fg_trust t;
};

/* Open what is at @path for reading and writing, or for reading only (all
 * a System V name needs), and tell its kind by its magic. */
static int entry_open(const char *path, int64_t also, struct entry *e)
{
	char magic[8];
	int r;

	e->writable = 1;
	r = fg__trust_open(path, O_RDWR, also, &e->t, &e->fd);
	if (r == FG_EACCES) {
		e->writable = 0;
		r = fg__trust_open(path, O_RDONLY, also, &e->t, &e->fd);
	}
	if (r != 0)
		return r;
	if (fstat(e->fd, &e->st) != 0) {
		r = fg__errno_to_fg(errno);
		close(e->fd);
		return r;
	}
	e->kind = KIND_NONE;
	if (pread(e->fd, magic, sizeof magic, 0) == (ssize_t)sizeof magic) {
		if (memcmp(magic, FG_SEG_MAGIC, sizeof magic) == 0)
			e->kind = KIND_FILE;
		else if (memcmp(magic, FG_SYSV_MAGIC, sizeof magic) == 0)
			e->kind = KIND_SYSV;
	}
	return 0;
}

/* Attach to the segment open in @e; @e->fd belongs to @seg on success.
 * The @owner also takes a segment whose mode gives others access, which
 * it then closes (perms_apply()); the memory of a System V segment is
 * judged with it (sysv.c). */
static int entry_attach(struct entry *e, const char *path, int owner,
                        struct fg_seg *seg)
{
	mode_t mode = owner ? 0 : e->st.st_mode;
	int r;

	switch (e->kind) {
	case KIND_FILE:
		if (fg__trust_check(&e->t, e->st.st_uid, mode) != FG_TRUSTED ||
		    !e->writable)
			return FG_EACCES;
		r = fg__seg_map_file(e->fd, seg);
		break;
	case KIND_SYSV:
		if (fg__trust_check(&e->t, 0, mode) != FG_TRUSTED)
			return FG_EACCES;
		r = fg__sysv_attach(e->fd, &e->t, owner, seg);
		break;
	default:
		return FG_EBADSEG;
	}
	if (r == 0)
		snprintf(seg->path, sizeof seg->path, "%s", path);
	return r;
}

int fg__seg_attach(const char *path, struct fg_seg *seg)
{
	struct entry e;
	int r;

	r = entry_open(path, -1, &e);
	if (r != 0)
		return r;
	r = entry_attach(&e, path, 0, seg);
	if (r != 0)
		close(e.fd);
	return r;
}

/* ------------------------------------------------------------ the owner */

/* What an owner asked for. */
struct want {
	uint64_t capacity;
	unsigned segflags; /* FG_SEG_* */
	enum kind kind;
	struct fg_seg_perms perms;
};

static int opts_check(const fg_segment_opts *o, struct want *w)
{
	w->capacity = o && o->capacity ? o->capacity : FG_DEFAULT_CAPACITY;
	w->perms.mode = o && o->mode ? (mode_t)o->mode : 0660;
	w->perms.uid = o ? o->uid : -1;
	w->perms.gid = o ? o->gid : -1;
	if (o && (o->flags & ~(FG_SEGMENT_HUGEPAGES | FG_SEGMENT_SYSV)))
		return FG_EINVAL;
	w->segflags = o && (o->flags & FG_SEGMENT_HUGEPAGES) ? FG_SEG_HUGE : 0;
	w->kind = o && (o->flags & FG_SEGMENT_SYSV) ? KIND_SYSV : KIND_FILE;
	/* never world-accessible; the owner must be able to read and write */
	if ((w->perms.mode & ~(mode_t)0770) != 0 ||
	    (w->perms.mode & 0600) != 0600)
		return FG_EINVAL;
	return 0;
}

/* Make the segment we found have the permissions we want. */
static int perms_apply(const struct fg_seg *seg, const struct want *w)
{
	if (seg->shmid >= 0)
		return fg__sysv_perms(seg, &w->perms);
	return fg__seg_fperms(seg->fd, w->perms.mode, w->perms.uid,
	                      w->perms.gid);
}

/* Build a new segment for @path under the temporary name @tmp. */
static int build(const char *path, const char *tmp, const struct want *w,
                 struct fg_seg *seg)
{
	struct fg_seg_geom g;
	int fd, r;

	r = fg__seg_geometry(w->capacity, w->segflags, &g);
	if (r != 0)
		return r;
	if (w->kind == KIND_SYSV)
		return fg__sysv_build(path, tmp, &g, w->capacity, w->segflags,
		                      &w->perms, seg);
	r = fg__seg_build_file(tmp, &g, w->capacity, w->segflags, &w->perms,
	                       &fd);
	if (r != 0)
		return r;
	r = fg__seg_map_file(fd, seg);
	if (r != 0) {
		close(fd);
		unlink(tmp);
	}
	return r;
}

static void discard(struct fg_seg *seg, const char *tmp)
{
	if (seg->shmid >= 0)
		fg__sysv_discard(seg);
	else
		fg__seg_detach(seg);
	unlink(tmp);
}

static int replaceable(const char *path)
{
	struct stat st;

	/* rename() replaces a symlink itself, never its target */
	return lstat(path, &st) != 0 || S_ISREG(st.st_mode) ||
	       S_ISLNK(st.st_mode);
}

/* The old segment's memory once its name is replaced. */
static void old_remove(int fd)
{
	if (fd >= 0) {
		(void)fg__sysv_remove(fd);
		close(fd);
	}
}

/*
 * Build a segment and publish it at @path: link() where nothing may be
 * replaced (it fails if someone else published first: 1, try again),
 * rename() where something must be.  @old_fd: a System V name being
 * replaced, whose memory is then removed.
 */
static int publish(const char *path, const struct want *w, int replace,
                   int old_fd, struct fg_seg *seg)
{
	char tmp[FG_SEG_PATH_MAX + 48];
	uint64_t nonce;
	int r;

	if (getrandom(&nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce)
		return FG_ESYS;
	snprintf(tmp, sizeof tmp, "%s.tmp-%016llx", path,
	         (unsigned long long)nonce);
	if (replace && !replaceable(path))
		return FG_EBADSEG; /* never a device, FIFO or directory */
	r = build(path, tmp, w, seg);
	if (r != 0)
		return r;
	if (replace ? rename(tmp, path) == 0 : link(tmp, path) == 0) {
		if (!replace)
			unlink(tmp);
		old_remove(old_fd);
		snprintf(seg->path, sizeof seg->path, "%s", path);
		return 0;
	}
	r = errno;
	discard(seg, tmp);
	return r == EEXIST && !replace ? 1 : fg__errno_to_fg(r);
}

/*
 * Attach to what is at @path as its owner: 0 (attached, and of the
 * capacity and kind @w asks for), or why not.  *@stale is 1 when what is
 * there is ours to rebuild without being asked (a name whose memory is
 * gone); *@old_fd, a System V name open for old_remove().
 */
static int owner_attach(const char *path, const struct want *w,
                        struct fg_seg *seg, int *stale, int *old_fd)
{
	struct entry e;
	int r;

	*stale = 0;
	*old_fd = -1;
	r = entry_open(path, w->perms.uid, &e);
	if (r != 0)
		return r;
	r = entry_attach(&e, path, 1, seg);
	if (r == FG_ENOSEG && !fg__trust_uid(&e.t, e.st.st_uid))
		r = FG_EACCES; /* somebody's name of memory long gone */
	if (r != 0) {
		*stale = r == FG_ENOSEG;
		if (e.kind == KIND_SYSV && r != FG_EACCES)
			*old_fd = e.fd; /* intact or not: its memory, if any */
		else
			close(e.fd);
		return r;
	}
	if (seg->capacity == w->capacity && e.kind == w->kind)
		return 0;
	if (e.kind == KIND_SYSV)
		*old_fd = fcntl(seg->fd, F_DUPFD_CLOEXEC, 0);
	fg__seg_detach(seg);
	return FG_EEXIST;
}

/* One attempt at fg__seg_create(): 0, 1 to try again, or an error. */
static int create_once(const char *path, const struct want *w, unsigned flags,
                       struct fg_seg *seg, int *built)
{
	int stale, old_fd, r, replace = (flags & FG_CREATE_REPLACE) != 0;

	r = owner_attach(path, w, seg, &stale, &old_fd);
	if (r == 0) {
		r = perms_apply(seg, w);
		if (r != 0)
			fg__seg_detach(seg);
		return r;
	}
	/* Never a segment someone else made (FG_EACCES) nor anything we
	 * were not asked to replace; a name whose memory is gone is
	 * replaced whether asked or not. */
	if (r != FG_ENOSEG &&
	    !(replace &&
	      (r == FG_EBADSEG || r == FG_EVERSION || r == FG_EEXIST))) {
		if (old_fd >= 0)
			close(old_fd);
		return r;
	}
	r = publish(path, w, replace || stale, old_fd, seg);
	if (r != 0 && old_fd >= 0)
		close(old_fd);
	*built = r == 0;
	return r;
}

int fg__seg_create(const char *path, const fg_segment_opts *opts,
                   unsigned flags, struct fg_seg *seg, int *built)
{
	struct want w;
	int r, tries, made = 0;

	r = opts_check(opts, &w);
	if (r != 0)
		return r;
	/* 1: lost a race to publish; the next round attaches to theirs */
	for (tries = 0, r = 1; r == 1; tries++) {
		if (tries == 8)
			return FG_ESYS;
		r = create_once(path, &w, flags, seg, &made);
	}
	if (built != NULL)
		*built = made;
	return r;
}

int fg__seg_found(const char *path, int64_t also, struct fg_seg_found *f)
{
	struct fg_sysv_name name;
	struct shmid_ds ds;
	struct entry e;
	int r;

	memset(f, 0, sizeof *f);
	r = entry_open(path, also, &e);
	if (r != 0)
		return r;
	f->kind = (int)e.kind;
	f->uid = e.st.st_uid;
	f->gid = e.st.st_gid;
	f->mode = e.st.st_mode & 07777;
	f->trusted = fg__trust_uid(&e.t, e.st.st_uid);
	if (e.kind == KIND_SYSV && fg__sysv_stat(e.fd, &name, &ds) == 0) {
		f->mem = 1;
		f->uid = ds.shm_perm.uid;
		f->gid = ds.shm_perm.gid;
		f->mode = ds.shm_perm.mode & 0777;
	}
	close(e.fd);
	return 0;
}

/* ------------------------------------------------------------- removal */

int fg__seg_unlink(const char *path)
{
	struct entry e;
	int r;

	r = entry_open(path, -1, &e);
	if (r != 0)
		return r;
	/* Remove segments only (of any layout version): a mistyped path
	 * must not delete somebody's file. */
	if (e.kind == KIND_NONE)
		r = FG_EBADSEG;
	else if (e.kind == KIND_SYSV)
		r = fg__sysv_remove(e.fd);
	close(e.fd);
	if (r == 0 && unlink(path) != 0)
		r = fg__errno_to_fg(errno);
	return r;
}
