/* SPDX-License-Identifier: ISC */
/*
 * proto.c - the script's call and its reply (proto.h).
 *
 * The argv's strings live in one arena sized before anything is written:
 * a number takes at most 20 digits, a field FGR_FIELD_MAX bytes, a value
 * three numbers and two blanks.  hiredis turns the argv into RESP
 * (redisAppendCommandArgv); nothing here writes the protocol.
 */
#include "redis/proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/num.h"
#include "util/why.h"

#define NUM               21u /* 20 digits and a NUL */
#define HEAD_ARGS         12 /* EVALSHA sha 1 key self inc from to ttl n n budget */
#define KEY_MAX           (2u + 32u + 6u + 1u) /* "{NS}:tops" */
#define ORIGINS_REPLY_MAX (FGR_ARRAY_MAX - 3)  /* origins a reply lists */

void fgr_oid_text(uint64_t oid, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)oid);
}

/* ------------------------------------------------------------- the call */

struct arena {
	struct fgr_argv *a;
	char *p; /* where the next string goes */
};

static void arg(struct arena *ar, const char *s, size_t n)
{
	struct fgr_argv *a = ar->a;

	memcpy(ar->p, s, n);
	a->argv[a->argc] = ar->p;
	a->len[a->argc++] = n;
	ar->p += n + 1;
}

static void arg_num(struct arena *ar, uint64_t v)
{
	char b[NUM];
	int n = snprintf(b, sizeof b, "%llu", (unsigned long long)v);

	arg(ar, b, (size_t)n);
}

static void arg_record(struct arena *ar, const struct fgr_out *o)
{
	char f[FGR_FIELD_MAX], v[3 * NUM];
	int n;

	f[0] = (char)o->rule_len;
	memcpy(f + 1, o->rule, o->rule_len);
	memcpy(f + 1 + o->rule_len, o->key, o->key_len);
	arg(ar, f, 1 + o->rule_len + o->key_len);
	n = snprintf(v, sizeof v, "%llu %llu %llu", (unsigned long long)o->ver,
	             (unsigned long long)o->count,
	             (unsigned long long)o->floor);
	arg(ar, v, (size_t)n);
}

static int call_ok(const char *sha, const char *ns, const struct fgr_call *c)
{
	size_t i;

	if (strlen(sha) > 64 || strlen(ns) > 32 || c->nout > FGR_PUSH_MAX ||
	    c->ncur > FGR_ORIGINS_MAX || c->budget > FGR_PULL_MAX)
		return 0;
	for (i = 0; i < c->nout; i++) {
		const struct fgr_out *o = &c->out[i];

		if (o->rule_len == 0 || o->rule_len > FGR_RULE_MAX ||
		    o->key_len == 0 || o->key_len > FGR_KEY_MAX ||
		    o->floor > o->count)
			return 0;
	}
	return 1;
}

int fgr_argv_build(struct fgr_argv *a, const char *sha, const char *ns,
                   const struct fgr_call *c)
{
	size_t n, bytes, i;
	struct arena ar = {.a = a};
	char key[KEY_MAX], oid[17];
	int k;

	memset(a, 0, sizeof *a);
	if (!call_ok(sha, ns, c))
		return -1;
	n = HEAD_ARGS + 2 * c->nout + 3 * c->ncur;
	bytes = 64 + 1 + KEY_MAX + 16 * NUM +
	        c->nout * (FGR_FIELD_MAX + 4 * NUM) + c->ncur * (3 * NUM);
	a->argv = malloc(n * sizeof *a->argv);
	a->len = malloc(n * sizeof *a->len);
	a->text = malloc(bytes);
	if (a->argv == NULL || a->len == NULL || a->text == NULL) {
		fgr_argv_free(a);
		return -1;
	}
	ar.p = a->text;
	arg(&ar, "EVALSHA", 7);
	arg(&ar, sha, strlen(sha));
	arg(&ar, "1", 1);
	k = snprintf(key, sizeof key, "{%s}:tops", ns);
	arg(&ar, key, (size_t)k);
	fgr_oid_text(c->self, oid);
	arg(&ar, oid, 16);
	arg_num(&ar, c->inc);
	arg_num(&ar, c->from);
	arg_num(&ar, c->to);
	arg_num(&ar, c->ttl_ms);
	arg_num(&ar, c->nout);
	arg_num(&ar, c->ncur);
	arg_num(&ar, c->budget);
	for (i = 0; i < c->nout; i++)
		arg_record(&ar, &c->out[i]);
	for (i = 0; i < c->ncur; i++) {
		fgr_oid_text(c->cur[i].oid, oid);
		arg(&ar, oid, 16);
		arg_num(&ar, c->cur[i].inc);
		arg_num(&ar, c->cur[i].have);
	}
	return 0;
}

