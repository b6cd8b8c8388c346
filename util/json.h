/* SPDX-License-Identifier: ISC */
/*
 * json.h - one JSON writer for everything floodgate prints as JSON: the
 * floodgate CLI's --json and floodgated's HTTP bodies.
 *
 * Output is compact RFC 8259 text: no blank between tokens, members in the
 * order written.  The writer places the commas and colons itself, so a
 * caller writes values and never punctuation, and it has one typed call
 * per kind of value: a string is always written with quotes, whatever its
 * bytes look like, and a number only comes from an integer.
 *
 * Strings (values and member names alike, by the same encoder):
 *   - '"' and '\' are escaped as \" and \\;
 *   - control characters (0x00-0x1f) and DEL (0x7f) as \u00XX;
 *   - valid UTF-8 is copied as it is (a JSON text is UTF-8);
 *   - each byte that does not begin a valid UTF-8 sequence (a stray
 *     continuation byte, an overlong form, a surrogate, a code point
 *     above U+10FFFF, a sequence cut short) becomes U+FFFD, written
 *     \ufffd.
 * So any bytes make valid JSON, and text that is UTF-8 reads as itself.
 * Keys are bytes, not text, and U+FFFD loses the bytes it replaces: where
 * they matter the CLI also gives a key in hexadecimal (key_hex).
 *
 * Nesting is bounded (FGU_JSON_DEPTH); deeper opens are ignored, which the
 * tests would show as invalid JSON: no caller of ours nests that deep.
 */
#ifndef FGU_JSON_H
#define FGU_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define FGU_JSON_DEPTH 16

struct fgu_json {
	struct fgd_buf *b;
	unsigned depth;
	uint32_t has_member; /* bit d: the container at depth d is not empty */
	int after_name;      /* a member name was written, its value is next */
};

/* Write into @b (appended to what it holds). */
void fgu_json_init(struct fgu_json *j, struct fgd_buf *b);

/* Containers.  Inside an object, every value is preceded by a name. */
void fgu_json_object(struct fgu_json *j);
void fgu_json_object_end(struct fgu_json *j);
void fgu_json_array(struct fgu_json *j);
void fgu_json_array_end(struct fgu_json *j);

/* A member's name, inside an object (the value follows). */
void fgu_json_name(struct fgu_json *j, const char *name);

/* Values. */
void fgu_json_str(struct fgu_json *j, const char *s);
void fgu_json_bytes(struct fgu_json *j, const void *s, size_t n);
void fgu_json_u64(struct fgu_json *j, uint64_t v);
void fgu_json_i64(struct fgu_json *j, int64_t v);
void fgu_json_bool(struct fgu_json *j, int v);
void fgu_json_null(struct fgu_json *j);
/* A fraction with @decimals digits after the point (0 to 9). */
void fgu_json_fixed(struct fgu_json *j, double v, int decimals);

/* Name and value in one call, for objects. */
void fgu_json_kstr(struct fgu_json *j, const char *name, const char *s);
void fgu_json_ku64(struct fgu_json *j, const char *name, uint64_t v);
void fgu_json_ki64(struct fgu_json *j, const char *name, int64_t v);
void fgu_json_kbool(struct fgu_json *j, const char *name, int v);

/* @n bytes of @s as a JSON string (the encoder above), on its own. */
void fgu_json_string(struct fgd_buf *b, const void *s, size_t n);

#endif
