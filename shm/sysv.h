/* SPDX-License-Identifier: ISC */
/*
 * sysv.h - segments whose memory is System V shared memory (sysv.c).
 *
 * The name of such a segment is a small file, the name file: a record
 * of 64 bytes naming the memory.  Its format:
 *
 *   0   magic "FLOODGS\0"
 *   8   version (FG_SYSV_VERSION), then the memory's layout version
 *   16  shmid, flags (0)
 *   24  the memory's size in bytes
 *   32  the checksum of the memory's header: which segment it is
 *   40  16 bytes of zeros
 *   56  check: fg__hash64 of bytes 0-55
 *
 * Version 1 is the first.  Fixed-width, in the host's byte order: the
 * file never leaves the host.
 */
#ifndef FG_SHM_SYSV_H
#define FG_SHM_SYSV_H

#include <stdint.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "shm/segment.h"

#define FG_SYSV_MAGIC   "FLOODGS\0"
#define FG_SYSV_VERSION 1u

struct fg_sysv_name {
	uint8_t magic[8];
	uint32_t version;
	uint32_t layout_version;
	int32_t shmid;
	uint32_t flags;
	uint64_t seg_size;
	uint64_t ident;
	uint64_t zero[2];
	uint64_t check;
};

_Static_assert(sizeof(struct fg_sysv_name) == 64, "name record size");
_Static_assert(offsetof(struct fg_sysv_name, check) == 56, "check last");

/* The check of a name record: fg__hash64 of its bytes before the check. */
uint64_t fg__sysv_name_sum(const struct fg_sysv_name *n);

/* Check a name record of @len bytes read from a name file (pure: the fuzz
 * target).  0 with *@out, FG_EBADSEG or FG_EVERSION (another version of
 * the record or of the layout). */
int fg__sysv_name_check(const void *buf, size_t len, struct fg_sysv_name *out);

/* The name record of memory @shmid whose header is @h. */
void fg__sysv_name_make(struct fg_sysv_name *n, int shmid,
                        const struct fg_seg_hdr *h);

/* The mode of the name file of memory of mode @mode: read by those who
 * may attach, written by its owner only. */
#define FG_SYSV_NAME_MODE(mode) ((mode_t)(0600 | ((mode)&0040)))

/* What a name file says and what the kernel says of the memory it names:
 * 0, FG_EBADSEG or FG_EVERSION (the record), FG_ENOSEG (the memory is
 * gone or removed), FG_EACCES (no permission to look at it), FG_ESYS.
 * With FG_EACCES, *@ds is still filled from /proc/sysvipc/shm where it
 * can be (for fg_diagnose; @ds->shm_segsz is 0 where it cannot). */
int fg__sysv_stat(int fd, struct fg_sysv_name *name, struct shmid_ds *ds);

/* Whether memory described by @ds, named by a file of status @name_st,
 * is ours to use (trust.h). */
enum fg_distrust fg__sysv_judge(const struct fg_trust *t,
                                const struct stat *name_st,
                                const struct shmid_ds *ds);

/* Attach to the memory named by the file open at @fd: 0, or FG_EACCES
 * (untrusted, or no permission), FG_ENOSEG, FG_EBADSEG, FG_EVERSION,
 * FG_ENOMEM, FG_ESYS.  The @owner takes memory whose mode gives others
 * access (to close it). */
int fg__sysv_attach(int fd, const struct fg_trust *t, int owner,
                    struct fg_seg *seg);

/* New memory of geometry @g for the segment at @path, attached, named by
 * the new file @tmp (open in @seg->fd). */
int fg__sysv_build(const char *path, const char *tmp,
                   const struct fg_seg_geom *g, uint64_t capacity,
                   unsigned segflags, const struct fg_seg_perms *p,
                   struct fg_seg *seg);

/* Detach from and remove the memory of @seg (a segment never published). */
void fg__sysv_discard(struct fg_seg *seg);

/* Remove the memory named by the file open at @fd, if its name is
 * consistent with it (fg__sysv_judge's name check): 0 (also when it was
 * already gone), FG_EACCES, FG_EBADSEG, FG_ESYS. */
int fg__sysv_remove(int fd);

/* Give the memory of @seg and its name file mode, owner and group @p. */
int fg__sysv_perms(const struct fg_seg *seg, const struct fg_seg_perms *p);

#endif
