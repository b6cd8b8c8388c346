/* SPDX-License-Identifier: ISC */
/*
 * test_floodgated.c - floodgated's command line, as an operator meets it:
 * --help and --version answer like any daemon's, and -t checks a
 * configuration and everything it names without starting, reporting every
 * error with its file and line, and refusing what the daemon itself
 * would refuse at start.
 *
 * The daemon under test is $FLOODGATED (make check sets it).  Each test
 * has its own directory, segment name (fg-ops-...) and port (tests/ports.h),
 * and removes them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "config.h"
#include "daemon/config.h"
#include "lib/floodgate.h"
#include "tests/cluster.h"
#include "tests/ports.h"
#include "tests/run.h"

static char dir[64], conf[128], seg[64];

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/fg-ops-fgd-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(conf, sizeof conf, "%s/n0.conf", dir);
	snprintf(seg, sizeof seg, "fg-ops-fgd-%d", (int)getpid());
}

static void teardown(void)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "rm -rf %s /dev/shm/%s /dev/shm/%s.*", dir,
	         seg, seg);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(options, .init = setup, .fini = teardown, .timeout = 30);
TestSuite(configtest, .init = setup, .fini = teardown, .timeout = 30);

/* ------------------------------------------------------------- running */

/* Run floodgated with the NULL-terminated arguments; capture both
 * outputs.  A daemon that starts is stopped after 2 s (it should not). */
static struct run fgd(const char *arg, ...)
{
	const char *argv[16] = {"floodgated"};
	va_list ap;
	int n = 1;

	va_start(ap, arg);
	for (; arg != NULL && n < 15; arg = va_arg(ap, const char *))
		argv[n++] = arg;
	va_end(ap);
	return run_program(daemon_path(), argv, dir, 2);
}

/* @text has the line @line. */
#define HAS_LINE(text, line)                                                   \
	cr_expect(has_line(text, line), "no line \"%s\" in:\n%s", line, text)

