/* SPDX-License-Identifier: ISC */
/*
 * test_config.c - floodgate.conf(5) as fgd_config_parse() reads it.
 *
 * Every rejection is checked for the line it names ("t.conf:LINE:") and
 * for the word that says why, and every failure for a zeroed config (the
 * sanitizer build checks that nothing leaks).  The last tests publish
 * what parsed with fg_rule_set(): a config that parses never fails there.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "lib/floodgate.h"
#include "tests/helpers.h"

TestSuite(config, .timeout = 30);

static char err[512];

static int parse(const char *text, struct fgd_config *cfg)
{
	return fgd_config_parse(text, strlen(text), "t.conf", cfg, err,
	                        sizeof err);
}

static void parse_ok(const char *text, struct fgd_config *cfg)
{
	int r = parse(text, cfg);

	cr_assert_eq(r, 0, "expected to parse: %s\n--- text:\n%s", err, text);
}

static int zeroed(const struct fgd_config *cfg)
{
	static const struct fgd_config zero;

	return memcmp(cfg, &zero, sizeof zero) == 0;
}

/* @text (of @len bytes) is rejected at @line, the message has @why. */
static void rejects_n(const char *text, size_t len, int line, const char *why)
{
	struct fgd_config cfg;
	char where[32];

	memset(&cfg, 0xa5, sizeof cfg);
	snprintf(where, sizeof where, "t.conf:%d: ", line);
	cr_assert_eq(
	    fgd_config_parse(text, len, "t.conf", &cfg, err, sizeof err), -1,
	    "expected an error at line %d\n--- text:\n%s", line, text);
	cr_expect(strncmp(err, where, strlen(where)) == 0,
	          "message '%s' does not start with '%s'", err, where);
	cr_expect(strstr(err, why) != NULL, "message '%s' lacks '%s'", err,
	          why);
	cr_expect(zeroed(&cfg), "cfg not zeroed after an error");
}

static void rejects(const char *text, int line, const char *why)
{
	rejects_n(text, strlen(text), line, why);
}

/* The directive "@name @value" alone on line 2 is rejected. */
static void rejects_value(const char *name, const char *value, const char *why)
{
	char text[2048];

	snprintf(text, sizeof text, "# line 1\n%s %s\n", name, value);
	rejects(text, 2, why);
}

static void accepts_value(const char *name, const char *value)
{
	struct fgd_config cfg;
	char text[2048];

	snprintf(text, sizeof text, "%s %s\n", name, value);
	parse_ok(text, &cfg);
	fgd_config_free(&cfg);
}

static const struct sockaddr_in *in4(const struct fgd_addr *a)
{
	cr_assert_eq(a->ss.ss_family, AF_INET);
	cr_assert_eq(a->len, sizeof(struct sockaddr_in));
	return (const struct sockaddr_in *)&a->ss;
}

static const struct sockaddr_in6 *in6(const struct fgd_addr *a)
{
	cr_assert_eq(a->ss.ss_family, AF_INET6);
	cr_assert_eq(a->len, sizeof(struct sockaddr_in6));
	return (const struct sockaddr_in6 *)&a->ss;
}

static void expect_v4(const struct fgd_addr *a, const char *ip, unsigned port)
{
	const struct sockaddr_in *sin = in4(a);
	char buf[INET_ADDRSTRLEN];

	cr_assert_not_null(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf));
	cr_expect_str_eq(buf, ip);
	cr_expect_eq(ntohs(sin->sin_port), port);
}

static void expect_v6(const struct fgd_addr *a, const char *ip, unsigned port)
{
	const struct sockaddr_in6 *sin6 = in6(a);
	char buf[INET6_ADDRSTRLEN];

	cr_assert_not_null(
	    inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf));
	cr_expect_str_eq(buf, ip);
	cr_expect_eq(ntohs(sin6->sin6_port), port);
}

static void expect_rule(const struct fgd_rule *r, const char *name,
                        uint32_t capacity, uint32_t rate, uint32_t period_ms,
                        uint32_t flags)
{
	cr_expect_str_eq(r->name, name);
	cr_expect_eq(r->capacity, capacity, "%s capacity", name);
	cr_expect_eq(r->rate, rate, "%s rate", name);
	cr_expect_eq(r->period_ms, period_ms, "%s period", name);
	cr_expect_eq(r->flags, flags, "%s flags %#x", name, r->flags);
}

/* ------------------------------------------------------------ the whole */

Test(config, full_config_parses_into_the_right_fields)
{
	static const char text[] =
	    "segment /dev/shm/fg-prod\n"
	    "capacity 4096\n"
	    "mode 0600\n"
	    "user floodgate\n"
	    "group www-data\n"
	    "node-key /etc/floodgate/node.key\n"
	    "keyring /etc/floodgate/keyring\n"
	    "listen 10.0.0.1:7421\n"
	    "peer 10.0.0.2\n"
	    "peer 10.0.0.3:9000\n"
	    "interval 250ms\n"
	    "max-datagram 1400\n"
	    "rule api capacity 10 rate 5/1s scope global\n"
	    "rule login capacity 3 rate 1/1s on-full closed mode shadow\n"
	    "rule other capacity 60 rate 100/1m default\n";
	struct fgd_config cfg;

	parse_ok(text, &cfg);
	cr_expect_str_eq(cfg.segment, "/dev/shm/fg-prod");
	cr_expect_eq(cfg.capacity, 4096);
	cr_expect_eq(cfg.mode, 0600);
	cr_expect_str_eq(cfg.user, "floodgate");
	cr_expect_str_eq(cfg.group, "www-data");
	cr_expect_str_eq(cfg.node_key, "/etc/floodgate/node.key");
	cr_expect_str_eq(cfg.keyring, "/etc/floodgate/keyring");
	expect_v4(&cfg.listen, "10.0.0.1", 7421);
	cr_assert_eq(cfg.npeers, 2);
	expect_v4(&cfg.peers[0], "10.0.0.2", FGD_DEFAULT_PORT);
	expect_v4(&cfg.peers[1], "10.0.0.3", 9000);
	cr_expect_eq(cfg.interval_ms, 250);
	cr_expect_eq(cfg.max_datagram, 1400);
	cr_assert_eq(cfg.nrules, 3);
	expect_rule(&cfg.rules[0], "api", 10, 5, 1000, FG_RULE_GLOBAL);
	expect_rule(&cfg.rules[1], "login", 3, 1, 1000,
	            FG_RULE_FAIL_CLOSED | FG_RULE_SHADOW);
	expect_rule(&cfg.rules[2], "other", 60, 100, 60000, FG_RULE_DEFAULT);
	fgd_config_free(&cfg);
	cr_expect(zeroed(&cfg), "fgd_config_free zeroes");
	fgd_config_free(&cfg); /* twice is harmless */
	fgd_config_free(NULL);
}

