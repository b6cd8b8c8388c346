/* SPDX-License-Identifier: ISC */
/*
 * window.h - the check of a window rule on its bucket (window.c).
 */
#ifndef FG_LIB_WINDOW_H
#define FG_LIB_WINDOW_H

#include <stdint.h>

#include "lib/floodgate.h"
#include "shm/pair.h"
#include "shm/table.h"
#include "shm/window.h"

/*
 * The check of @cost at @now under the window rule @w (index @idx, flags
 * @flags) on the bucket @ref of table @t, read as *@p: 1 admitted, 0
 * denied (or 1 for a shadow rule), with the decision in @d; -1 when the
 * bucket must be found again (its group changed, or it is being
 * evicted), *@p then of no use.
 */
int fg__win_step(struct fg_table *t, const struct fg_win *w, unsigned idx,
                 uint32_t flags, struct fg_ref *ref, struct fg_pair *p,
                 uint32_t cost, uint64_t now, fg_decision *d);

#endif
