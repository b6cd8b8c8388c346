/* SPDX-License-Identifier: ISC */
/*
 * test_redis_units.c - the Redis transport's parts that need no Redis:
 * its directives (through the config's parser, as floodgate.conf(5)
 * states them), the password file's checks, the circuit breaker on a
 * clock the test drives, and the script's call and reply (proto.h): the
 * argv a round sends, and every way a reply can be wrong, fed as RESP
 * bytes through hiredis's own reader as they would come off the socket.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "redis/breaker.h"
#include "redis/conf.h"
#include "redis/proto.h"
#include "redis/secret.h"

/* ------------------------------------------------------------ directives */

static int parse(const char *text, struct fgd_config *cfg, char *err,
                 size_t len)
{
	return fgd_config_parse(text, strlen(text), "t.conf", cfg, err, len);
}

#define KEY "node-key /etc/floodgate/node.key\n"

Test(redis_conf, sync_takes_a_tcp_url_with_port_and_database)
{
	struct fgd_config cfg;
	char err[256];

	cr_assert_eq(
	    parse(KEY "sync redis://10.0.0.7:6380/3\n", &cfg, err, sizeof err),
	    0, "%s", err);
	cr_expect(cfg.redis.on && !cfg.redis.unix_sock);
	cr_expect_str_eq(cfg.redis.host, "10.0.0.7");
	cr_expect_eq(cfg.redis.port, 6380);
	cr_expect_eq(cfg.redis.db, 3);
	cr_expect_eq(cfg.redis.timeout_ms, FGR_TIMEOUT_MS);
	cr_expect_str_eq(cfg.redis.ns, "floodgate");
	fgd_config_free(&cfg);
	cr_assert_eq(
	    parse(KEY "sync redis://redis.example\n", &cfg, err, sizeof err), 0,
	    "%s", err);
	cr_expect_str_eq(cfg.redis.host, "redis.example");
	cr_expect_eq(cfg.redis.port, 6379);
	cr_expect_eq(cfg.redis.db, 0);
	fgd_config_free(&cfg);
	cr_assert_eq(
	    parse(KEY "sync redis://[::1]:7000\n", &cfg, err, sizeof err), 0,
	    "%s", err);
	cr_expect_str_eq(cfg.redis.host, "::1");
	cr_expect_eq(cfg.redis.port, 7000);
	fgd_config_free(&cfg);
}

Test(redis_conf, sync_takes_a_unix_socket_with_a_database)
{
	struct fgd_config cfg;
	char err[256];

	cr_assert_eq(parse(KEY "sync unix:/run/redis/redis.sock?db=2\n"
	                       "redis-auth fg /etc/floodgate/redis.pw\n"
	                       "redis-timeout 100ms\nredis-namespace edge-1\n",
	                   &cfg, err, sizeof err),
	             0, "%s", err);
	cr_expect(cfg.redis.on && cfg.redis.unix_sock);
	cr_expect_str_eq(cfg.redis.path, "/run/redis/redis.sock");
	cr_expect_eq(cfg.redis.db, 2);
	cr_expect_str_eq(cfg.redis.user, "fg");
	cr_expect_str_eq(cfg.redis.password_file, "/etc/floodgate/redis.pw");
	cr_expect_eq(cfg.redis.timeout_ms, 100);
	cr_expect_str_eq(cfg.redis.ns, "edge-1");
	fgd_config_free(&cfg);
}

