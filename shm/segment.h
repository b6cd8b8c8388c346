/* SPDX-License-Identifier: ISC */
/*
 * segment.h - naming, creating, validating and mapping segments.
 */
#ifndef FG_SHM_SEGMENT_H
#define FG_SHM_SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/floodgate.h"
#include "shm/layout.h"
#include "shm/table.h"
#include "shm/trust.h"

#define FG_SHM_DIR      "/dev/shm/"
#define FG_SEG_NAME_MAX 64u  /* a bare name, below FG_SHM_DIR */
#define FG_SEG_PATH_MAX 240u /* an absolute path */
#define FG_SEG_BASE_MAX 200u /* its last component */

/* The header's identity: written once, covered by its checksum. */
#define FG_IDENT_SIZE offsetof(struct fg_seg_hdr, nnames)

/* One process's mapping of a segment. */
struct fg_seg {
	int fd;      /* the segment file, or the name of its System V memory */
	int shmid;   /* that System V memory, or -1: a file segment */
	int lock_fd; /* owner lock held, or -1 */
	uint8_t *base;
	size_t size;
	struct fg_table tbl;
	struct fg_rule_rec *rules;
	struct fg_ovr_region *ovr; /* overrides (shm/override.h) */
	uint64_t capacity;
	uint8_t ident[FG_IDENT_SIZE]; /* the identity as validated */
	char path[FG_SEG_PATH_MAX + 16];
};

/* Resolve a segment name (NULL: $FLOODGATE_SEGMENT or the default). */
int fg__seg_path(const char *segment, char *out, size_t outlen);

/* Where everything is in a segment of @capacity keys. */
struct fg_seg_geom {
	uint64_t nbuckets;
	uint64_t nrecords; /* long keys' (FG_RECORDS_FOR) */
	uint64_t dirty_off;
	uint64_t table_off;
	uint64_t cold_off;
	uint64_t size; /* bytes */
};

/* The geometry for @capacity keys and header @flags (FG_SEG_*);
 * FG_ETOOBIG past the address space. */
int fg__seg_geometry(uint64_t capacity, unsigned flags, struct fg_seg_geom *g);

uint64_t fg__seg_checksum(const struct fg_seg_hdr *h);

/* Validate a header read from a file of @file_size bytes (pure function:
 * the fuzz target's entry point).  0, FG_EBADSEG or FG_EVERSION. */
int fg__seg_validate(const struct fg_seg_hdr *h, uint64_t file_size);

/* Fill a new segment's header (zeroed memory of geometry @g): 0, FG_ESYS. */
int fg__seg_hdr_init(struct fg_seg_hdr *h, const struct fg_seg_geom *g,
                     uint64_t capacity, unsigned segflags);

/* Make @seg the mapping at @base of the validated header @hdr. */
void fg__seg_use(struct fg_seg *seg, void *base, const struct fg_seg_hdr *hdr,
                 int fd, int shmid);

/* Permissions asked of a new or re-attached segment. */
struct fg_seg_perms {
	mode_t mode;
	int64_t uid; /* 0 or -1: leave */
	int64_t gid; /* 0 or -1: leave */
};

/* Set mode, owner and group of the file open at @fd where they differ. */
int fg__seg_fperms(int fd, mode_t mode, int64_t uid, int64_t gid);

/* Fault in every page of a fresh mapping (MADV_POPULATE_WRITE): 0, or an
 * errno (EINVAL where the kernel cannot). */
int fg__seg_populate(void *p, size_t size);

/* A complete file segment at the new file @tmp, open at *@fdp. */
int fg__seg_build_file(const char *tmp, const struct fg_seg_geom *g,
                       uint64_t capacity, unsigned segflags,
                       const struct fg_seg_perms *p, int *fdp);

/* Map the file segment open at @fd, validated first. */
int fg__seg_map_file(int fd, struct fg_seg *seg);

/* Attach to the segment at @path as a worker (attach.c). */
int fg__seg_attach(const char *path, struct fg_seg *seg);
/* Create or re-attach as its owner; *@built (if not NULL) is 1 when this
 * call made a new segment (attach.c). */
int fg__seg_create(const char *path, const fg_segment_opts *opts,
                   unsigned flags, struct fg_seg *seg, int *built);
/* What is at a segment's name, for an owner's messages (attach.c). */
struct fg_seg_found {
	int kind;    /* FG_FOUND_* */
	int trusted; /* its owner is one trust.c trusts */
	int mem;     /* a System V name whose memory is there: the
	              * following are the memory's */
	uid_t uid;
	gid_t gid;
	mode_t mode;
};
#define FG_FOUND_OTHER 0 /* a regular file of neither kind */
#define FG_FOUND_FILE  1 /* a file segment (magic of any layout) */
#define FG_FOUND_SYSV  2 /* the name of a System V segment */

/* 0 with *@f, or FG_ENOSEG (nothing there), FG_EBADSEG (not a regular
 * file), FG_EACCES...  @also: one more user whose segment is trusted,
 * the owner fg__create() is given (-1: none). */
int fg__seg_found(const char *path, int64_t also, struct fg_seg_found *f);

/* fg_unlink() (attach.c). */
int fg__seg_unlink(const char *path);
void fg__seg_detach(struct fg_seg *seg);

/* Serialise owner operations (rule changes) between processes. */
int fg__seg_lock(struct fg_seg *seg);
void fg__seg_unlock(struct fg_seg *seg);

/*
 * The daemon's hold on its segment, for as long as it runs (segment.c):
 * fg__seg_hold() takes it on @seg's file, returning the descriptor that
 * keeps it, or -1 with errno (EAGAIN: another process holds it);
 * fg__seg_held() says whether a process holds the one at @path: 1, 0
 * (also when nothing, or no regular file, is there), or -1 with errno.
 */
int fg__seg_hold(const struct fg_seg *seg);
int fg__seg_held(const char *path);

/* Write the identity back if a process with write access changed it (new
 * attachers would refuse the segment): 1 if it did, 0 if intact, or the
 * FG_E* code of taking the owner lock.  For the owner. */
int fg__seg_repair(struct fg_seg *seg);

#endif
