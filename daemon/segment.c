/* SPDX-License-Identifier: ISC */
/*
 * segment.c - the daemon's segment: made or checked at start, watched
 * while running.
 *
 * The daemon keeps its table in System V memory (FG_SEGMENT_SYSV,
 * shm/sysv.c): no process with access to it can resize it, so no worker
 * can kill the daemon or another worker with SIGBUS.  At start it attaches
 * to the segment it finds if that one is trusted (shm/trust.c), of the
 * configured capacity and of that kind, and sets its mode, owner and group
 * to the configured ones, logging what it changed: a segment made
 * world-writable since is closed again.  It rebuilds, restoring the
 * snapshot, a segment it may replace: its own file segment of an earlier
 * release (which any worker could truncate), or one whose header is
 * corrupt or of another layout version.  It refuses, saying why and what
 * to do, a segment made by someone else (taken before it started), of
 * another capacity, or any file that is not a segment.
 *
 * While running, a worker may write anything in the segment; what the
 * daemon reads from it is bounded by the table's own checks, and the
 * header's identity, which new workers check, is written back from the
 * daemon's copy if it changed.
 */
#include "daemon/segment.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "daemon/log.h"
#include "lib/client.h"
#include "shm/segment.h"

/* Say what fg_create() changed of the permissions of the segment found
 * (@f), now those of @fg. */
static void perms_note(const char *path, const struct fg_seg_found *f,
                       const fg_segment_opts *o)
{
	if (f->mode != (mode_t)o->mode)
		fgd_log(
		    LOG_NOTICE,
		    "segment %s: mode %04o set back to %04o (floodgate.conf)",
		    path, (unsigned)f->mode, (unsigned)o->mode);
	if (o->uid >= 0 && (int64_t)f->uid != o->uid)
		fgd_log(LOG_NOTICE, "segment %s: owner uid %u set back to %lld",
		        path, (unsigned)f->uid, (long long)o->uid);
	if (o->gid >= 0 && (int64_t)f->gid != o->gid)
		fgd_log(LOG_NOTICE, "segment %s: group gid %u set back to %lld",
		        path, (unsigned)f->gid, (long long)o->gid);
}

/* Whether to rebuild what fg_create() refused with @r: a segment of ours
 * we may replace, with the reason logged. */
static int rebuild(const char *path, int r, const struct fg_seg_found *f)
{
	if (!f->trusted || f->kind == FG_FOUND_OTHER)
		return 0;
	if (r == FG_EEXIST && f->kind == FG_FOUND_FILE) {
		fgd_log(
		    LOG_WARNING,
		    "segment %s is a file, which any process allowed to write "
		    "it can truncate and so kill every process using it: "
		    "replaced by System V memory; its buckets come back from "
		    "the snapshot, and processes attached to the old file "
		    "must open the segment again (reload the web server)",
		    path);
		return 1;
	}
	if (r == FG_EBADSEG || r == FG_EVERSION) {
		fgd_log(
		    LOG_WARNING,
		    "segment %s: %s: rebuilt; its buckets come back from the "
		    "snapshot",
		    path, fg_strerror(r));
		return 1;
	}
	return 0;
}

/* The refusal @r of the segment at @path, in words. */
static void refusal(const struct fgd_config *cfg, const char *path, int r,
                    const fg_segment_opts *o)
{
	char why[1024];

	if (r == FG_EACCES && fg_diagnose(path, why, sizeof why) == FG_EACCES)
		fgd_log(LOG_ERR, "segment %s: %s", cfg->segment, why);
	else if (r == FG_EACCES)
		fgd_log(
		    LOG_ERR,
		    "segment %s: cannot give it mode %04o and the owner and "
		    "group of floodgate.conf: run floodgated as its owner or "
		    "root, or remove it",
		    path, (unsigned)o->mode);
	else
		fgd_log(LOG_ERR, "segment %s: %s%s", cfg->segment,
		        fg_strerror(r),
		        r == FG_EEXIST ? " (remove it with fg_unlink or change "
		                         "capacity back)"
		                       : "");
}

int fgd_segment_open(const struct fgd_config *cfg, int64_t uid, int64_t gid,
                     fg_client **out, int *fresh)
{
	fg_segment_opts o = {.capacity = cfg->capacity,
	                     .uid = uid,
	                     .gid = gid,
	                     .mode = cfg->mode,
	                     .flags =
	                         FG_SEGMENT_SYSV |
	                         (cfg->huge_pages ? FG_SEGMENT_HUGEPAGES : 0)};
	struct fg_seg_found f;
	char path[FG_SEG_PATH_MAX + 16];
	int r, found;

	if (fg__seg_path(cfg->segment, path, sizeof path) != 0)
		return -1;
	found = fg__seg_found(path, uid, &f) == 0;
	r = fg__create(cfg->segment, &o, 0, out, fresh);
	if (r != 0 && found && rebuild(path, r, &f))
		r = fg__create(cfg->segment, &o, FG_CREATE_REPLACE, out, fresh);
	if (r != 0) {
		refusal(cfg, path, r, &o);
		return -1;
	}
	if (found && !*fresh && f.mem)
		perms_note(path, &f, &o);
	return 0;
}

void fgd_segment_watch(fg_client *fg)
{
	if (fg__seg_repair(&fg->seg) == 1)
		fgd_log(LOG_WARNING,
		        "segment %s: a process with write access overwrote its "
		        "header, which workers check when they attach: written "
		        "back",
		        fg->seg.path);
}