/* Each bad line, and the words its error must contain. */
static const struct {
	const char *text, *says;
} bad[] = {
    {KEY "sync rediss://r:6379\n", "no TLS"},
    {KEY "sync redis://u:p@r:6379\n", "redis-auth"},
    {KEY "sync redis://r?timeout=1\n", "no options"},
    {KEY "sync redis://r:0\n", "port"},
    {KEY "sync redis://r:65536\n", "port"},
    {KEY "sync redis://r:x\n", "port"},
    {KEY "sync redis://r/65536\n", "database"},
    {KEY "sync redis://r/-1\n", "database"},
    {KEY "sync redis://\n", "host"},
    {KEY "sync redis://a_b\n", "host"},
    {KEY "sync redis://[::1\n", "IPv6"},
    {KEY "sync unix:run/redis.sock\n", "absolute path"},
    {KEY "sync unix:/r.sock?timeout=1\n", "?db=N"},
    {KEY "sync memcached://r\n", "expected redis://"},
    {KEY "sync\n", "expected 'sync"},
    {KEY "sync redis://r\nsync redis://s\n", "given twice"},
    {KEY "sync redis://r\nredis-auth pw\n", "absolute path"},
    {KEY "sync redis://r\nredis-auth a b c\n", "redis-auth [USER]"},
    {KEY "sync redis://r\nredis-auth u!ser /p\n", "user 'u!ser'"},
    {KEY "sync redis://r\nredis-timeout 5ms\n", "10ms to 10s"},
    {KEY "sync redis://r\nredis-timeout 11s\n", "10ms to 10s"},
    {KEY "sync redis://r\nredis-namespace {x}\n", "redis-namespace"},
    {KEY "redis-auth /p\n", "need a sync"},
    {KEY "redis-timeout 1s\n", "need a sync"},
    {"sync redis://r\n", "needs node-key"},
};

Test(redis_conf, bad_redis_lines_are_refused_with_file_line_and_reason)
{
	struct fgd_config cfg;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_expect_eq(parse(bad[i].text, &cfg, err, sizeof err), -1,
		             "accepted: %s", bad[i].text);
		cr_expect(strncmp(err, "t.conf:", 7) == 0, "%s", err);
		cr_expect(strstr(err, bad[i].says) != NULL,
		          "%s: says '%s', not '%s'", bad[i].text, err,
		          bad[i].says);
	}
}

Test(redis_conf, a_sync_line_without_node_key_is_named_by_its_line)
{
	struct fgd_config cfg;
	char err[256];

	cr_assert_eq(
	    parse("capacity 100\n\nsync unix:/r.sock\n", &cfg, err, sizeof err),
	    -1);
	cr_expect(strncmp(err, "t.conf:3: ", 10) == 0, "%s", err);
}

/* ------------------------------------------------------------- password */

static char dir[64];