Test(config, empty_text_gives_the_defaults)
{
	struct fgd_config cfg;

	cr_assert_eq(fgd_config_parse(NULL, 0, "t.conf", &cfg, err, sizeof err),
	             0, "%s", err);
	cr_expect_str_eq(cfg.segment, FG_DEFAULT_SEGMENT);
	cr_expect_eq(cfg.capacity, FG_DEFAULT_CAPACITY);
	cr_expect_eq(cfg.mode, 0660);
	cr_expect_str_eq(cfg.user, "");
	cr_expect_str_eq(cfg.group, "");
	cr_expect_str_eq(cfg.node_key, "");
	cr_expect_str_eq(cfg.keyring, "");
	expect_v4(&cfg.listen, "0.0.0.0", FGD_DEFAULT_PORT);
	cr_expect_eq(cfg.npeers, 0);
	cr_expect_null(cfg.peers);
	cr_expect_eq(cfg.interval_ms, FGD_DEFAULT_INTERVAL_MS);
	cr_expect_eq(cfg.max_datagram, FGD_DEFAULT_DATAGRAM);
	cr_expect_eq(cfg.nrules, 0);
	cr_expect_null(cfg.rules);
	fgd_config_free(&cfg);
}

Test(config, sample_config_parses)
{
	char path[4096];
	struct fgd_config cfg;
	int r;

	test_src_path("daemon/floodgate.conf.sample", path, sizeof path);
	r = fgd_config_load(path, &cfg, err, sizeof err);
	cr_assert_eq(r, 0, "%s", err);
	cr_expect_eq(cfg.npeers, 0,
	             "a single host until its peers are "
	             "uncommented (test_floodgated)");
	cr_expect_eq(cfg.nrules, 8);
	fgd_config_free(&cfg);
}

/* ---------------------------------------------------------- the lexicon */

Test(config, comments_and_blank_lines_are_ignored)
{
	static const char text[] = "# a comment\n"
	                           "\n"
	                           "   \t  \n"
	                           "\t# indented comment\n"
	                           "capacity 77 # trailing comment\n"
	                           "#capacity 88\n"
	                           "interval\t\t1s#no blank before it\n"
	                           "# a comment with UTF-8: d\xc3\xa9j\xc3\xa0 "
	                           "vu\n";
	struct fgd_config cfg;

	parse_ok(text, &cfg);
	cr_expect_eq(cfg.capacity, 77);
	cr_expect_eq(cfg.interval_ms, 1000);
	fgd_config_free(&cfg);
}

Test(config, crlf_line_ends_are_accepted)
{
	struct fgd_config cfg;

	parse_ok("capacity 5\r\n\r\nrule a capacity 1 rate 1/1s\r\n", &cfg);
	cr_expect_eq(cfg.capacity, 5);
	cr_expect_eq(cfg.nrules, 1);
	fgd_config_free(&cfg);
	/* a CR anywhere else is a control character */
	rejects("capacity 5\ncapacity\r6\n", 2, "control character 0x0d");
}

Test(config, missing_final_newline_still_parses_the_last_line)
{
	struct fgd_config cfg;

	parse_ok("capacity 5\ninterval 1s", &cfg);
	cr_expect_eq(cfg.interval_ms, 1000);
	fgd_config_free(&cfg);
	rejects("capacity 5\ninterval 1", 2, "interval");
}

Test(config, rejects_nul_byte_naming_its_line)
{
	static const char a[] = "capacity 5\ncapacity\0 6\n";
	static const char b[] = "capacity 5\n\n# comment \0 too\n";
	static const char c[] = "\0";

	rejects_n(a, sizeof a - 1, 2, "NUL");
	rejects_n(b, sizeof b - 1, 3, "NUL");
	rejects_n(c, sizeof c - 1, 1, "NUL");
}

Test(config, rejects_control_characters)
{
	rejects("capacity 5\x0c\n", 1, "control character 0x0c");
	rejects("\n# \x1b[31m\n", 2, "control character 0x1b");
	rejects("capacity 5\x7f\n", 1, "control character 0x7f");
}

Test(config, rejects_line_over_1024_bytes)
{
	char text[2100];
	struct fgd_config cfg;

	/* exactly 1024 bytes (and a CR) is fine */
	memset(text, '#', 1024);
	strcpy(text + 1024, "\r\ncapacity 9\n");
	parse_ok(text, &cfg);
	cr_expect_eq(cfg.capacity, 9);
	fgd_config_free(&cfg);

	strcpy(text, "capacity 9\n");
	memset(text + 11, ' ', 1025);
	strcpy(text + 11 + 1025, "\n");
	rejects(text, 2, "longer than 1024");
	/* no final newline either */
	text[11 + 1025] = '\0';
	rejects(text, 2, "longer than 1024");
}