void fgr_argv_free(struct fgr_argv *a)
{
	free(a->argv);
	free(a->len);
	free(a->text);
	memset(a, 0, sizeof *a);
}

/* ------------------------------------------------------------ the reply */

static void *(*array_of)(const redisReadTask *, int);

static void *bounded_array(const redisReadTask *task, int elements)
{
	if (elements < 0 || (unsigned)elements > FGR_ARRAY_MAX)
		return NULL; /* the reader says: out of memory */
	return array_of(task, elements);
}

void fgr_reader_bound(redisReader *r)
{
	static redisReplyObjectFunctions fn;

	if (r->fn == NULL || r->fn == &fn)
		return;
	fn = *r->fn; /* hiredis's own builders (one table for all) */
	array_of = fn.createArray;
	fn.createArray = bounded_array;
	r->fn = &fn;
}

void fgr_error_text(const redisReply *r, char *out, size_t len)
{
	size_t i, n = r->str != NULL ? r->len : 0;

	if (len == 0)
		return;
	if (n > len - 1)
		n = len - 1;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)r->str[i];

		out[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	out[n] = '\0';
}

static int is_str(const redisReply *e)
{
	return e != NULL && e->type == REDIS_REPLY_STRING && e->str != NULL;
}

/* A decimal number in a bulk string. */
static int dec(const redisReply *e, uint64_t *v)
{
	return is_str(e) && e->len <= 20 &&
	               fgu_parse_uint(e->str, e->len, 0, UINT64_MAX, v) == 0
	           ? 0
	           : -1;
}

/* 16 lowercase hex digits, not all zero (0 names nobody). */
static int oid_of(const redisReply *e, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (!is_str(e) || e->len != 16)
		return -1;
	for (i = 0; i < 16; i++) {
		char ch = e->str[i];

		if (ch >= '0' && ch <= '9')
			x = x << 4 | (uint64_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			x = x << 4 | (uint64_t)(ch - 'a' + 10);
		else
			return -1;
	}
	*v = x;
	return x != 0 ? 0 : -1;
}

/* "VER COUNT FLOOR" of @n bytes into @rec. */
static int value_of(const char *s, size_t n, struct fgr_record *rec)
{
	uint64_t v[3];
	size_t i, start = 0, k = 0;

	for (i = 0; i <= n && k < 3; i++) {
		if (i < n && s[i] != ' ')
			continue;
		if (i - start > 20 || fgu_parse_uint(s + start, i - start, 0,
		                                     UINT64_MAX, &v[k]) != 0)
			return -1;
		k++;
		start = i + 1;
	}
	if (k != 3 || i != n + 1 || v[0] == 0 || v[2] > v[1])
		return -1;
	rec->ver = v[0];
	rec->count = v[1];
	rec->floor = v[2];
	return 0;
}

/* FIELD and VALUE at @f into @rec: 0, or -1. */
static int record_of(const redisReply *const *f, struct fgr_record *rec)
{
	const redisReply *field = f[0], *value = f[1];
	uint8_t rl;

	if (!is_str(field) || field->len < 3 || field->len > FGR_FIELD_MAX ||
	    !is_str(value))
		return -1;
	rl = (uint8_t)field->str[0];
	if (rl == 0 || rl > FGR_RULE_MAX || (size_t)rl + 2 > field->len ||
	    field->len - 1 - rl > FGR_KEY_MAX)
		return -1;
	rec->rule = field->str + 1;
	rec->rule_len = rl;
	rec->key = (const uint8_t *)field->str + 1 + rl;
	rec->key_len = (uint8_t)(field->len - 1 - rl);
	return value_of(value->str, value->len, rec);
}

/* Origin @e: its header and every record.  0, or -1 with why. */
static int origin_check(const redisReply *e, size_t i, size_t *nrec, char *why,
                        size_t len)
{
	struct fgr_record rec;
	uint64_t oid, inc, next, last = 0;
	size_t j;

	if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
	    (e->elements - 3) % 2 != 0)
		return fgu_why(why, len,
		               "origin %zu: not an array of an id, "
		               "an incarnation, a version and pairs",
		               i);
	if (oid_of(e->element[0], &oid) != 0 || dec(e->element[1], &inc) ||
	    dec(e->element[2], &next))
		return fgu_why(
		    why, len,
		    "origin %zu: its id is not 16 hex digits, or its "
		    "incarnation or version not a number",
		    i);
	for (j = 0; j < (e->elements - 3) / 2; j++) {
		if (record_of((const redisReply *const *)e->element + 3 + 2 * j,
		              &rec) != 0)
			return fgu_why(
			    why, len,
			    "origin %016llx: record %zu is not a rule and key "
			    "with \"VERSION COUNT FLOOR\" (FLOOR <= COUNT)",
			    (unsigned long long)oid, j);
		if (rec.ver <= last)
			return fgu_why(why, len,
			               "origin %016llx: versions out of order",
			               (unsigned long long)oid);
		last = rec.ver;
	}
	*nrec += j;
	return 0;
}