static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') &&
		    (p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

/* How many lines @text has. */
static int lines(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* ------------------------------------------------------------- options */

Test(options, help_prints_the_usage_on_stdout_and_exits_0)
{
	static const char *const how[] = {"--help", "-h"};
	size_t i;

	for (i = 0; i < 2; i++) {
		struct run r = fgd(how[i], NULL);

		EXPECT(r, 0);
		cr_expect(strncmp(r.out, "usage: floodgated ", 18) == 0,
		          "%s: %s", how[i], r.out);
		cr_expect(strstr(r.out, "--test") != NULL, "%s", r.out);
		cr_expect_str_empty(r.err);
		run_free(&r);
	}
}

Test(options, version_prints_the_package_version_and_exits_0)
{
	static const char *const how[] = {"--version", "-V"};
	size_t i;

	cr_assert_str_eq(FG_VERSION_STRING, PACKAGE_VERSION,
	                 "the library's version is the package's");
	for (i = 0; i < 2; i++) {
		struct run r = fgd(how[i], NULL);

		EXPECT(r, 0);
		cr_expect_str_eq(r.out, "floodgated " PACKAGE_VERSION "\n");
		cr_expect_str_empty(r.err);
		run_free(&r);
	}
}

Test(options, a_bad_command_line_is_a_usage_error_with_exit_2)
{
	struct run r;

	r = fgd("-x", NULL);
	EXPECT(r, 2);
	cr_expect(strstr(r.err, "usage: floodgated") != NULL, "%s", r.err);
	cr_expect_str_empty(r.out);
	run_free(&r);
	r = fgd(NULL); /* no -c */
	EXPECT(r, 2);
	run_free(&r);
	r = fgd("-c", conf, "extra", NULL);
	EXPECT(r, 2);
	run_free(&r);
	r = fgd("-t", "--keygen", "/nonexistent/k", NULL);
	EXPECT(r, 2);
	run_free(&r);
}

/* Every option the usage lists is in floodgated(8): the short one as
 * ".It Fl X", the long one as "Fl -name"; and the SYNOPSIS has the modes
 * of the usage's, -h included. */
Test(options, every_option_of_the_usage_is_in_the_man_page)
{
	const char *src = getenv("srcdir");
	char path[512], *man, *syn, *end, *p;
	struct run r = fgd("--help", NULL);
	int nopts = 0;

	EXPECT(r, 0);
	snprintf(path, sizeof path, "%s/man/floodgated.8", src ? src : "..");
	man = slurp(path);
	for (p = r.out; (p = strstr(p, "\n  ")) != NULL; p++) {
		char want[64], name[32];

		if (sscanf(p, "\n  -%*c, --%31[a-z]", name) != 1 &&
		    sscanf(p, "\n      --%31[a-z]", name) != 1)
			continue;
		if (p[3] == '-' && p[4] != '-') {
			snprintf(want, sizeof want, ".It Fl %c", p[4]);
			cr_expect(strstr(man, want) != NULL, "no %s", want);
		}
		snprintf(want, sizeof want, "Fl -%s", name);
		cr_expect(strstr(man, want) != NULL, "no %s", want);
		nopts++;
	}
	cr_expect_eq(nopts, 7, "the usage lists 7 options:\n%s", r.out);
	syn = strstr(man, ".Sh SYNOPSIS");
	end = syn ? strstr(syn, ".Sh DESCRIPTION") : NULL;
	cr_assert(syn && end);
	*end = '\0';
	cr_expect(strstr(syn, "Fl h") != NULL, "-h in the SYNOPSIS");
	cr_expect(strstr(syn, "Fl V") != NULL, "-V in the SYNOPSIS");
	cr_expect(strstr(syn, "Fl t") != NULL, "-t in the SYNOPSIS");
	cr_expect(strstr(syn, "Fl -keygen") != NULL, "--keygen too");
	free(man);
	run_free(&r);
}

/* ------------------------------------------------------------------ -t */

/* DIR/n0.conf: the segment, a port, and @more. */
static void conf_with(const char *more)
{
	char text[2048];

	snprintf(text, sizeof text,
	         "segment %s\ncapacity 128\nlisten 127.0.0.1:%d\n%s", seg,
	         fgt_ports(1), more);
	write_file(conf, text);
}

static void expect_ok(void)
{
	char want[200];
	struct run r = fgd("-t", "-c", conf, NULL);

	EXPECT(r, 0);
	snprintf(want, sizeof want, "%s: configuration ok\n", conf);
	cr_expect_str_eq(r.out, want);
	cr_expect_str_empty(r.err);
	run_free(&r);
}

Test(configtest, a_good_configuration_says_configuration_ok_and_exits_0)
{
	char more[512];

	snprintf(more, sizeof more,
	         "snapshot %s/state/fg.snap every 5s\nuser root\ngroup root\n"
	         "rule api capacity 10 rate 5/1s\n",
	         dir);
	snprintf(conf, sizeof conf, "%s/state", dir);
	cr_assert_eq(mkdir(conf, 0700), 0);
	snprintf(conf, sizeof conf, "%s/n0.conf", dir);
	conf_with(more);
	expect_ok();
	/* and a node of a cluster, with its key and keyring */
	make_node_keys(dir, 2);
	snprintf(more, sizeof more,
	         "node-key %s/n0.key\nkeyring %s/keyring\npeer 127.0.0.1:%d\n"
	         "rule api capacity 10 rate 5/1s scope global\n",
	         dir, dir, fgt_ports(1));
	conf_with(more);
	expect_ok();
}

Test(configtest, every_syntax_error_is_reported_with_its_file_and_line)
{
	char want[256];
	struct run r;

	char text[512];

	snprintf(text, sizeof text,
	         "segment %s\n"
	         "capacity 128\n"
	         "capcity 5\n"
	         "rule api capacity 10 rate 5/1s\n"
	         "rule api capacity 10 rate 5/1s\n"
	         "interval 5\n"
	         "# a comment\n"
	         "rule web capacity 10 rate 5\n",
	         seg);
	write_file(conf, text);
	r = fgd("-t", "-c", conf, NULL);
	EXPECT(r, 1);
	cr_expect_str_empty(r.out);
	snprintf(want, sizeof want, "%s:3: unknown directive 'capcity'", conf);
	HAS_LINE(r.err, want);
	snprintf(want, sizeof want, "%s:5: rule 'api': defined twice", conf);
	HAS_LINE(r.err, want);
	snprintf(want, sizeof want,
	         "%s:6: interval '5': must be a duration from 10ms to 10s, "
	         "like 100ms",
	         conf);
	HAS_LINE(r.err, want);
	snprintf(want, sizeof want, "%s:8: rule 'web': rate must be", conf);
	cr_expect(strstr(r.err, want) != NULL, "%s", r.err);
	snprintf(want, sizeof want, "%s: 4 errors", conf);
	HAS_LINE(r.err, want);
	cr_expect_eq(lines(r.err), 5, "one line each, and the total:\n%s",
	             r.err);
	run_free(&r);
}

/* What depends on the host, each on the line of its directive. */
Test(configtest, host_errors_name_the_line_of_their_directive)
{
	char more[1024], path[160], want[400];
	struct run r;

	make_node_keys(dir, 1);
	snprintf(path, sizeof path, "%s/n0.key", dir);
	cr_assert_eq(chmod(path, 0644), 0);
	snprintf(path, sizeof path, "%s/open", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(chmod(path, 0777), 0);
	snprintf(more, sizeof more,
	         "node-key %s/n0.key\n"        /* 4: readable by others */
	         "keyring %s/no-keyring\n"     /* 5: missing */
	         "user fg-ops-nosuchuser\n"    /* 6 */
	         "group fg-ops-nosuchgroup\n"  /* 7 */
	         "snapshot %s/open/fg.snap\n"  /* 8: others may write */
	         "control %s/no-dir/fg.sock\n" /* 9: no directory */
	         "rule api capacity 10 rate 5/1s\n",
	         dir, dir, dir, dir);
	conf_with(more);
	r = fgd("-t", "-c", conf, NULL);
	EXPECT(r, 1);
	cr_expect_str_empty(r.out);
	snprintf(want, sizeof want, "%s:4: %s/n0.key", conf, dir);
	cr_expect(strstr(r.err, want) != NULL, "%s\n%s", want, r.err);
	snprintf(want, sizeof want, "%s:5: %s/no-keyring", conf, dir);
	cr_expect(strstr(r.err, want) != NULL, "%s\n%s", want, r.err);
	snprintf(want, sizeof want,
	         "%s:6: user fg-ops-nosuchuser: no such user (adduser "
	         "--system fg-ops-nosuchuser creates it)",
	         conf);
	HAS_LINE(r.err, want);
	snprintf(want, sizeof want, "%s:7: group fg-ops-nosuchgroup: ", conf);
	cr_expect(strstr(r.err, want) != NULL, "%s\n%s", want, r.err);
	snprintf(want, sizeof want,
	         "%s:8: snapshot %s/open/fg.snap: directory %s/open (mode "
	         "0777",
	         conf, dir, dir);
	cr_expect(strstr(r.err, want) != NULL, "%s\n%s", want, r.err);
	snprintf(want, sizeof want,
	         "%s:9: control %s/no-dir/fg.sock: directory %s/no-dir: No "
	         "such file or directory",
	         conf, dir, dir);
	HAS_LINE(r.err, want);
	snprintf(want, sizeof want, "%s: 6 errors", conf);
	HAS_LINE(r.err, want);
	run_free(&r);
}

Test(configtest, peers_need_a_key_and_a_keyring_here_and_at_start)
{
	char more[512], want[300];
	struct run r;

	make_node_keys(dir, 1);
	snprintf(more, sizeof more,
	         "node-key %s/n0.key\npeer 127.0.0.1:%d\n"
	         "rule api capacity 10 rate 5/1s\n",
	         dir, fgt_ports(1));
	conf_with(more);
	r = fgd("-t", "-c", conf, NULL);
	EXPECT(r, 1);
	snprintf(want, sizeof want, "%s:5: peers need node-key and keyring",
	         conf);
	cr_expect(strstr(r.err, want) != NULL, "%s", r.err);
	run_free(&r);
	r = fgd("-f", "-c", conf, NULL);
	EXPECT(r, 1);
	cr_expect(strstr(r.err, "peers need node-key and keyring") != NULL,
	          "%s", r.err);
	run_free(&r);
}

Test(configtest, a_segment_of_another_capacity_is_reported_at_capacity)
{
	fg_segment_opts o = {.capacity = 64};
	char want[300];
	fg_client *c;
	struct run r;

	cr_assert_eq(fg_create(seg, &o, 0, &c), 0);
	fg_close(c);
	conf_with("rule api capacity 10 rate 5/1s\n");
	r = fgd("-t", "-c", conf, NULL);
	EXPECT(r, 1);
	snprintf(want, sizeof want,
	         "%s:2: segment /dev/shm/%s holds 64 keys, not the 128 of "
	         "capacity",
	         conf, seg);
	cr_expect(strstr(r.err, want) != NULL, "%s", r.err);
	run_free(&r);
}

Test(configtest, the_check_creates_nothing)
{
	char more[512], path[160];
	struct stat sb;

	snprintf(path, sizeof path, "%s/state", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(more, sizeof more,
	         "snapshot %s/state/fg.snap\nrule api capacity 10 rate "
	         "5/1s\n",
	         dir);
	conf_with(more);
	expect_ok();
	snprintf(path, sizeof path, "/dev/shm/%s", seg);
	cr_expect_neq(stat(path, &sb), 0, "no segment");
	snprintf(path, sizeof path, "/dev/shm/%s.sock", seg);
	cr_expect_neq(stat(path, &sb), 0, "no control socket");
	snprintf(path, sizeof path, "%s/state/fg.snap", dir);
	cr_expect_neq(stat(path, &sb), 0, "no snapshot");
}

/* "configuration ok" means the daemon starts; an error -t reports at
 * start is one the daemon refuses with the same words. */
Test(configtest, what_the_check_refuses_the_daemon_refuses_alike)
{
	char more[512], path[160];
	struct run t, d;
	const char *msg;

	snprintf(path, sizeof path, "%s/open", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(chmod(path, 0777), 0);
	snprintf(more, sizeof more,
	         "snapshot %s/open/fg.snap\nrule api capacity 10 rate 5/1s\n",
	         dir);
	conf_with(more);
	t = fgd("-t", "-c", conf, NULL);
	EXPECT(t, 1);
	d = fgd("-f", "-c", conf, NULL);
	EXPECT(d, 1);
	msg = strstr(t.err, "snapshot ");
	cr_assert_not_null(msg, "%s", t.err);
	*strchr(msg, '\n') = '\0';
	cr_expect(strstr(d.err, msg) != NULL, "-t: %s\ndaemon: %s", msg, d.err);
	snprintf(path, sizeof path, "/dev/shm/%s", seg);
	cr_expect_neq(access(path, F_OK), 0, "no segment was created");
	run_free(&t);
	run_free(&d);
}

/* -------------------------------------------------------------- sample */

TestSuite(sample, .init = setup, .fini = teardown, .timeout = 30);

/* The sample runs a single host as installed; its cluster lines, once
 * uncommented with the node's own listen address, make a node of three,
 * as its header says. */
Test(sample, the_sample_is_a_single_host_and_its_cluster_lines_make_a_node)
{
	const char *src = getenv("srcdir");
	char path[512], *text, *p, err[600];
	struct fgd_config cfg;
	size_t len;

	snprintf(path, sizeof path, "%s/daemon/floodgate.conf.sample",
	         src ? src : "..");
	cr_assert_eq(fgd_config_read(path, &text, &len, err, sizeof err), 0,
	             "%s", err);
	cr_assert_eq(fgd_config_parse(text, len, path, &cfg, err, sizeof err),
	             0, "%s", err);
	cr_expect_eq(cfg.npeers, 0);
	cr_expect_str_eq(cfg.node_key, "");
	cr_expect_str_eq(cfg.snapshot, "/var/lib/floodgate/floodgate.snap");
	cr_expect_str_eq(cfg.user, "floodgate");
	fgd_config_free(&cfg);
	/* uncomment node-key, keyring and peer; listen on 192.0.2.1 */
	for (p = text; p < text + len; p++) {
		if (p != text && p[-1] != '\n')
			continue;
		if (!strncmp(p, "#node-key ", 10) ||
		    !strncmp(p, "#keyring ", 9) || !strncmp(p, "#peer ", 6))
			*p = ' ';
		if (!strncmp(p, "listen 127.0.0.1:7420", 21))
			memcpy(p, "listen 192.0.2.1:7420", 21);
	}
	cr_assert_eq(fgd_config_parse(text, len, path, &cfg, err, sizeof err),
	             0, "%s", err);
	cr_expect_eq(cfg.npeers, 2);
	cr_expect_str_eq(cfg.node_key, "/etc/floodgate/node.key");
	cr_expect_str_eq(cfg.keyring, "/etc/floodgate/keyring");
	fgd_config_free(&cfg);
	free(text);
}