Test(config, rejects_too_many_words)
{
	/* 33 words: the longest rule line has 24 */
	rejects("rule a capacity 1 rate 1/1s default default default default "
	        "default default default default default default default "
	        "default default default default default default default "
	        "default default default default default default default "
	        "default default\n",
	        1, "too many words");
}

Test(config, rejects_unknown_directive_naming_it)
{
	rejects("capacity 5\n\nfrobnicate 3\n", 3,
	        "unknown directive 'frobnicate'");
	rejects("Capacity 5\n", 1, "unknown directive 'Capacity'");
	rejects("peers 10.0.0.1\n", 1, "unknown directive 'peers'");
}

Test(config, rejects_second_single_valued_directive)
{
	static const char *const once[][2] = {
	    {"segment", "floodgate"}, {"capacity", "5"},
	    {"mode", "0660"},         {"user", "u"},
	    {"group", "g"},           {"node-key", "/k"},
	    {"keyring", "/r"},        {"listen", "127.0.0.1"},
	    {"interval", "1s"},       {"max-datagram", "1200"},
	};
	char text[256], why[64];
	size_t i;

	for (i = 0; i < sizeof once / sizeof once[0]; i++) {
		snprintf(text, sizeof text, "%s %s\n# between\n%s %s\n",
		         once[i][0], once[i][1], once[i][0], once[i][1]);
		snprintf(why, sizeof why, "'%s' given twice (first on line 1)",
		         once[i][0]);
		rejects(text, 3, why);
	}
}

Test(config, rejects_wrong_argument_count)
{
	rejects("capacity\n", 1, "'capacity' takes 1 argument");
	rejects("capacity 1 000\n", 1, "'capacity' takes 1 argument");
	rejects("\npeer 10.0.0.1 10.0.0.2\n", 2, "'peer' takes 1 argument");
	rejects("segment\n", 1, "'segment' takes 1 argument");
	rejects("rule\n", 1, "rule needs a name");
}

/* --------------------------------------------------------- directives */

Test(config, segment_takes_a_library_segment_name)
{
	char name[FGD_NAME_MAX + 2], path[FGD_PATH_MAX + 2];

	accepts_value("segment", "floodgate");
	accepts_value("segment", "fg_prod-2.v1");
	memset(name, 'n', sizeof name);
	name[FGD_NAME_MAX] = '\0';
	accepts_value("segment", name);
	memset(path, 'p', sizeof path);
	path[0] = '/';
	path[FGD_PATH_MAX] = '\0';
	path[100] = '/'; /* the last part within FG_SEG_BASE_MAX */
	accepts_value("segment", path);

	name[FGD_NAME_MAX] = 'n';
	name[FGD_NAME_MAX + 1] = '\0';
	rejects_value("segment", name, "a name of 1..64");
	rejects_value("segment", ".hidden", "not starting with '.'");
	rejects_value("segment", "a/b", "segment 'a/b'");
	rejects_value("segment", "bad!", "segment 'bad!'");
	rejects_value("segment", "/", "absolute path");
	/* as the library refuses them: the daemon and the CLI must take
	 * every segment the config takes */
	rejects_value("segment", "/tmp/x/", "last part is 1..200 bytes");
	path[100] = 'p';
	rejects_value("segment", path, "last part is 1..200 bytes");
	path[100] = '/';
	path[FGD_PATH_MAX] = 'p';
	path[FGD_PATH_MAX + 1] = '\0';
	rejects_value("segment", path, "at most 240 bytes");
}

Test(config, capacity_is_1_to_2_pow_32_strictly_decimal)
{
	struct fgd_config cfg;

	parse_ok("capacity 4294967296\n", &cfg);
	cr_expect_eq(cfg.capacity, UINT64_C(4294967296));
	fgd_config_free(&cfg);
	parse_ok("capacity 1\n", &cfg);
	cr_expect_eq(cfg.capacity, 1);
	fgd_config_free(&cfg);

	rejects_value("capacity", "0", "from 1 to 4294967296");
	rejects_value("capacity", "4294967297", "capacity '4294967297'");
	rejects_value("capacity", "18446744073709551616", "capacity");
	rejects_value("capacity", "99999999999999999999999", "capacity");
	rejects_value("capacity", "-1", "capacity '-1'");
	rejects_value("capacity", "+5", "capacity '+5'");
	rejects_value("capacity", "5k", "capacity '5k'");
	rejects_value("capacity", "0x10", "capacity '0x10'");
	rejects_value("capacity", "1e6", "capacity '1e6'");
}

Test(config, mode_is_octal_within_0770_with_0600)
{
	struct fgd_config cfg;

	parse_ok("mode 0640\n", &cfg);
	cr_expect_eq(cfg.mode, 0640);
	fgd_config_free(&cfg);
	parse_ok("mode 770\n", &cfg);
	cr_expect_eq(cfg.mode, 0770);
	fgd_config_free(&cfg);
	accepts_value("mode", "0600");

	rejects_value("mode", "0666", "others");
	rejects_value("mode", "0601", "others");
	rejects_value("mode", "4660", "setuid");
	rejects_value("mode", "1770", "sticky");
	rejects_value("mode", "0460", "must include 0600");
	rejects_value("mode", "0200", "must include 0600");
	rejects_value("mode", "0", "must include 0600");
	rejects_value("mode", "0680", "octal");
	rejects_value("mode", "rw-rw----", "octal");
	rejects_value("mode", "-0660", "octal");
	rejects_value("mode", "077777777777777777777777", "octal");
}

