/* SPDX-License-Identifier: ISC */
/*
 * test_util.c - the shared text helpers (util/): the JSON writer's one
 * string rule, its punctuation, the strict integer parser, and figures
 * for people.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/human.h"
#include "util/json.h"
#include "util/num.h"
#include "util/why.h"

/* @n bytes as a JSON string, NUL-terminated in a static buffer. */
static const char *enc(const void *s, size_t n)
{
	static char text[512];
	struct fgd_buf b = {0};

	fgu_json_string(&b, s, n);
	cr_assert(!b.oom);
	snprintf(text, sizeof text, "%s", b.p);
	fgd_buf_free(&b);
	return text;
}

Test(json, strings_escape_quotes_backslashes_and_control_bytes)
{
	cr_assert_str_eq(enc("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
	cr_assert_str_eq(enc("\n\t\x01\x7f", 4),
	                 "\"\\u000a\\u0009\\u0001\\u007f\"");
	cr_assert_str_eq(enc("q\0r", 3), "\"q\\u0000r\"");
	cr_assert_str_eq(enc("", 0), "\"\"");
}

Test(json, valid_utf8_passes_and_every_invalid_byte_becomes_u_fffd)
{
	/* é (2 bytes), € (3), U+1F600 (4): as they are */
	cr_assert_str_eq(enc("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9),
	                 "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	/* a lone continuation, 0xff, an overlong '/', a surrogate, a cut
	 * sequence: one U+FFFD per byte that starts no valid sequence */
	cr_assert_str_eq(enc("\x80", 1), "\"\\ufffd\"");
	cr_assert_str_eq(enc("\xff", 1), "\"\\ufffd\"");
	cr_assert_str_eq(enc("\xc0\xaf", 2), "\"\\ufffd\\ufffd\"");
	cr_assert_str_eq(enc("\xed\xa0\x80", 3), "\"\\ufffd\\ufffd\\ufffd\"");
	cr_assert_str_eq(enc("a\xe2\x82", 3), "\"a\\ufffd\\ufffd\"");
	cr_assert_str_eq(enc("\xf4\x90\x80\x80", 4),
	                 "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

Test(json, a_string_of_digits_stays_a_string)
{
	struct fgd_buf b = {0};
	struct fgu_json j;

	/* issue 20: a key whose hex form is all digits */
	fgu_json_init(&j, &b);
	fgu_json_object(&j);
	fgu_json_kstr(&j, "key", "0123");
	fgu_json_kstr(&j, "y", "79");
	fgu_json_object_end(&j);
	cr_assert_str_eq(b.p, "{\"key\":\"0123\",\"y\":\"79\"}");
	fgd_buf_free(&b);
}

Test(json, the_writer_places_every_comma_and_colon)
{
	struct fgd_buf b = {0};
	struct fgu_json j;

	fgu_json_init(&j, &b);
	fgu_json_object(&j);
	fgu_json_name(&j, "a\"");
	fgu_json_array(&j);
	fgu_json_u64(&j, UINT64_MAX);
	fgu_json_i64(&j, INT64_MIN);
	fgu_json_object(&j);
	fgu_json_object_end(&j);
	fgu_json_array(&j);
	fgu_json_array_end(&j);
	fgu_json_null(&j);
	fgu_json_array_end(&j);
	fgu_json_kbool(&j, "t", 7);
	fgu_json_name(&j, "f");
	fgu_json_fixed(&j, 0.25, 4);
	fgu_json_object_end(&j);
	cr_assert_str_eq(b.p, "{\"a\\\"\":[18446744073709551615,"
	                      "-9223372036854775808,{},[],null],\"t\":true,"
	                      "\"f\":0.2500}");
	fgd_buf_free(&b);
}

Test(num, accepts_digits_in_range_only)
{
	uint64_t v = 42;

	cr_assert_eq(fgu_parse_uint("0", 1, 0, 10, &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(fgu_parse_uint("007", 3, 0, 10, &v), 0);
	cr_assert_eq(v, 7);
	cr_assert_eq(
	    fgu_parse_uint("18446744073709551615", 20, 0, UINT64_MAX, &v), 0);
	cr_assert_eq(v, UINT64_MAX);
	/* only @n bytes count: the text need not end there */
	cr_assert_eq(fgu_parse_uint("12/1s", 2, 0, 100, &v), 0);
	cr_assert_eq(v, 12);
}

Test(num, refuses_negative_junk_blanks_and_overflow_and_says_which)
{
	static const struct {
		const char *s;
		int err;
	} bad[] = {
	    {"", FGU_NUM_EMPTY},
	    {"-1", FGU_NUM_NEGATIVE},
	    {"-0", FGU_NUM_NEGATIVE},
	    {"+1", FGU_NUM_SYNTAX},
	    {" 1", FGU_NUM_SYNTAX},
	    {"1 ", FGU_NUM_SYNTAX},
	    {"0x10", FGU_NUM_SYNTAX},
	    {"12abc", FGU_NUM_SYNTAX},
	    {"1.5", FGU_NUM_SYNTAX},
	    {"18446744073709551616", FGU_NUM_RANGE}, /* 2^64 */
	    {"99999999999999999999999", FGU_NUM_RANGE},
	    {"11", FGU_NUM_RANGE}, /* above max */
	    {"1", FGU_NUM_RANGE},  /* below min */
	};
	uint64_t v = 42;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int e =
		    fgu_parse_uint(bad[i].s, strlen(bad[i].s),
		                   strcmp(bad[i].s, "1") == 0 ? 2 : 0,
		                   strlen(bad[i].s) > 12 ? UINT64_MAX : 10, &v);

		cr_assert_eq(e, bad[i].err, "'%s': %d, wanted %d", bad[i].s, e,
		             bad[i].err);
		cr_assert_eq(v, 42, "'%s' wrote the output", bad[i].s);
		cr_assert_str_neq(fgu_num_strerror(e), "");
	}
	cr_assert_eq(fgu_parse_uint(NULL, 0, 0, 1, &v), FGU_NUM_EMPTY);
	cr_assert_str_eq(fgu_num_strerror(FGU_NUM_NEGATIVE), "is negative");
}

Test(human, durations_pick_the_largest_unit_with_one_decimal_below_ten)
{
	static const struct {
		uint64_t ms;
		const char *text;
	} cases[] = {
	    {0, "0 ms"},        {850, "850 ms"},      {999, "999 ms"},
	    {999999, "17 min"}, {3599990, "1 h"},     {99, "99 ms"},
	    {1000, "1 s"},      {4575, "4.6 s"},      {9960, "10 s"},
	    {42000, "42 s"},    {59999, "1 min"},     {60000, "1 min"},
	    {90000, "1.5 min"}, {3600000, "1 h"},     {9000000, "2.5 h"},
	    {86400000, "1 d"},  {302400000, "3.5 d"}, {UINT64_MAX, ""},
	};
	char buf[FGU_HUMAN_MAX];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fgu_duration(cases[i].ms, buf, sizeof buf);
		if (cases[i].text[0] == '\0')
			cr_assert(strstr(buf, " d") != NULL, "%s", buf);
		else
			cr_assert_str_eq(buf, cases[i].text, "%llu ms: %s",
			                 (unsigned long long)cases[i].ms, buf);
	}
}

Test(human, rates_name_the_unit_of_a_one_unit_period)
{
	char buf[FGU_HUMAN_MAX];

	cr_assert_str_eq(fgu_rate(5, 1000, buf, sizeof buf), "5/s");
	cr_assert_str_eq(fgu_rate(1, 3600000, buf, sizeof buf), "1/h");
	cr_assert_str_eq(fgu_rate(100, 60000, buf, sizeof buf), "100/min");
	cr_assert_str_eq(fgu_rate(2, 86400000, buf, sizeof buf), "2/d");
	cr_assert_str_eq(fgu_rate(10, 1, buf, sizeof buf), "10/ms");
	cr_assert_str_eq(fgu_rate(3, 10000, buf, sizeof buf), "3/10 s");
	cr_assert_str_eq(fgu_rate(1, 1500, buf, sizeof buf), "1/1.5 s");
	cr_assert_str_eq(fgu_rate(1, 500, buf, sizeof buf), "1/500 ms");
}

Test(human, counts_agree_with_their_noun)
{
	char buf[FGU_HUMAN_MAX];

	cr_assert_str_eq(fgu_count(0, "peer", "peers", buf, sizeof buf),
	                 "0 peers");
	cr_assert_str_eq(fgu_count(1, "peer", "peers", buf, sizeof buf),
	                 "1 peer");
	cr_assert_str_eq(fgu_count(2, "peer", "peers", buf, sizeof buf),
	                 "2 peers");
}

Test(buf, grows_and_records_nothing_lost)
{
	struct fgd_buf b = {0};
	char big[10000];
	int i;

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	for (i = 0; i < 10; i++)
		fgd_buf_printf(&b, "%s", big);
	fgd_buf_add(&b, "yz", 2);
	cr_assert(!b.oom);
	cr_assert_eq(b.len, 10 * (sizeof big - 1) + 2);
	cr_assert_eq(b.p[b.len], '\0');
	cr_assert_eq(strcmp(b.p + b.len - 3, "xyz"), 0);
	fgd_buf_free(&b);
	cr_assert_null(b.p);
}

Test(why, a_refusal_says_why_within_the_buffer_and_returns_minus_one)
{
	char b[8];

	memset(b, 'x', sizeof b);
	cr_expect_eq(fgu_why(b, sizeof b, "bad '%s'", "value"), -1);
	cr_expect_str_eq(b, "bad 'va", "cut to the buffer, terminated");
	cr_expect_eq(fgu_why(NULL, 0, "%s", "nowhere"), -1, "no buffer");
	b[0] = 'x';
	cr_expect_eq(fgu_why(b, 0, "%s", "nothing"), -1);
	cr_expect_eq(b[0], 'x', "a zero-length buffer is not written");
}
