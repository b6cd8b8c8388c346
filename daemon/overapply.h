/* SPDX-License-Identifier: ISC */
/*
 * overapply.h - the config's overrides, into the segment (overapply.c).
 */
#ifndef FGD_OVERAPPLY_H
#define FGD_OVERAPPLY_H

#include "daemon/config.h"

/* Make the overrides of @cfg those of the config in the segment of @fg:
 * set each (an override set at run time for the same key stays), then
 * remove the config's overrides @cfg no longer has.  0, or -1 logged. */
int fgd_overrides_apply(fg_client *fg, const struct fgd_config *cfg);

#endif