Test(config, huge_pages_is_on_or_off_and_off_by_default)
{
	struct fgd_config cfg;

	parse_ok("capacity 10\n", &cfg);
	cr_expect_eq(cfg.huge_pages, 0);
	fgd_config_free(&cfg);
	parse_ok("huge-pages on\n", &cfg);
	cr_expect_eq(cfg.huge_pages, 1);
	fgd_config_free(&cfg);
	accepts_value("huge-pages", "off");
	rejects_value("huge-pages", "yes", "must be on or off");
	rejects_value("huge-pages", "1", "must be on or off");
}

Test(config, user_and_group_are_names_not_resolved)
{
	struct fgd_config cfg;
	char name[FGD_NAME_MAX + 2];

	parse_ok("user no-such-user.x\ngroup 12345\n", &cfg);
	cr_expect_str_eq(cfg.user, "no-such-user.x");
	cr_expect_str_eq(cfg.group, "12345");
	fgd_config_free(&cfg);

	rejects_value("user", "bad:name", "user 'bad:name'");
	rejects_value("group", "a/b", "group 'a/b'");
	memset(name, 'u', sizeof name);
	name[FGD_NAME_MAX] = '\0';
	accepts_value("user", name);
	name[FGD_NAME_MAX] = 'u';
	name[FGD_NAME_MAX + 1] = '\0';
	rejects_value("group", name, "1..64");
}

Test(config, key_paths_are_absolute)
{
	struct fgd_config cfg;
	char path[FGD_PATH_MAX + 2];

	parse_ok("node-key /etc/fg/node.key\nkeyring /etc/fg/keyring\n", &cfg);
	cr_expect_str_eq(cfg.node_key, "/etc/fg/node.key");
	cr_expect_str_eq(cfg.keyring, "/etc/fg/keyring");
	fgd_config_free(&cfg);

	rejects_value("node-key", "node.key", "absolute path");
	rejects_value("keyring", "./keyring", "absolute path");
	memset(path, 'k', sizeof path);
	path[0] = '/';
	path[FGD_PATH_MAX] = '\0';
	accepts_value("keyring", path);
	path[FGD_PATH_MAX] = 'k';
	path[FGD_PATH_MAX + 1] = '\0';
	rejects_value("keyring", path, "at most 240 bytes");
}

Test(config, listen_and_peer_take_numeric_ipv4_with_optional_port)
{
	struct fgd_config cfg;

	parse_ok("listen 127.0.0.1:7421\npeer 127.0.0.2\npeer 127.0.0.3:1\n"
	         "peer 127.0.0.4:65535\n",
	         &cfg);
	expect_v4(&cfg.listen, "127.0.0.1", 7421);
	cr_assert_eq(cfg.npeers, 3);
	expect_v4(&cfg.peers[0], "127.0.0.2", FGD_DEFAULT_PORT);
	expect_v4(&cfg.peers[1], "127.0.0.3", 1);
	expect_v4(&cfg.peers[2], "127.0.0.4", 65535);
	fgd_config_free(&cfg);

	rejects_value("listen", "localhost", "numeric IPv4");
	rejects_value("peer", "gossip.example.com:7420", "numeric IPv4");
	rejects_value("peer", "10.0.0", "numeric IPv4");
	rejects_value("peer", "10.0.0.256", "numeric IPv4");
	rejects_value("peer", "010.0.0.1", "numeric IPv4");
	rejects_value("peer", ":7420", "numeric IPv4");
	rejects_value("peer", "10.0.0.1:0", "port must be");
	rejects_value("peer", "10.0.0.1:65536", "port must be");
	rejects_value("peer", "10.0.0.1:", "port must be");
	rejects_value("peer", "10.0.0.1:+80", "port must be");
	rejects_value("listen", "10.0.0.1:http", "port must be");
	rejects_value("peer", "0.0.0.0", "not a host's address");
}

Test(config, ipv6_addresses_go_in_brackets)
{
	struct fgd_config cfg;

	parse_ok("listen [::]:7421\npeer [::1]:7422\npeer [2001:db8::2]\n"
	         "peer 192.0.2.1\n",
	         &cfg);
	expect_v6(&cfg.listen, "::", 7421);
	cr_assert_eq(cfg.npeers, 3);
	expect_v6(&cfg.peers[0], "::1", 7422);
	expect_v6(&cfg.peers[1], "2001:db8::2", FGD_DEFAULT_PORT);
	expect_v4(&cfg.peers[2], "192.0.2.1", FGD_DEFAULT_PORT);
	fgd_config_free(&cfg);

	rejects_value("peer", "::1", "in brackets");
	rejects_value("peer", "2001:db8::2:7420", "in brackets");
	rejects_value("peer", "[::1", "missing ']'");
	rejects_value("peer", "[::1]7420", "junk after ']'");
	rejects_value("peer", "[::1]:", "port must be");
	rejects_value("peer", "[::1]:70000", "port must be");
	rejects_value("peer", "[]", "IPv6");
	rejects_value("peer", "[127.0.0.1]", "IPv6");
	rejects_value("peer", "[fe80::1%eth0]", "IPv6");
	rejects_value("peer", "[::]", "not a host's address");
	rejects_value("peer", "[::ffff:0.0.0.0]", "not a host's address");
}

Test(config, peers_of_another_family_than_listen_are_rejected)
{
	struct fgd_config cfg;

	/* the default listen is IPv4 */
	rejects("peer 10.0.0.2\npeer [2001:db8::2]\n", 2,
	        "peer [2001:db8::2]:7420 cannot be reached from listen "
	        "0.0.0.0:7420");
	rejects("peer 10.0.0.2\nlisten [2001:db8::1]\n", 1,
	        "peer 10.0.0.2:7420 cannot be reached");
	/* [::] is dual stack */
	parse_ok("peer 10.0.0.2\nlisten [::]\npeer [2001:db8::2]\n", &cfg);
	fgd_config_free(&cfg);
}