static void dir_make(void)
{
	snprintf(dir, sizeof dir, "/tmp/fg-redis-units-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void dir_rm(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static void put(const char *path, const char *text, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, n), (ssize_t)n);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

Test(redis_secret, a_password_is_one_line_without_its_line_end,
     .init = dir_make, .fini = dir_rm)
{
	struct fgr_secret s;
	char path[128], err[256];

	snprintf(path, sizeof path, "%s/pw", dir);
	put(path, "s3cret pass\r\n", 13, 0600);
	cr_assert_eq(fgr_secret_load(&s, path, err, sizeof err), 0, "%s", err);
	cr_expect_eq(s.len, 11);
	cr_expect_str_eq(s.pw, "s3cret pass");
	fgr_secret_free(&s);
	cr_expect_null(s.pw);
}

Test(redis_secret, a_password_file_others_may_read_is_refused_with_the_fix,
     .init = dir_make, .fini = dir_rm)
{
	struct fgr_secret s;
	char path[128], err[256];

	snprintf(path, sizeof path, "%s/pw", dir);
	put(path, "pw\n", 3, 0640);
	cr_assert_eq(fgr_secret_load(&s, path, err, sizeof err), -1);
	cr_expect(strstr(err, "mode 0640") && strstr(err, "chmod 600"), "%s",
	          err);
	cr_expect_null(s.pw);
}

Test(redis_secret, a_password_file_of_another_user_is_refused, .init = dir_make,
     .fini = dir_rm)
{
	struct fgr_secret s;
	char path[128], err[256];

	if (geteuid() != 0)
		cr_skip_test("needs root to give the file away");
	snprintf(path, sizeof path, "%s/pw", dir);
	put(path, "pw\n", 3, 0600);
	cr_assert_eq(chown(path, 65534, 65534), 0);
	cr_assert_eq(fgr_secret_load(&s, path, err, sizeof err), -1);
	cr_expect(strstr(err, "owned by uid 65534"), "%s", err);
}

Test(redis_secret, links_fifos_empty_long_and_binary_passwords_are_refused,
     .init = dir_make, .fini = dir_rm)
{
	struct fgr_secret s;
	char path[128], link[128], err[256], big[FGR_PASSWORD_MAX + 2];

	snprintf(path, sizeof path, "%s/pw", dir);
	snprintf(link, sizeof link, "%s/link", dir);
	put(path, "pw\n", 3, 0600);
	cr_assert_eq(symlink(path, link), 0);
	cr_expect_eq(fgr_secret_load(&s, link, err, sizeof err), -1);
	cr_expect(strstr(err, "symbolic link"), "%s", err);
	snprintf(link, sizeof link, "%s/fifo", dir);
	cr_assert_eq(mkfifo(link, 0600), 0);
	cr_expect_eq(fgr_secret_load(&s, link, err, sizeof err), -1);
	cr_expect(strstr(err, "not a regular file"), "%s", err);
	put(path, "\n", 1, 0600);
	cr_expect_eq(fgr_secret_load(&s, path, err, sizeof err), -1);
	cr_expect(strstr(err, "one line of 1 to"), "%s", err);
	memset(big, 'a', sizeof big);
	put(path, big, sizeof big, 0600);
	cr_expect_eq(fgr_secret_load(&s, path, err, sizeof err), -1);
	put(path, "a\0b\n", 4, 0600);
	cr_expect_eq(fgr_secret_load(&s, path, err, sizeof err), -1);
	cr_expect(strstr(err, "control character"), "%s", err);
	put(path, "a\nb\n", 4, 0600);
	cr_expect_eq(fgr_secret_load(&s, path, err, sizeof err), -1);
	cr_expect_null(s.pw);
}

/* -------------------------------------------------------------- breaker */

Test(redis_breaker, the_first_failure_opens_and_no_probe_comes_before_time)
{
	struct fgr_breaker b;

	fgr_breaker_init(&b, 1000);
	cr_expect(fgr_breaker_allow(&b, 1000));
	cr_expect_eq(fgr_breaker_failure(&b, 1000, 0), 1);
	cr_expect_eq(b.state, FGR_OPEN);
	cr_expect_eq(b.opens, 1);
	/* rnd 0: the first probe comes at the middle of the backoff */
	cr_expect_eq(b.probe_ms, 1000 + FGR_BACKOFF_MIN_MS / 2);
	cr_expect_not(fgr_breaker_allow(&b, b.probe_ms - 1));
	cr_expect_eq(b.probes, 0);
	cr_expect(fgr_breaker_allow(&b, b.probe_ms));
	cr_expect_eq(b.state, FGR_HALF_OPEN);
	cr_expect_eq(b.probes, 1);
}

Test(redis_breaker, failed_probes_double_the_wait_up_to_the_most)
{
	struct fgr_breaker b;
	uint32_t want = FGR_BACKOFF_MIN_MS;
	uint64_t t = 0;
	int k;

	fgr_breaker_init(&b, t);
	for (k = 0; k < 12; k++) {
		cr_expect_eq(fgr_breaker_failure(&b, t, UINT32_MAX), k == 0);
		cr_expect_eq(b.backoff_ms, want, "failure %d: %u, not %u", k,
		             b.backoff_ms, want);
		/* a random point of its second half, its end at most */
		cr_expect_leq(b.probe_ms, t + b.backoff_ms);
		cr_expect_geq(b.probe_ms, t + b.backoff_ms / 2);
		t = b.probe_ms;
		cr_expect(fgr_breaker_allow(&b, t));
		want = want * 2 > FGR_BACKOFF_MAX_MS ? FGR_BACKOFF_MAX_MS
		                                     : want * 2;
	}
	cr_expect_eq(b.opens, 1, "a failed probe does not open it again");
	cr_expect_eq(b.probes, 12);
}

Test(redis_breaker, a_probe_that_succeeds_closes_and_forgets_the_backoff)
{
	struct fgr_breaker b;

	fgr_breaker_init(&b, 0);
	cr_expect_eq(fgr_breaker_success(&b, 5), 0, "closed stays closed");
	(void)fgr_breaker_failure(&b, 10, 0);
	(void)fgr_breaker_failure(&b, 20, 0);
	cr_assert(fgr_breaker_allow(&b, 10000));
	cr_expect_eq(fgr_breaker_success(&b, 10001), 1);
	cr_expect_eq(b.state, FGR_CLOSED);
	cr_expect_eq(b.backoff_ms, 0);
	(void)fgr_breaker_failure(&b, 20000, 0);
	cr_expect_eq(b.backoff_ms, FGR_BACKOFF_MIN_MS);
	cr_expect_eq(b.opens, 2);
}

/* ---------------------------------------------------------------- call */

Test(redis_proto, a_call_names_the_script_key_and_every_record_in_decimal)
{
	const uint8_t key[] = {'a', 0, 0xff};
	struct fgr_out out = {.rule = "api",
	                      .rule_len = 3,
	                      .key = key,
	                      .key_len = 3,
	                      .ver = 7,
	                      .count = UINT64_MAX,
	                      .floor = 5};
	struct fgr_cursor cur = {.oid = 0xab, .inc = 123, .have = 4};
	struct fgr_call call = {.self = 0x0123456789abcdefull,
	                        .inc = 1796416533983056617ull,
	                        .from = 3,
	                        .to = 9,
	                        .ttl_ms = 60000,
	                        .budget = 100,
	                        .out = &out,
	                        .nout = 1,
	                        .cur = &cur,
	                        .ncur = 1};
	static const char *const want[] = {
	    "EVALSHA",
	    "0123456789012345678901234567890123456789",
	    "1",
	    "{ns}:tops",
	    "0123456789abcdef",
	    "1796416533983056617",
	    "3",
	    "9",
	    "60000",
	    "1",
	    "1",
	    "100",
	    NULL,
	    "7 18446744073709551615 5",
	    "00000000000000ab",
	    "123",
	    "4"};
	struct fgr_argv a;
	int i;

	cr_assert_eq(fgr_argv_build(&a, want[1], "ns", &call), 0);
	cr_assert_eq(a.argc, 17);
	for (i = 0; i < a.argc; i++) {
		if (want[i] == NULL)
			continue;
		cr_expect_eq(a.len[i], strlen(want[i]), "arg %d", i);
		cr_expect(memcmp(a.argv[i], want[i], a.len[i]) == 0,
		          "arg %d: %.*s", i, (int)a.len[i], a.argv[i]);
	}
	cr_expect_eq(a.len[12], 7); /* the field: length byte, rule, key */
	cr_expect(memcmp(a.argv[12], "\3api\0a\0\xff", 0) == 0);
	cr_expect_eq(a.argv[12][0], 3);
	cr_expect(memcmp(a.argv[12] + 1, "api", 3) == 0);
	cr_expect(memcmp(a.argv[12] + 4, key, 3) == 0);
	fgr_argv_free(&a);
}

Test(redis_proto, a_call_out_of_bounds_is_not_built)
{
	struct fgr_out out = {.rule = "r",
	                      .rule_len = 1,
	                      .key = (const uint8_t *)"k",
	                      .key_len = 1,
	                      .ver = 1,
	                      .count = 1,
	                      .floor = 2};
	struct fgr_call call = {.out = &out, .nout = 1, .budget = 1};
	struct fgr_argv a;

	cr_expect_eq(fgr_argv_build(&a, "sha", "ns", &call), -1,
	             "a floor above its count");
	out.floor = 0;
	out.key_len = FGR_KEY_MAX + 1;
	cr_expect_eq(fgr_argv_build(&a, "sha", "ns", &call), -1, "key");
	out.key_len = 1;
	call.budget = FGR_PULL_MAX + 1;
	cr_expect_eq(fgr_argv_build(&a, "sha", "ns", &call), -1, "budget");
	call.budget = 1;
	cr_expect_eq(fgr_argv_build(&a, "sha", "ns", &call), 0);
	fgr_argv_free(&a);
}

/* ---------------------------------------------------------------- reply */

/* The one reply in @resp, through hiredis's reader. */
static redisReply *resp(const char *text, size_t n)
{
	redisReader *rd = redisReaderCreate();
	void *r = NULL;

	cr_assert_not_null(rd);
	cr_assert_eq(redisReaderFeed(rd, text, n), REDIS_OK);
	cr_assert_eq(redisReaderGetReply(rd, &r), REDIS_OK, "%s", rd->errstr);
	cr_assert_not_null(r, "incomplete RESP in the test");
	redisReaderFree(rd);
	return r;
}

#define RESP(s) resp((s), sizeof(s) - 1)

/* Status ok, us at incarnation 5 up to version 9; one origin with two
 * records ("api"/"alice" and "api"/"bob"), next 12. */
#define GOOD                                                                   \
	"*4\r\n$2\r\nok\r\n$1\r\n5\r\n$1\r\n9\r\n"                             \
	"*7\r\n$16\r\n00000000000000ab\r\n$3\r\n100\r\n$2\r\n12\r\n"           \
	"$9\r\n\x03"                                                           \
	"apialice\r\n$6\r\n3 10 0\r\n"                                         \
	"$7\r\n\x03"                                                           \
	"apibob\r\n$6\r\n11 7 7\r\n"

Test(redis_proto, a_good_reply_gives_every_origin_and_record)
{
	redisReply *r = RESP(GOOD);
	struct fgr_reply p;
	struct fgr_origin o;
	struct fgr_record rec;
	char why[256];

	cr_assert_eq(fgr_reply_open(r, &p, why, sizeof why), 0, "%s", why);
	cr_expect_eq(p.status, FGR_PUSHED);
	cr_expect_eq(p.inc, 5);
	cr_expect_eq(p.top, 9);
	cr_assert_eq(p.norigins, 1);
	cr_expect_eq(p.nrec, 2);
	fgr_reply_origin(&p, 0, &o);
	cr_expect_eq(o.oid, 0xab);
	cr_expect_eq(o.inc, 100);
	cr_expect_eq(o.next, 12);
	cr_assert_eq(o.nrec, 2);
	fgr_reply_record(&o, 0, &rec);
	cr_expect(rec.rule_len == 3 && memcmp(rec.rule, "api", 3) == 0);
	cr_expect(rec.key_len == 5 && memcmp(rec.key, "alice", 5) == 0);
	cr_expect(rec.ver == 3 && rec.count == 10 && rec.floor == 0);
	fgr_reply_record(&o, 1, &rec);
	cr_expect(rec.key_len == 3 && memcmp(rec.key, "bob", 3) == 0);
	cr_expect(rec.ver == 11 && rec.count == 7 && rec.floor == 7);
	freeReplyObject(r);
}

Test(redis_proto, an_error_reply_is_told_as_what_redis_said)
{
	redisReply *r = RESP("-NOSCRIPT No matching script.\x01\r\n");
	struct fgr_reply p;
	char why[256];

	cr_expect_eq(fgr_reply_open(r, &p, why, sizeof why), -1);
	cr_expect_str_eq(why, "Redis said: NOSCRIPT No matching script.?");
	freeReplyObject(r);
}

/* Bad replies, each with a word of its message. */
static const struct {
	const char *resp;
	const char *says;
} bad_replies[] = {
    {":1\r\n", "not the script's reply"},
    {"*2\r\n$2\r\nok\r\n$1\r\n5\r\n", "not the script's reply"},
    {"*3\r\n$3\r\nyes\r\n$1\r\n5\r\n$1\r\n9\r\n", "ok, gap or stale"},
    {"*3\r\n$2\r\nok\r\n$2\r\n-5\r\n$1\r\n9\r\n", "ok, gap or stale"},
    {"*3\r\n$2\r\nok\r\n:5\r\n$1\r\n9\r\n", "ok, gap or stale"},
    {"*3\r\n$2\r\nok\r\n$1\r\n5\r\n$21\r\n184467440737095516160\r\n",
     "number is not one"},
    {"*4\r\n$2\r\nok\r\n$1\r\n5\r\n$1\r\n9\r\n:1\r\n", "origin 0"},
    {"*4\r\n$2\r\nok\r\n$1\r\n5\r\n$1\r\n9\r\n*4\r\n$16\r\n00000000000000ab"
     "\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\nx\r\n",
     "origin 0"},
    {"*4\r\n$2\r\nok\r\n$1\r\n5\r\n$1\r\n9\r\n*3\r\n$16\r\n00000000000000AB"
     "\r\n$1\r\n1\r\n$1\r\n1\r\n",
     "16 hex"},
    {"*4\r\n$2\r\nok\r\n$1\r\n5\r\n$1\r\n9\r\n*3\r\n$16\r\n0000000000000000"
     "\r\n$1\r\n1\r\n$1\r\n1\r\n",
     "16 hex"},
    {"*4\r\n$2\r\nok\r\n$1\r\n5\r\n$1\r\n9\r\n*3\r\n$15\r\n00000000000000a"
     "\r\n$1\r\n1\r\n$1\r\n1\r\n",
     "16 hex"},
};

/* One origin "ab" whose single record is @field and @value. */
static redisReply *one_record(const char *field, size_t flen, const char *value)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf,
	                 "*4\r\n$2\r\nok\r\n$1\r\n5\r\n$1\r\n9\r\n"
	                 "*5\r\n$16\r\n00000000000000ab\r\n$1\r\n1\r\n$1\r\n"
	                 "1\r\n$%zu\r\n",
	                 flen);

	memcpy(buf + n, field, flen);
	n += (int)flen;
	n += snprintf(buf + n, sizeof buf - (size_t)n, "\r\n$%zu\r\n%s\r\n",
	              strlen(value), value);
	return resp(buf, (size_t)n);
}

