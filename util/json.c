/* SPDX-License-Identifier: ISC */
/*
 * json.c - the JSON writer (see json.h for the string rule).
 *
 * State: the depth of the open container and, per depth, whether it holds
 * a member yet (one bit each), which decides the comma before the next
 * value.  A value that follows a member name takes no comma: the name
 * placed it.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "util/json.h"

/* The well-formed UTF-8 sequences (RFC 3629, section 4): by lead byte,
 * the length and the range of the second byte, which excludes overlong
 * forms, surrogates and code points above U+10FFFF. */
static const struct utf8_form {
	unsigned char lead_lo, lead_hi, len, lo, hi;
} utf8_forms[] = {
    {0xc2, 0xdf, 2, 0x80, 0xbf}, {0xe0, 0xe0, 3, 0xa0, 0xbf},
    {0xe1, 0xec, 3, 0x80, 0xbf}, {0xed, 0xed, 3, 0x80, 0x9f},
    {0xee, 0xef, 3, 0x80, 0xbf}, {0xf0, 0xf0, 4, 0x90, 0xbf},
    {0xf1, 0xf3, 4, 0x80, 0xbf}, {0xf4, 0xf4, 4, 0x80, 0x8f},
};

/* Length of the valid UTF-8 sequence at @s (@n bytes left), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	const struct utf8_form *f = NULL;
	size_t i;

	if (s[0] < 0x80)
		return 1;
	for (i = 0; i < sizeof utf8_forms / sizeof utf8_forms[0]; i++)
		if (s[0] >= utf8_forms[i].lead_lo &&
		    s[0] <= utf8_forms[i].lead_hi)
			f = &utf8_forms[i];
	if (f == NULL || n < f->len || s[1] < f->lo || s[1] > f->hi)
		return 0;
	for (i = 2; i < f->len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return f->len;
}

void fgu_json_string(struct fgd_buf *b, const void *s, size_t n)
{
	const unsigned char *u = s;
	size_t i = 0, k, run;

	fgd_buf_add(b, "\"", 1);
	while (i < n) {
		/* copy the longest run that needs no escape at once */
		for (run = i; run < n; run += k) {
			k = utf8_seq(u + run, n - run);
			if (k == 0 || u[run] < 0x20 || u[run] == 0x7f ||
			    u[run] == '"' || u[run] == '\\')
				break;
		}
		fgd_buf_add(b, (const char *)u + i, run - i);
		i = run;
		if (i == n)
			break;
		if (u[i] == '"' || u[i] == '\\')
			fgd_buf_printf(b, "\\%c", u[i]);
		else if (u[i] < 0x20 || u[i] == 0x7f)
			fgd_buf_printf(b, "\\u%04x", u[i]);
		else
			fgd_buf_add(b, "\\ufffd", 6);
		i++;
	}
	fgd_buf_add(b, "\"", 1);
}

void fgu_json_init(struct fgu_json *j, struct fgd_buf *b)
{
	memset(j, 0, sizeof *j);
	j->b = b;
}

/* Before any value or member name: the comma that separates it. */
static void separate(struct fgu_json *j)
{
	uint32_t bit = UINT32_C(1) << j->depth;

	if (j->after_name) {
		j->after_name = 0;
		return;
	}
	if (j->has_member & bit)
		fgd_buf_add(j->b, ",", 1);
	j->has_member |= bit;
}

static void enter(struct fgu_json *j, const char *brace)
{
	separate(j);
	fgd_buf_add(j->b, brace, 1);
	if (j->depth + 1 < FGU_JSON_DEPTH)
		j->depth++;
	j->has_member &= ~(UINT32_C(1) << j->depth);
}

static void leave(struct fgu_json *j, const char *brace)
{
	j->has_member &= ~(UINT32_C(1) << j->depth);
	if (j->depth > 0)
		j->depth--;
	fgd_buf_add(j->b, brace, 1);
}

void fgu_json_object(struct fgu_json *j)
{
	enter(j, "{");
}

void fgu_json_object_end(struct fgu_json *j)
{
	leave(j, "}");
}

void fgu_json_array(struct fgu_json *j)
{
	enter(j, "[");
}

void fgu_json_array_end(struct fgu_json *j)
{
	leave(j, "]");
}

void fgu_json_name(struct fgu_json *j, const char *name)
{
	separate(j);
	fgu_json_string(j->b, name, strlen(name));
	fgd_buf_add(j->b, ":", 1);
	j->after_name = 1;
}

void fgu_json_str(struct fgu_json *j, const char *s)
{
	fgu_json_bytes(j, s, strlen(s));
}

void fgu_json_bytes(struct fgu_json *j, const void *s, size_t n)
{
	separate(j);
	fgu_json_string(j->b, s, n);
}

void fgu_json_u64(struct fgu_json *j, uint64_t v)
{
	separate(j);
	fgd_buf_printf(j->b, "%" PRIu64, v);
}

void fgu_json_i64(struct fgu_json *j, int64_t v)
{
	separate(j);
	fgd_buf_printf(j->b, "%" PRId64, v);
}

void fgu_json_bool(struct fgu_json *j, int v)
{
	separate(j);
	fgd_buf_printf(j->b, "%s", v ? "true" : "false");
}

void fgu_json_null(struct fgu_json *j)
{
	separate(j);
	fgd_buf_add(j->b, "null", 4);
}

void fgu_json_fixed(struct fgu_json *j, double v, int decimals)
{
	separate(j);
	if (!isfinite(v)) /* JSON has no NaN nor infinity */
		v = 0;
	if (decimals < 0 || decimals > 9)
		decimals = 4;
	fgd_buf_printf(j->b, "%.*f", decimals, v);
}

void fgu_json_kstr(struct fgu_json *j, const char *name, const char *s)
{
	fgu_json_name(j, name);
	fgu_json_str(j, s);
}

void fgu_json_ku64(struct fgu_json *j, const char *name, uint64_t v)
{
	fgu_json_name(j, name);
	fgu_json_u64(j, v);
}

void fgu_json_ki64(struct fgu_json *j, const char *name, int64_t v)
{
	fgu_json_name(j, name);
	fgu_json_i64(j, v);
}

void fgu_json_kbool(struct fgu_json *j, const char *name, int v)
{
	fgu_json_name(j, name);
	fgu_json_bool(j, v);
}