Test(config, rejects_duplicate_peers)
{
	rejects("peer 10.0.0.2\npeer 10.0.0.3\npeer 10.0.0.2\n", 3,
	        "peer '10.0.0.2': given twice");
	rejects("peer 10.0.0.2\npeer 10.0.0.2:7420\n", 2, "given twice");
	rejects("listen [::]\npeer [::1]:9\npeer [0:0::1]:9\n", 3,
	        "given twice");
	rejects("listen [::]\npeer 10.0.0.2\npeer [::ffff:10.0.0.2]\n", 3,
	        "given twice");
}

Test(config, accepts_up_to_FGD_MAX_PEERS_peers)
{
	size_t len = (FGD_MAX_PEERS + 1) * 32, off = 0;
	char *text = malloc(len);
	struct fgd_config cfg;
	int i;

	cr_assert_not_null(text);
	for (i = 0; i < FGD_MAX_PEERS; i++)
		off += (size_t)snprintf(text + off, len - off,
		                        "peer 10.1.%d.%d:%d\n", i / 250,
		                        i % 250 + 1, 7000 + i);
	parse_ok(text, &cfg);
	cr_expect_eq(cfg.npeers, FGD_MAX_PEERS);
	expect_v4(&cfg.peers[FGD_MAX_PEERS - 1], "10.1.4.24", 7000 + 1023);
	fgd_config_free(&cfg);
	snprintf(text + off, len - off, "peer 10.2.0.1\n");
	rejects(text, FGD_MAX_PEERS + 1, "more than 1024 peers");
	free(text);
}

Test(config, interval_is_a_duration_from_10ms_to_10s)
{
	static const struct {
		const char *s;
		uint32_t ms;
	} ok[] = {{"10ms", 10},
	          {"100ms", 100},
	          {"1s", 1000},
	          {"10s", 10000},
	          {"0010ms", 10}};
	struct fgd_config cfg;
	char text[64];
	size_t i;

	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		snprintf(text, sizeof text, "interval %s\n", ok[i].s);
		parse_ok(text, &cfg);
		cr_expect_eq(cfg.interval_ms, ok[i].ms, "%s", ok[i].s);
		fgd_config_free(&cfg);
	}
	rejects_value("interval", "9ms", "from 10ms to 10s");
	rejects_value("interval", "10001ms", "from 10ms to 10s");
	rejects_value("interval", "11s", "interval '11s'");
	rejects_value("interval", "1m", "interval '1m'");
	rejects_value("interval", "100", "interval '100'");
	rejects_value("interval", "1.5s", "interval '1.5s'");
	rejects_value("interval", "ms", "interval 'ms'");
	rejects_value("interval", "1sec", "interval '1sec'");
	rejects_value("interval", "99999999999999999999999s", "interval");
}

Test(config, ledger_size_is_a_count_of_marks_and_debt_window_a_duration)
{
	struct fgd_config cfg;

	parse_ok("", &cfg);
	cr_expect_eq(cfg.ledger_size, 0, "0: the default, by capacity");
	cr_expect_eq(cfg.debt_window_ms, 0, "0: the default, 60 s");
	fgd_config_free(&cfg);
	parse_ok("ledger-size 2000000\ndebt-window 5m\n", &cfg);
	cr_expect_eq(cfg.ledger_size, 2000000);
	cr_expect_eq(cfg.debt_window_ms, 300000);
	fgd_config_free(&cfg);
	rejects_value("ledger-size", "0", "from 1 to");
	rejects_value("ledger-size", "-5", "ledger-size '-5'");
	rejects_value("ledger-size", "99999999999999999999", "from 1 to");
	rejects_value("debt-window", "500ms", "from 1s to 24h");
	rejects_value("debt-window", "25h", "debt-window '25h'");
	rejects_value("debt-window", "60", "debt-window '60'");
}

Test(config, max_datagram_is_FGD_MIN_to_FGD_MAX_DATAGRAM)
{
	struct fgd_config cfg;

	parse_ok("max-datagram 512\n", &cfg);
	cr_expect_eq(cfg.max_datagram, FGD_MIN_DATAGRAM);
	fgd_config_free(&cfg);
	accepts_value("max-datagram", "1400");
	rejects_value("max-datagram", "511", "from 512 to 1400");
	rejects_value("max-datagram", "1401", "from 512 to 1400");
	rejects_value("max-datagram", "1200b", "max-datagram '1200b'");
}

/* --------------------------------------------------------------- rules */

Test(config, rule_keywords_come_in_any_order)
{
	static const char text[] =
	    "rule a capacity 1 rate 1/1ms\n"
	    "rule b rate 7/500ms capacity 9 default scope host\n"
	    "rule c mode enforce on-full open rate 2/1h "
	    "capacity 40000 scope global\n"
	    "rule d mode shadow on-full closed scope global rate "
	    "4294967295/1193h capacity 2\n"
	    "rule api:v2/users.x_y-z capacity 5 rate 1/1m\n";
	struct fgd_config cfg;

	parse_ok(text, &cfg);
	cr_assert_eq(cfg.nrules, 5);
	expect_rule(&cfg.rules[0], "a", 1, 1, 1, 0);
	expect_rule(&cfg.rules[1], "b", 9, 7, 500, FG_RULE_DEFAULT);
	expect_rule(&cfg.rules[2], "c", 40000, 2, 3600000, FG_RULE_GLOBAL);
	expect_rule(&cfg.rules[3], "d", 2, 4294967295u, 1193u * 3600000,
	            FG_RULE_GLOBAL | FG_RULE_FAIL_CLOSED | FG_RULE_SHADOW);
	expect_rule(&cfg.rules[4], "api:v2/users.x_y-z", 5, 1, 60000, 0);
	fgd_config_free(&cfg);
}

