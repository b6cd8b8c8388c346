/* SPDX-License-Identifier: ISC */
/*
 * error.c - fg_strerror().
 */
#include "lib/floodgate.h"

const char *fg_strerror(int err)
{
	switch (err) {
	case 1:
		return "allowed";
	case 0:
		return "denied (or success)";
	case FG_EINVAL:
		return "invalid argument";
	case FG_EKEY:
		return "key is NULL or empty";
	case FG_EKEYLEN:
		return "key longer than the table holds (16 bytes; FG_KEY_MAX "
		       "is 64)";
	case FG_ENORULE:
		return "no such rule";
	case FG_ECOST:
		return "cost is 0 or above the rule's capacity";
	case FG_ENOSEG:
		return "segment does not exist (is floodgated running?)";
	case FG_EACCES:
		return "permission denied: the segment needs read and write "
		       "access, and must be made by a user this process "
		       "trusts and closed to others (see fg_diagnose)";
	case FG_EBADSEG:
		return "not a floodgate segment, or a corrupt one";
	case FG_EVERSION:
		return "segment has another layout version (made by another "
		       "floodgate release: floodgated replaces it when it "
		       "starts and restores the last snapshot; open it again "
		       "then)";
	case FG_ENOMEM:
		return "out of memory or address space";
	case FG_ESYS:
		return "unexpected system error";
	case FG_EEXIST:
		return "segment exists with another capacity or kind";
	case FG_ERULES:
		return "rule table full";
	case FG_ENAME:
		return "invalid segment or rule name";
	case FG_ERULE:
		return "invalid rule parameters";
	case FG_ETOOBIG:
		return "segment too large";
	case FG_EKIND:
		return "the rule is of the other kind: in-flight rules take "
		       "fg_acquire(), the others fg_allow()";
	case FG_ESPACE:
		return "output buffer too small";
	default:
		return "unknown error";
	}
}
