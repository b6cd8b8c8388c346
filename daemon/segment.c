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
 * One daemon a segment: it holds the segment (fg__seg_hold()) while it
 * runs, and one that finds it held, by a daemon of another configuration
 * (another control socket, state file, port), refuses before it changes
 * anything.  A holder still exiting (a restart) is waited for, a while.
 *
 * While running, a worker may write anything in the segment; what the
 * daemon reads from it is bounded by the table's own checks, and the
 * header's identity, which new workers check, is written back from the
 * daemon's copy if it changed.
 */
#include "daemon/segment.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

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

/* How long a daemon before us may take to let go of the segment: a
 * restart, or the network process of one killed, gone a moment later. */
#define HOLD_WAIT_MS 3000u

static void nap(void)
{
	static const struct timespec ms10 = {0, 10000000};

	(void)nanosleep(&ms10, NULL);
}

/* Whether another daemon holds the segment at @path (logged). */
static int held_elsewhere(const struct fgd_config *cfg, const char *path)
{
	uint64_t end = fgd_now_ms() + HOLD_WAIT_MS;
	int r;

	while ((r = fg__seg_held(path)) == 1 && fgd_now_ms() < end)
		nap();
	if (r == 1)
		fgd_log(LOG_ERR,
		        "segment %s: another floodgated runs on it (under "
		        "another configuration, or not yet gone): refused",
		        cfg->segment);
	else if (r < 0)
		fgd_log(LOG_ERR, "segment %s: %s", path, strerror(errno));
	return r != 0;
}

/* Take the hold on @fg's segment: its descriptor, or -1 (logged). */
static int hold(const struct fgd_config *cfg, fg_client *fg)
{
	uint64_t end = fgd_now_ms() + HOLD_WAIT_MS;
	int fd;

	while ((fd = fg__seg_hold(&fg->seg)) < 0 && errno == EAGAIN &&
	       fgd_now_ms() < end)
		nap();
	if (fd < 0 && errno == EAGAIN)
		fgd_log(LOG_ERR,
		        "segment %s: another floodgated started on it at "
		        "the same time: refused",
		        cfg->segment);
	else if (fd < 0)
		fgd_log(LOG_ERR, "segment %s: cannot hold it: %s", cfg->segment,
		        strerror(errno));
	return fd;
}

int fgd_segment_open(const struct fgd_config *cfg, int64_t uid, int64_t gid,
                     fg_client **out, int *fresh, int *held)
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
	/* what someone else made is refused below, saying who */
	if (found && f.trusted && held_elsewhere(cfg, path))
		return -1;
	r = fg__create(cfg->segment, &o, 0, out, fresh);
	if (r != 0 && found && rebuild(path, r, &f))
		r = fg__create(cfg->segment, &o, FG_CREATE_REPLACE, out, fresh);
	if (r != 0) {
		refusal(cfg, path, r, &o);
		return -1;
	}
	*held = hold(cfg, *out);
	if (*held < 0) {
		fg_close(*out);
		*out = NULL;
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