Test(config, rule_rejects_a_bad_rate_naming_the_rule)
{
	rejects("\nrule api capacity 5 rate 5\n", 2,
	        "rule 'api': rate must be N/PERIOD like 5/1s");
	rejects("rule api capacity 5 rate 5/1\n", 1,
	        "rule 'api': rate period '1' needs a unit");
	rejects("rule api capacity 5 rate 5/\n", 1, "rate must be N/PERIOD");
	rejects("rule api capacity 5 rate /1s\n", 1, "rate must be N/PERIOD");
	rejects("rule api capacity 5 rate 5/1d\n", 1, "rate must be N/PERIOD");
	rejects("rule api capacity 5 rate 5/s\n", 1, "rate must be N/PERIOD");
	rejects("rule api capacity 5 rate 5/1s/2\n", 1, "rate must be N/PER");
	rejects("rule api capacity 5 rate -5/1s\n", 1, "rate must be N/PER");
	rejects("rule api capacity 5 rate 4294967296/1s\n", 1,
	        "rate must be N/PERIOD");
	rejects("rule api capacity 5 rate 0/1s\n", 1, "at least 1");
	rejects("rule api capacity 5 rate 1/0s\n", 1, "at least 1ms");
	rejects("rule api capacity 5 rate 1/1194h\n", 1, "too long");
	rejects("rule api capacity 5 rate 1/4294967296ms\n", 1, "too long");
	accepts_value("rule", "api capacity 5 rate 1/4294967295ms");
}

Test(config, rule_rejects_bad_keywords_and_values)
{
	rejects("rule api capacity 0 rate 1/1s\n", 1,
	        "rule 'api': capacity '0' must be a number from 1 to "
	        "4294967295");
	rejects("rule api capacity 4294967296 rate 1/1s\n", 1, "capacity");
	rejects("rule api capacity ten rate 1/1s\n", 1, "capacity 'ten'");
	rejects(
	    "rule api capacity 1 rate 1/1s scope world\n", 1,
	    "rule 'api': scope must be host, global or strict, not 'world'");
	rejects("rule api capacity 1 rate 1/1s on-full maybe\n", 1,
	        "on-full must be open or closed");
	rejects("rule api capacity 1 rate 1/1s mode dry-run\n", 1,
	        "mode must be enforce or shadow");
	rejects("rule api capacity 1 rate 1/1s burst 5\n", 1,
	        "unknown keyword 'burst'");
	rejects("rule api capacity 1 rate 1/1s capacity 2\n", 1,
	        "'capacity' given twice");
	rejects("rule api default capacity 1 rate 1/1s default\n", 1,
	        "'default' given twice");
	rejects("rule api capacity 1 rate 1/1s scope host scope global\n", 1,
	        "'scope' given twice");
	rejects("rule api capacity 1 rate 1/1s scope\n", 1,
	        "'scope' needs a value");
	rejects("rule api rate 1/1s\n", 1, "rule 'api': needs capacity");
	rejects("rule api capacity 1\n", 1, "rule 'api': needs rate");
	rejects("rule api\n", 1, "needs capacity");
}

Test(config, rule_share_is_a_percentage_from_1_to_100)
{
	struct fgd_config cfg;

	parse_ok("rule a capacity 1 rate 1/1s share 25%\n"
	         "rule b in-flight 2 share 100%\n"
	         "rule c capacity 1 rate 1/1s share 1% scope global\n"
	         "rule d capacity 1 rate 1/1s\n",
	         &cfg);
	cr_assert_eq(cfg.nrules, 4);
	cr_expect_eq(cfg.rules[0].share_pct, 25);
	cr_expect_eq(cfg.rules[1].share_pct, 100);
	cr_expect_eq(cfg.rules[2].share_pct, 1);
	cr_expect_eq(cfg.rules[3].share_pct, 0, "none given: the default");
	fgd_config_free(&cfg);
	rejects("capacity 10\n\nrule api capacity 1 rate 1/1s share 0%\n", 3,
	        "rule 'api': share must be a percentage of the table from 1% "
	        "to 100%, like 25%, not '0%'");
	rejects("rule api capacity 1 rate 1/1s share 101%\n", 1, "not '101%'");
	rejects("rule api capacity 1 rate 1/1s share 50\n", 1, "not '50'");
	rejects("rule api capacity 1 rate 1/1s share %\n", 1, "not '%'");
	rejects("rule api capacity 1 rate 1/1s share -5%\n", 1, "not '-5%'");
	rejects("rule api capacity 1 rate 1/1s share 50%%\n", 1, "not '50%%'");
	rejects("rule api capacity 1 rate 1/1s share 0x10%\n", 1,
	        "not '0x10%'");
	rejects("rule api capacity 1 rate 1/1s share\n", 1,
	        "'share' needs a value");
	rejects("rule api capacity 1 rate 1/1s share 5% share 6%\n", 1,
	        "'share' given twice");
}

Test(config, rule_names_are_those_of_fg_rule_set)
{
	accepts_value("rule", "a234567890123456789012345678901 capacity 1 "
	                      "rate 1/1s");
	rejects("rule a2345678901234567890123456789012 capacity 1 rate 1/1s\n",
	        1, "name must be 1..31");
	rejects("rule bad! capacity 1 rate 1/1s\n", 1, "rule 'bad!'");
	rejects("rule caf\xc3\xa9 capacity 1 rate 1/1s\n", 1, "name must be");
	rejects("rule capacity 1 rate 1/1s\n", 1, "unknown keyword '1'");
}