static int status_of(const redisReply *e, enum fgr_status *st)
{
	static const char *const names[] = {"ok", "gap", "stale"};
	size_t i;

	for (i = 0; is_str(e) && i < 3; i++)
		if (e->len == strlen(names[i]) &&
		    memcmp(e->str, names[i], e->len) == 0) {
			*st = (enum fgr_status)i;
			return 0;
		}
	return -1;
}

int fgr_reply_open(const redisReply *r, struct fgr_reply *p, char *why,
                   size_t len)
{
	char text[200];
	size_t i;

	memset(p, 0, sizeof *p);
	if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		fgr_error_text(r, text, sizeof text);
		return fgu_why(why, len, "Redis said: %s", text);
	}
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3)
		return fgu_why(why, len,
		               "not the script's reply (an array of "
		               "a status and two numbers first)");
	if (status_of(r->element[0], &p->status) != 0 ||
	    dec(r->element[1], &p->inc) != 0 || dec(r->element[2], &p->top))
		return fgu_why(why, len,
		               "not the script's reply (its status "
		               "is not ok, gap or stale, or a "
		               "number is not one)");
	if (r->elements - 3 > ORIGINS_REPLY_MAX)
		return fgu_why(why, len, "%zu origins: more than %u",
		               r->elements - 3, ORIGINS_REPLY_MAX);
	for (i = 3; i < r->elements; i++)
		if (origin_check(r->element[i], i - 3, &p->nrec, why, len))
			return -1;
	if (p->nrec > FGR_PULL_MAX)
		return fgu_why(why, len, "%zu records: more than the %u asked",
		               p->nrec, FGR_PULL_MAX);
	p->r = r;
	p->norigins = r->elements - 3;
	return 0;
}

void fgr_reply_origin(const struct fgr_reply *p, size_t i, struct fgr_origin *o)
{
	const redisReply *e = p->r->element[3 + i];

	o->r = e;
	(void)oid_of(e->element[0], &o->oid);
	(void)dec(e->element[1], &o->inc);
	(void)dec(e->element[2], &o->next);
	o->nrec = (e->elements - 3) / 2;
}

void fgr_reply_record(const struct fgr_origin *o, size_t j,
                      struct fgr_record *rec)
{
	(void)record_of((const redisReply *const *)o->r->element + 3 + 2 * j,
	                rec);
}
