/* SPDX-License-Identifier: ISC */
/*
 * segment.h - the daemon's segment: made or checked at start, watched
 * while running (segment.c).
 */
#ifndef FGD_SEGMENT_H
#define FGD_SEGMENT_H

#include <stdint.h>

#include "daemon/config.h"
#include "lib/floodgate.h"

/*
 * Create the segment @cfg names, or attach to the one there, giving it
 * the configured mode and the owner @uid and group @gid (-1: leave); replace
 * one the daemon may rebuild (a file segment, a corrupt one, one of another
 * layout).  Every decision is logged (daemon/log.h), refusals with what to do.
 * Refuse a segment another daemon holds; hold this one.
 * Return: 0 with *@out, *@fresh (1: a new segment, to be filled from the
 * snapshot) and *@held (the hold's descriptor: keep it open while this
 * daemon runs), or -1.
 */
int fgd_segment_open(const struct fgd_config *cfg, int64_t uid, int64_t gid,
                     fg_client **out, int *fresh, int *held);

/* Check, now and then, that nothing a worker did to the segment stops
 * new workers from attaching; mend and log what it finds. */
void fgd_segment_watch(fg_client *fg);

#endif