Test(config, rejects_duplicate_rule_names_and_second_default)
{
	rejects("rule api capacity 1 rate 1/1s\n"
	        "rule web capacity 1 rate 1/1s\n"
	        "rule api capacity 2 rate 1/1s\n",
	        3, "rule 'api': defined twice");
	rejects("rule api capacity 1 rate 1/1s default\n"
	        "rule web capacity 1 rate 1/1s\n"
	        "rule other capacity 2 rate 1/1s default\n",
	        3, "a second default rule (the first is on line 1)");
}

Test(config, rule_limits_are_those_of_fg_rule_set)
{
	/* at most one token per nanosecond */
	accepts_value("rule", "r capacity 1 rate 1000000/1ms");
	rejects("rule r capacity 1 rate 1000001/1ms\n", 1,
	        "above one token per nanosecond");
	/* capacity * ceil(period_ns / rate) <= 2^56 */
	accepts_value("rule", "r capacity 20015 rate 1/1h");
	rejects("rule r capacity 20016 rate 1/1h\n", 1, "2^56 ns");
	accepts_value("rule", "r capacity 4294967295 rate 1/16ms");
	rejects("rule r capacity 4294967295 rate 1/17ms\n", 1, "2^56 ns");
}

Test(config, accepts_up_to_FG_RULES_MAX_rules)
{
	size_t len = (FG_RULES_MAX + 1) * 48, off = 0;
	char *text = malloc(len);
	struct fgd_config cfg;
	int i;

	cr_assert_not_null(text);
	for (i = 0; i < FG_RULES_MAX; i++)
		off += (size_t)snprintf(text + off, len - off,
		                        "rule r%d capacity %d rate 1/1s\n", i,
		                        i + 1);
	parse_ok(text, &cfg);
	cr_expect_eq(cfg.nrules, FG_RULES_MAX);
	expect_rule(&cfg.rules[FG_RULES_MAX - 1], "r254", 255, 1, 1000, 0);
	fgd_config_free(&cfg);
	snprintf(text + off, len - off, "rule one-more capacity 1 rate 1/1s\n");
	rejects(text, FG_RULES_MAX + 1, "more than 255 rules");
	free(text);
}

/* ------------------------------------------------------------ contract */

Test(config, error_after_allocations_frees_and_zeroes)
{
	/* peers and rules were allocated when line 4 fails */
	rejects("peer 10.0.0.1\nrule a capacity 1 rate 1/1s\n"
	        "peer 10.0.0.2\ncapacity x\n",
	        4, "capacity 'x'");
	/* the cross-directive check at the end fails after everything */
	rejects("rule a capacity 1 rate 1/1s\npeer [::1]\n", 2,
	        "cannot be reached");
}

Test(config, messages_fit_any_buffer)
{
	struct fgd_config cfg;
	char small[12];
	char big[200];

	memset(small, 'x', sizeof small);
	cr_assert_eq(fgd_config_parse("capacity 0\n", 11, "t.conf", &cfg, small,
	                              sizeof small),
	             -1);
	cr_expect_str_eq(small, "t.conf:1: c");
	cr_assert_eq(
	    fgd_config_parse("capacity 0\n", 11, "t.conf", &cfg, NULL, 0), -1);
	cr_assert_eq(
	    fgd_config_parse("capacity 0\n", 11, NULL, &cfg, big, sizeof big),
	    -1);
	cr_expect(strstr(big, ":1: capacity") != NULL, "%s", big);
	/* a long word is clipped in the message */
	memset(big, 'z', sizeof big);
	big[sizeof big - 1] = '\0';
	rejects(big, 1, "unknown directive 'zzzz");
	cr_expect(strlen(err) < 120, "%s", err);
	cr_expect_eq(fgd_config_parse("x", 1, "t.conf", NULL, big, sizeof big),
	             -1);
}

Test(config, random_mutations_never_crash)
{
	static const char base[] =
	    "segment fg\ncapacity 100\nmode 0660\nuser u\ngroup g\n"
	    "node-key /k\nkeyring /r\nlisten [::]:1\npeer 10.0.0.1:2\n"
	    "peer [::1]:3\ninterval 1s\nmax-datagram 600\n"
	    "rule a capacity 1 rate 1/1s scope global default\n"
	    "rule b capacity 2 rate 3/4ms on-full closed mode shadow\n";
	static const char alphabet[] = " \t\n\r#/:[]0123456789abcms.-\0";
	char text[sizeof base];
	struct fgd_config cfg;
	unsigned seed = 12345, i, j;

	parse_ok(base, &cfg);
	fgd_config_free(&cfg);
	for (i = 0; i < 20000; i++) {
		memcpy(text, base, sizeof text);
		for (j = 0; j < 1 + i % 4; j++) {
			seed = seed * 1103515245u + 12345u;
			text[(seed >> 8) % (sizeof base - 1)] =
			    alphabet[(seed >> 20) % (sizeof alphabet - 1)];
		}
		if (fgd_config_parse(text, sizeof base - 1, "t.conf", &cfg, err,
		                     sizeof err) == 0) {
			cr_assert(cfg.nrules <= FG_RULES_MAX);
			fgd_config_free(&cfg);
		} else {
			cr_assert(strncmp(err, "t.conf:", 7) == 0, "%s", err);
			cr_assert(zeroed(&cfg));
		}
	}
}

/* ---------------------------------------------------------------- files */

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