Test(redis_proto, a_reply_not_the_scripts_is_refused_whole)
{
	struct fgr_reply p;
	char why[256];
	size_t i;

	for (i = 0; i < sizeof bad_replies / sizeof bad_replies[0]; i++) {
		redisReply *r =
		    resp(bad_replies[i].resp, strlen(bad_replies[i].resp));

		cr_expect_eq(fgr_reply_open(r, &p, why, sizeof why), -1,
		             "accepted: %s", bad_replies[i].resp);
		cr_expect(strstr(why, bad_replies[i].says) != NULL,
		          "%zu: '%s' does not say '%s'", i, why,
		          bad_replies[i].says);
		cr_expect_null(p.r);
		freeReplyObject(r);
	}
}

Test(redis_proto, a_record_not_rule_key_version_count_floor_is_refused)
{
	static const struct {
		const char *field;
		size_t flen;
		const char *value;
	} rec[] = {
	    {"\x03"
	     "apik",
	     5, "1 2"},
	    {"\x03"
	     "apik",
	     5, "1 2 3"}, /* floor above count */
	    {"\x03"
	     "apik",
	     5, "0 2 1"}, /* version 0 */
	    {"\x03"
	     "apik",
	     5, "1  2 1"},
	    {"\x03"
	     "apik",
	     5, "1 2 1 "},
	    {"\x03"
	     "apik",
	     5, "1 2 +1"},
	    {"\x03"
	     "apik",
	     5, "1 2 18446744073709551616"},
	    {"\x03"
	     "api",
	     4, "1 2 1"}, /* no key */
	    {"\x00"
	     "apik",
	     5, "1 2 1"}, /* no rule */
	    {"\x20"
	     "apik",
	     5, "1 2 1"}, /* rule longer than the field */
	};
	char field[128];
	struct fgr_reply p;
	char why[256];
	size_t i;

	for (i = 0; i < sizeof rec / sizeof rec[0]; i++) {
		redisReply *r =
		    one_record(rec[i].field, rec[i].flen, rec[i].value);

		cr_expect_eq(fgr_reply_open(r, &p, why, sizeof why), -1,
		             "accepted record %zu", i);
		cr_expect(strstr(why, "VERSION COUNT FLOOR") != NULL, "%s",
		          why);
		freeReplyObject(r);
	}
	/* a key of FGR_KEY_MAX bytes passes, one more does not */
	field[0] = 3;
	memcpy(field + 1, "api", 3);
	memset(field + 4, 'k', FGR_KEY_MAX + 1);
	{
		redisReply *r = one_record(field, 4 + FGR_KEY_MAX, "1 2 1");

		cr_expect_eq(fgr_reply_open(r, &p, why, sizeof why), 0, "%s",
		             why);
		freeReplyObject(r);
		r = one_record(field, 5 + FGR_KEY_MAX, "1 2 1");
		cr_expect_eq(fgr_reply_open(r, &p, why, sizeof why), -1);
		freeReplyObject(r);
	}
}

Test(redis_proto, versions_out_of_order_are_refused)
{
	redisReply *r =
	    RESP("*4\r\n$2\r\nok\r\n$1\r\n5\r\n$1\r\n9\r\n"
	         "*7\r\n$16\r\n00000000000000ab\r\n$3\r\n100\r\n$2\r\n12\r\n"
	         "$5\r\n\x03"
	         "apia\r\n$6\r\n11 7 7\r\n"
	         "$5\r\n\x03"
	         "apib\r\n$6\r\n11 7 7\r\n");
	struct fgr_reply p;
	char why[256];

	cr_expect_eq(fgr_reply_open(r, &p, why, sizeof why), -1);
	cr_expect(strstr(why, "out of order") != NULL, "%s", why);
	freeReplyObject(r);
}
