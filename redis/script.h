/* SPDX-License-Identifier: ISC */
/*
 * script.h - the one Lua script a node runs in Redis each round: push
 * its changed counts, then pull the others' (script.c holds its text;
 * transport.h the design it serves).
 *
 * Called as EVALSHA SHA 1 {NS}:tops SELF INC FROM TO TTL NREC NCUR BUDGET
 * then NREC pairs FIELD VALUE, then NCUR triples OID INC HAVE:
 *
 *   SELF    our origin id: 16 lowercase hex digits
 *   INC     our incarnation, decimal (every number travels in decimal
 *           text: Lua's numbers are doubles, exact only to 2^53, so the
 *           script compares numbers as strings, length first)
 *   FROM,TO the versions (FROM, TO] this push completes: every record we
 *           changed in them is among the pairs
 *   TTL     ms our keys live after this call without another one
 *   FIELD   the record's name: one byte of rule length (1..31), the rule,
 *           the key (1..64 bytes, any)
 *   VALUE   "VER COUNT FLOOR": the version of its last change, its
 *           cumulative count and its floor (counts.h)
 *   OID INC HAVE   where we are in another origin's records: its
 *           incarnation and the version we hold them up to
 *   BUDGET  records to pull at most (in all)
 *
 * The push is taken only if FROM is at most the version Redis holds of
 * us (else "gap": Redis lost some of ours, and says how far it has us),
 * and only if INC is not older than the incarnation it holds (else
 * "stale": it holds a later life of ours); a later INC replaces what it
 * holds of us.  A record is stored only if its version is above the one
 * stored: a push that arrives late cannot take anything back.
 *
 * Reply: an array { STATUS, INC, TOP, ORIGIN... }: STATUS "ok", "gap" or
 * "stale"; INC and TOP what Redis holds of us after the call; then one
 * array per other origin: { OID, INC, NEXT, FIELD, VALUE, ... } with its
 * records changed after HAVE (all of them from version 0 when its
 * incarnation is not the one we named) in version order, and NEXT, the
 * version we then hold it up to: its top, or the last version returned
 * when the budget ran out.  proto.c checks all of it before anything is
 * used.
 */
#ifndef FGR_SCRIPT_H
#define FGR_SCRIPT_H

/* Bumped whenever the script's arguments or reply change: daemons of
 * different versions then run different scripts (EVALSHA names a script
 * by its text), and keep apart by namespace. */
#define FGR_SCRIPT_VERSION 1

/* An all-floor record is dropped from Redis this long after it went all
 * floor (= FGD_LOCAL_TTL_MS: the origin keeps it as long). */
#define FGR_GC_MS 60000u

extern const char fgr_script[];

#endif