Test(config, load_reads_a_file_and_names_it_in_messages)
{
	char path[64];
	struct fgd_config cfg;

	snprintf(path, sizeof path, "/tmp/fgtest-cfg-%d.conf", (int)getpid());
	write_file(path, "capacity 42\n", 12);
	cr_assert_eq(fgd_config_load(path, &cfg, err, sizeof err), 0, "%s",
	             err);
	cr_expect_eq(cfg.capacity, 42);
	fgd_config_free(&cfg);

	write_file(path, "capacity 42\n\nmode 0666\n", 23);
	cr_assert_eq(fgd_config_load(path, &cfg, err, sizeof err), -1);
	cr_expect(strncmp(err, path, strlen(path)) == 0 &&
	              strncmp(err + strlen(path), ":3: mode", 8) == 0,
	          "%s", err);
	cr_expect(zeroed(&cfg));
	cr_assert_eq(unlink(path), 0);

	cr_assert_eq(fgd_config_load(path, &cfg, err, sizeof err), -1);
	cr_expect(strstr(err, "No such file") != NULL, "%s", err);
	cr_assert_eq(fgd_config_load("/tmp", &cfg, err, sizeof err), -1);
	cr_expect(strstr(err, "not a regular file") != NULL, "%s", err);
	cr_assert_eq(fgd_config_load(NULL, &cfg, err, sizeof err), -1);
}

Test(config, load_refuses_files_over_1_MiB)
{
	size_t len = (1u << 20) + 1;
	char *data = malloc(len), path[64];
	struct fgd_config cfg;

	cr_assert_not_null(data);
	memset(data, '\n', len);
	snprintf(path, sizeof path, "/tmp/fgtest-cfg-big-%d.conf",
	         (int)getpid());
	write_file(path, data, len - 1); /* exactly 1 MiB: fine */
	cr_assert_eq(fgd_config_load(path, &cfg, err, sizeof err), 0, "%s",
	             err);
	fgd_config_free(&cfg);
	write_file(path, data, len);
	cr_assert_eq(fgd_config_load(path, &cfg, err, sizeof err), -1);
	cr_expect(strstr(err, "larger than 1048576 bytes") != NULL, "%s", err);
	cr_expect(zeroed(&cfg));
	cr_assert_eq(unlink(path), 0);
	free(data);
}

/* ---------------------------------------------------------- publishing */

static void publish_all(const struct fgd_config *cfg)
{
	char seg[64];
	fg_segment_opts o = {.capacity = 64};
	fg_client *c = NULL;
	fg_rule_info info;
	size_t i;
	int r;

	snprintf(seg, sizeof seg, "fgtest-cfg-%d", (int)getpid());
	(void)fg_unlink(seg);
	r = fg_create(seg, &o, 0, &c);
	cr_assert_eq(r, 0, "fg_create: %s", fg_strerror(r));
	for (i = 0; i < cfg->nrules; i++) {
		const struct fgd_rule *cr = &cfg->rules[i];
		fg_rule rule;

		fgd_rule_lib(cr, &rule);
		r = fg_rule_set(c, &rule);
		cr_expect_eq(r, 0, "fg_rule_set(%s): %s", cr->name,
		             fg_strerror(r));
		if (r != 0)
			continue;
		cr_assert_eq(fg_rule_get(c, (uint32_t)i, &info), 0);
		cr_expect_str_eq(info.name, cr->name);
		cr_expect_eq(info.flags, cr->flags, "%s", cr->name);
	}
	fg_close(c);
	cr_expect_eq(fg_unlink(seg), 0);
}

Test(config, every_rule_that_parses_is_accepted_by_fg_rule_set)
{
	static const char text[] =
	    "rule seed capacity 5 rate 5/1s\n"
	    "rule fastest capacity 1 rate 1000000/1ms\n"
	    "rule fastest-big capacity 72057594 rate 1000000/1ms\n"
	    "rule slowest capacity 1 rate 1/4294967295ms\n"
	    "rule widest capacity 20015 rate 1/1h\n"
	    "rule widest2 capacity 4294967295 rate 1/16ms\n"
	    "rule odd capacity 4294967295 rate 4294967295/1193h\n"
	    "rule ceil capacity 4294967295 rate 3/50ms\n"
	    "rule g capacity 3 rate 1/1s scope global on-full closed\n"
	    "rule s capacity 3 rate 1/1s mode shadow default\n"
	    "rule a:b/c.d_e-f capacity 3 rate 1/1m\n";
	struct fgd_config cfg;

	parse_ok(text, &cfg);
	publish_all(&cfg);
	fgd_config_free(&cfg);
}

Test(config, sample_config_rules_are_accepted_by_fg_rule_set)
{
	char path[4096];
	struct fgd_config cfg;

	test_src_path("daemon/floodgate.conf.sample", path, sizeof path);
	cr_assert_eq(fgd_config_load(path, &cfg, err, sizeof err), 0, "%s",
	             err);
	publish_all(&cfg);
	fgd_config_free(&cfg);
}

Test(config, snapshot_is_an_absolute_path_with_an_optional_period)
{
	struct fgd_config cfg;

	parse_ok("", &cfg);
	cr_expect_eq(cfg.snapshot[0], '\0', "no snapshot by default");
	fgd_config_free(&cfg);
	parse_ok("snapshot /var/lib/floodgate/x.snap\n", &cfg);
	cr_expect_str_eq(cfg.snapshot, "/var/lib/floodgate/x.snap");
	cr_expect_eq(cfg.snapshot_every_ms, 60000);
	fgd_config_free(&cfg);
	parse_ok("snapshot /s every 5s\n", &cfg);
	cr_expect_eq(cfg.snapshot_every_ms, 5000);
	fgd_config_free(&cfg);
	rejects("snapshot relative.snap\n", 1, "absolute path");
	rejects("snapshot\n", 1, "snapshot PATH [every DURATION]");
	rejects("snapshot /s every\n", 1, "snapshot PATH [every DURATION]");
	rejects("snapshot /s often 5s\n", 1, "snapshot PATH [every DURATION]");
	rejects("snapshot /s every 500ms\n", 1, "from 1s to 1h");
	rejects("snapshot /s every 2h\n", 1, "every '2h'");
}
