/*
 * segment.h - naming, creating, validating and mapping segments.
 */
#ifndef FG_SHM_SEGMENT_H
#define FG_SHM_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/floodgate.h"
#include "shm/layout.h"
#include "shm/table.h"

#define FG_SHM_DIR      "/dev/shm/"
#define FG_SEG_NAME_MAX 64u  /* a bare name, below FG_SHM_DIR */
#define FG_SEG_PATH_MAX 240u /* an absolute path */
#define FG_SEG_BASE_MAX 200u /* its last component */

/* One process's mapping of a segment. */
struct fg_seg {
	int fd;
	int lock_fd; /* owner lock held, or -1 */
	uint8_t *base;
	size_t size;
	struct fg_table tbl;
	struct fg_rule_rec *rules;
	uint64_t capacity;
	char path[FG_SEG_PATH_MAX + 16];
};

/* Resolve a segment name (NULL: $FLOODGATE_SEGMENT or the default). */
int fg__seg_path(const char *segment, char *out, size_t outlen);

/* Where everything is in a segment of @capacity keys. */
struct fg_seg_geom {
	uint64_t nblocks;
	uint64_t dirty_off;
	uint64_t blocks_off;
	uint64_t size; /* bytes */
};

/* The geometry for @capacity keys and header @flags (FG_SEG_*);
 * FG_ETOOBIG past the address space. */
int fg__seg_geometry(uint64_t capacity, unsigned flags, struct fg_seg_geom *g);

uint64_t fg__seg_checksum(const struct fg_seg_hdr *h);

/* Validate a header read from a file of @file_size bytes (pure function:
 * the fuzz target's entry point).  0, FG_EBADSEG or FG_EVERSION. */
int fg__seg_validate(const struct fg_seg_hdr *h, uint64_t file_size);

int fg__seg_attach(const char *path, struct fg_seg *seg);
int fg__seg_create(const char *path, const fg_segment_opts *opts,
                   unsigned flags, struct fg_seg *seg);
void fg__seg_detach(struct fg_seg *seg);

/* Serialise owner operations (rule changes) between processes. */
int fg__seg_lock(struct fg_seg *seg);
void fg__seg_unlock(struct fg_seg *seg);

/* errno of a failed open/stat to an FG_E* code. */
int fg__errno_to_fg(int err);

#endif
