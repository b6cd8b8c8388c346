/* SPDX-License-Identifier: ISC */
/*
 * test_keys.c - key files and keyrings (gossip/keys.h).
 *
 * Each test works in a directory of its own made with mkdtemp() under /tmp
 * and removed afterwards (Criterion runs tests in parallel processes).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gossip/keys.h"
#include "gossip/wire.h"
#include "tests/helpers.h"

static char dir[64];

static void mkdir_tmp(void)
{
	strcpy(dir, "/tmp/fgkeys-XXXXXX");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	cr_assert_geq(sodium_init(), 0);
}

static void rm_tmp(void)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		if (unlink(p) != 0)
			(void)rmdir(p);
	}
	closedir(d);
	(void)rmdir(dir);
}

TestSuite(keys, .init = mkdir_tmp, .fini = rm_tmp, .timeout = 30);

static const char *at(const char *name)
{
	static char p[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
	return p[i];
}

static void write_file(const char *path, const void *s, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, s, len), (ssize_t)len);
	cr_assert_eq(fchmod(fd, mode), 0);
	cr_assert_eq(close(fd), 0);
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	n = read(fd, buf, cap - 1);
	cr_assert_geq(n, 0);
	buf[n] = '\0';
	close(fd);
	return (size_t)n;
}

/* A valid secret key file's text (88 base64 chars, no newline). */
static void secret_text(char out[89], uint8_t pk[FGW_PK_SIZE])
{
	uint8_t sk[FGW_SK_SIZE];

	crypto_sign_keypair(pk, sk);
	sodium_bin2base64(out, 89, sk, sizeof sk,
	                  sodium_base64_VARIANT_ORIGINAL);
}

/* ------------------------------------------------------------ keygen */

Test(keys, keygen_then_load_gives_the_key_of_the_pub_file)
{
	struct fgw_keyring kr;
	uint8_t pk[FGW_PK_SIZE], *sk = NULL;
	char err[256] = "", text[256];
	size_t n;

	cr_assert_eq(
	    fgk_keygen(at("node.key"), "node-1.example", err, sizeof err), 0,
	    "%s", err);
	n = read_file(at("node.key.pub"), text, sizeof text);
	cr_assert_eq(text[n - 1], '\n');
	cr_assert_eq(strncmp(text, "node-1.example ", 15), 0, "%s", text);
	cr_assert_eq(
	    fgk_keyring_parse(text, n, "node.key.pub", &kr, err, sizeof err), 0,
	    "%s", err);
	cr_assert_eq(kr.n, 1);
	cr_assert_str_eq(kr.keys[0].name, "node-1.example");

	cr_assert_eq(fgk_load_secret(at("node.key"), &sk, pk, err, sizeof err),
	             0, "%s", err);
	cr_assert_not_null(sk);
	cr_assert_eq(memcmp(pk, kr.keys[0].pk, FGW_PK_SIZE), 0);
	cr_assert_eq(fgw_keyring_find(&kr, pk), 0);

	/* And the loaded key signs what the .pub key verifies. */
	{
		struct fgw_writer w;
		struct fgw_view v;
		size_t len;

		fgw_begin(&w, 1200, pk, 1, 1);
		cr_assert_eq(fgw_add(&w, "api", 3, "k", 1, 1, 0), 0);
		len = fgw_finish(&w, sk);
		cr_assert_eq(fgw_open(w.buf, len, &kr, &v), FGW_OK);
		cr_assert_eq(v.origin, 0);
	}
	fgk_secret_free(sk);
	fgk_keyring_free(&kr);
	cr_assert_eq(kr.n, 0);
	cr_assert_null(kr.keys);
}

Test(keys, keygen_creates_the_secret_0600_whatever_the_umask)
{
	struct stat st;
	char err[256] = "", text[256];
	mode_t old = umask(0);

	cr_assert_eq(fgk_keygen(at("k"), "n", err, sizeof err), 0, "%s", err);
	umask(old);
	cr_assert_eq(lstat(at("k"), &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(lstat(at("k.pub"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0644);
	/* One line of 88 base64 characters. */
	cr_assert_eq(read_file(at("k"), text, sizeof text), 89);
	cr_assert_eq(text[88], '\n');
	cr_assert_null(memchr(text, '\n', 88));
}

Test(keys, keygen_refuses_to_overwrite)
{
	char err[256] = "", before[256], after[256];

	cr_assert_eq(fgk_keygen(at("k"), "n", err, sizeof err), 0, "%s", err);
	read_file(at("k"), before, sizeof before);
	err[0] = '\0';
	cr_assert_eq(fgk_keygen(at("k"), "n", err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "overwrite"), "%s", err);
	read_file(at("k"), after, sizeof after);
	cr_assert_str_eq(before, after, "the key is untouched");

	/* Only the .pub exists: refused, and no secret left behind. */
	write_file(at("m.pub"), "x\n", 2, 0644);
	cr_assert_eq(fgk_keygen(at("m"), "n", err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "m.pub"), "%s", err);
	cr_assert_eq(access(at("m"), F_OK), -1);
	cr_assert_eq(errno, ENOENT);
}

Test(keys, keygen_does_not_follow_symlinks)
{
	char err[256] = "";

	cr_assert_eq(symlink(at("target"), at("k")), 0);
	cr_assert_eq(fgk_keygen(at("k"), "n", err, sizeof err), -1);
	cr_assert_eq(access(at("target"), F_OK), -1, "target not created");
	cr_assert_eq(access(at("k.pub"), F_OK), -1);
}

Test(keys, keygen_rejects_bad_names)
{
	static const char *bad[] = {
	    "",
	    "a b",
	    "a/b",
	    "é",
	    "a\n",
	    "0123456789012345678901234567890123456789012345678901234567890123",
	};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		cr_assert_eq(fgk_keygen(at("k"), bad[i], err, sizeof err), -1,
		             "name '%s'", bad[i]);
		cr_assert_neq(err[0], '\0');
		cr_assert_eq(access(at("k"), F_OK), -1);
	}
	/* 63 characters is the longest. */
	cr_assert_eq(fgk_keygen(at("k"),
	                        "012345678901234567890123456789012345"
	                        "678901234567890123456789012",
	                        err, sizeof err),
	             0, "%s", err);
}

/* ------------------------------------------------------------ load */

Test(keys, load_refuses_a_key_readable_by_others_naming_chmod_600)
{
	static const mode_t bad[] = {0644, 0640, 0604, 0660, 0602, 0610};
	uint8_t pk[FGW_PK_SIZE], *sk;
	char err[512];
	size_t i;

	cr_assert_eq(fgk_keygen(at("k"), "n", err, sizeof err), 0, "%s", err);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(chmod(at("k"), bad[i]), 0);
		sk = (uint8_t *)1;
		err[0] = '\0';
		cr_assert_eq(fgk_load_secret(at("k"), &sk, pk, err, sizeof err),
		             -1, "mode %o", bad[i]);
		cr_assert_null(sk);
		cr_assert_not_null(strstr(err, "chmod 600"), "%s", err);
		{
			char mode[8];

			snprintf(mode, sizeof mode, "%04o", bad[i]);
			cr_assert_not_null(strstr(err, mode), "%s", err);
		}
	}
	cr_assert_eq(chmod(at("k"), 0400), 0);
	cr_assert_eq(fgk_load_secret(at("k"), &sk, pk, err, sizeof err), 0,
	             "%s", err);
	fgk_secret_free(sk);
}

Test(keys, load_rejects_malformed_key_files)
{
	char good[89], text[512], err[256];
	uint8_t pk[FGW_PK_SIZE], pk2[FGW_PK_SIZE], sk[FGW_SK_SIZE], *out;
	size_t i;
	struct {
		const char *what;
		char text[400];
	} bad[10];
	int nbad = 0;

	secret_text(good, pk);
	snprintf(bad[nbad].text, sizeof bad[nbad].text, "%s", "");
	bad[nbad++].what = "empty";
	snprintf(bad[nbad].text, sizeof bad[nbad].text, "hello\n");
	bad[nbad++].what = "not base64";
	snprintf(bad[nbad].text, sizeof bad[nbad].text, "%.44s\n", good);
	bad[nbad++].what = "too short";
	snprintf(bad[nbad].text, sizeof bad[nbad].text, "%s\n\n", good);
	bad[nbad++].what = "two lines";
	snprintf(bad[nbad].text, sizeof bad[nbad].text, "%s \n", good);
	bad[nbad++].what = "trailing space";
	snprintf(bad[nbad].text, sizeof bad[nbad].text, " %s\n", good);
	bad[nbad++].what = "leading space";
	snprintf(bad[nbad].text, sizeof bad[nbad].text, "%s\n", good);
	bad[nbad].text[10] = '*';
	bad[nbad++].what = "bad character";
	memset(bad[nbad].text, 'A', 300);
	bad[nbad].text[300] = '\0';
	bad[nbad++].what = "too long";
	/* A well-formed key whose public half is not its seed's. */
	crypto_sign_keypair(pk2, sk);
	sk[40] ^= 1;
	sodium_bin2base64(bad[nbad].text, sizeof bad[nbad].text, sk, sizeof sk,
	                  sodium_base64_VARIANT_ORIGINAL);
	bad[nbad++].what = "corrupt public half";

	for (i = 0; i < (size_t)nbad; i++) {
		write_file(at("k"), bad[i].text, strlen(bad[i].text), 0600);
		out = (uint8_t *)1;
		err[0] = '\0';
		cr_assert_eq(
		    fgk_load_secret(at("k"), &out, pk2, err, sizeof err), -1,
		    "%s", bad[i].what);
		cr_assert_null(out);
		cr_assert_neq(err[0], '\0');
		cr_assert_not_null(strstr(err, at("k")), "%s", err);
	}

	/* Without a final newline, or with CRLF, it is fine. */
	write_file(at("k"), good, 88, 0600);
	cr_assert_eq(fgk_load_secret(at("k"), &out, pk2, err, sizeof err), 0,
	             "%s", err);
	cr_assert_eq(memcmp(pk, pk2, FGW_PK_SIZE), 0);
	fgk_secret_free(out);
	snprintf(text, sizeof text, "%s\r\n", good);
	write_file(at("k"), text, strlen(text), 0600);
	cr_assert_eq(fgk_load_secret(at("k"), &out, pk2, err, sizeof err), 0,
	             "%s", err);
	fgk_secret_free(out);
	sodium_memzero(sk, sizeof sk);
}

Test(keys, load_rejects_missing_and_non_regular_files)
{
	uint8_t pk[FGW_PK_SIZE], *sk;
	char err[256];

	cr_assert_eq(fgk_load_secret(at("nope"), &sk, pk, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "No such file"), "%s", err);
	cr_assert_eq(mkdir(at("d"), 0700), 0);
	cr_assert_eq(fgk_load_secret(at("d"), &sk, pk, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "regular"), "%s", err);
	/* A FIFO must not block the open. */
	cr_assert_eq(mkfifo(at("f"), 0600), 0);
	cr_assert_eq(fgk_load_secret(at("f"), &sk, pk, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "regular"), "%s", err);
}

#ifdef UNDER_ASAN
Test(keys, loaded_secret_is_read_only)
{
	rm_tmp(); /* the fini does not run after a skip */
	cr_skip_test("ASan turns SIGSEGV into a report");
}
#else
Test(keys, loaded_secret_is_read_only, .signal = SIGSEGV)
{
	uint8_t pk[FGW_PK_SIZE], *sk = NULL;
	char err[256];

	cr_assert_eq(fgk_keygen(at("k"), "n", err, sizeof err), 0, "%s", err);
	cr_assert_eq(fgk_load_secret(at("k"), &sk, pk, err, sizeof err), 0,
	             "%s", err);
	rm_tmp(); /* the fini may not run after the signal */
	*(volatile uint8_t *)sk = 0;
}
#endif

/* ------------------------------------------------------------ keyring */

static void b64pk(char out[45], const uint8_t pk[FGW_PK_SIZE])
{
	sodium_bin2base64(out, 45, pk, FGW_PK_SIZE,
	                  sodium_base64_VARIANT_ORIGINAL);
}

Test(keys, keyring_parses_comments_blanks_tabs_and_crlf)
{
	uint8_t pk[3][FGW_PK_SIZE], other[FGW_PK_SIZE];
	char b[3][45], text[1024], err[256] = "";
	struct fgw_keyring kr;
	int i;

	for (i = 0; i < 3; i++) {
		randombytes_buf(pk[i], FGW_PK_SIZE);
		b64pk(b[i], pk[i]);
	}
	randombytes_buf(other, sizeof other);
	snprintf(text, sizeof text,
	         "# trusted nodes\n"
	         "\n"
	         "alpha %s\n"
	         "   \t  \n"
	         "\tbeta.example-2\t%s   # the second one\r\n"
	         "Gamma_3 %s",
	         b[0], b[1], b[2]);
	cr_assert_eq(
	    fgk_keyring_parse(text, strlen(text), "ring", &kr, err, sizeof err),
	    0, "%s", err);
	cr_assert_eq(kr.n, 3);
	cr_assert_str_eq(kr.keys[0].name, "alpha");
	cr_assert_str_eq(kr.keys[1].name, "beta.example-2");
	cr_assert_str_eq(kr.keys[2].name, "Gamma_3");
	for (i = 0; i < 3; i++)
		cr_assert_eq(fgw_keyring_find(&kr, pk[i]), i);
	cr_assert_eq(fgw_keyring_find(&kr, other), -1);
	fgk_keyring_free(&kr);

	cr_assert_eq(fgk_keyring_parse("", 0, "empty", &kr, err, sizeof err),
	             0);
	cr_assert_eq(kr.n, 0);
	cr_assert_eq(fgw_keyring_find(&kr, pk[0]), -1);
	fgk_keyring_free(&kr);
}

Test(keys, keyring_errors_name_file_and_line)
{
	uint8_t pk[FGW_PK_SIZE];
	char k1[45], k2[45], text[1024], want[64], err[256];
	struct fgw_keyring kr;
	size_t i;
	struct {
		const char *fmt; /* %1$s = k1, %2$s = k2 */
		int line;
		const char *why;
	} cases[] = {
	    {"a %1$s\nb\n", 2, "missing public key"},
	    {"a %1$s\nb %2$s extra\n", 2, "unexpected text"},
	    {"# c\n\nbad/name %1$s\n", 3, "bad name"},
	    {"a\xc3\xa9 %1$s\n", 1, "bad name"},
	    {"0123456789012345678901234567890123456789012345678901234567890"
	     "123 %1$s\n",
	     1, "bad name"},
	    {"a %1$s\nb AAAA\n", 2, "bad public key"},
	    {"a %1$s\nb %1$s=\n", 2, "bad public key"},
	    {"a %1$s\nb %2$.43s*\n", 2, "bad public key"},
	    {"a %1$s\nb %1$.42sB=\n", 2, "bad public key"}, /* pad bit */
	    {"a %1$s\nb %2$s\na %2$s\n", 3, "duplicate name 'a'"},
	    {"a %1$s\nb %2$s\nc %1$s\n", 3, "duplicate key"},
	    {"a %1$s\n\n\n\nb %2$s\rx\n", 5, "unexpected text"},
	};

	/* k1 ends in "=", with its last character's low bits zero. */
	randombytes_buf(pk, sizeof pk);
	pk[31] &= 0xf0;
	b64pk(k1, pk);
	cr_assert_eq(k1[43], '=');
	cr_assert_eq(k1[42], 'A'); /* 'B' there would set an unused bit */
	randombytes_buf(pk, sizeof pk);
	b64pk(k2, pk);

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(text, sizeof text, cases[i].fmt, k1, k2);
		err[0] = '\0';
		kr.n = 99;
		cr_assert_eq(fgk_keyring_parse(text, strlen(text), "peers.keys",
		                               &kr, err, sizeof err),
		             -1, "case %zu: %s", i, text);
		cr_assert_eq(kr.n, 0);
		cr_assert_null(kr.keys);
		snprintf(want, sizeof want, "peers.keys:%d: ", cases[i].line);
		cr_assert_eq(strncmp(err, want, strlen(want)), 0,
		             "case %zu: want '%s', got '%s'", i, want, err);
		cr_assert_not_null(strstr(err, cases[i].why),
		                   "case %zu: want '%s', got '%s'", i,
		                   cases[i].why, err);
	}
#pragma GCC diagnostic pop

	/* A NUL byte inside the text. */
	memcpy(text, "a \0b\n", 5);
	cr_assert_eq(fgk_keyring_parse(text, 5, "nul", &kr, err, sizeof err),
	             -1);
	cr_assert_eq(strncmp(err, "nul:1: ", 7), 0, "%s", err);
}

Test(keys, keyring_bounds_its_size)
{
	struct fgw_keyring kr;
	uint8_t pk[FGW_PK_SIZE];
	char k[45], err[256];
	size_t cap = (FGK_KEYRING_MAX + 1) * 64, len = 0, last = 0;
	char *text = malloc(cap);
	int i;

	cr_assert_not_null(text);
	for (i = 0; i <= FGK_KEYRING_MAX; i++) {
		randombytes_buf(pk, sizeof pk);
		b64pk(k, pk);
		last = len;
		len +=
		    (size_t)snprintf(text + len, cap - len, "n%d %s\n", i, k);
	}
	cr_assert_eq(fgk_keyring_parse(text, len, "big", &kr, err, sizeof err),
	             -1);
	cr_assert_not_null(strstr(err, "big:4097: more than 4096 keys"), "%s",
	                   err);
	/* Drop the last line: exactly the maximum is fine. */
	cr_assert_eq(fgk_keyring_parse(text, last, "big", &kr, err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(kr.n, FGK_KEYRING_MAX);
	fgk_keyring_free(&kr);

	/* Text over 1 MiB, even if only comments. */
	free(text);
	text = malloc(FGK_KEYRING_FILE_MAX + 1);
	cr_assert_not_null(text);
	memset(text, '#', FGK_KEYRING_FILE_MAX + 1);
	text[FGK_KEYRING_FILE_MAX] = '\n';
	cr_assert_eq(fgk_keyring_parse(text, FGK_KEYRING_FILE_MAX, "c", &kr,
	                               err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(fgk_keyring_parse(text, FGK_KEYRING_FILE_MAX + 1, "c", &kr,
	                               err, sizeof err),
	             -1);
	write_file(at("big"), text, FGK_KEYRING_FILE_MAX + 1, 0644);
	cr_assert_eq(fgk_keyring_load(at("big"), &kr, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "longer than"), "%s", err);
	free(text);
}

Test(keys, keyring_load_reads_a_file_and_refuses_a_world_writable_one)
{
	uint8_t pk[FGW_PK_SIZE];
	struct fgw_keyring kr;
	char line[128], k[45], err[256] = "";

	randombytes_buf(pk, sizeof pk);
	b64pk(k, pk);
	snprintf(line, sizeof line, "peer1 %s\n", k);
	write_file(at("ring"), line, strlen(line), 0644);
	cr_assert_eq(fgk_keyring_load(at("ring"), &kr, err, sizeof err), 0,
	             "%s", err);
	cr_assert_eq(kr.n, 1);
	cr_assert_eq(fgw_keyring_find(&kr, pk), 0);
	fgk_keyring_free(&kr);

	cr_assert_eq(chmod(at("ring"), 0666), 0);
	cr_assert_eq(fgk_keyring_load(at("ring"), &kr, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "chmod o-w"), "%s", err);

	/* Errors carry the path as the file name. */
	snprintf(line, sizeof line, "# x\npeer1\n");
	write_file(at("bad"), line, strlen(line), 0644);
	cr_assert_eq(fgk_keyring_load(at("bad"), &kr, err, sizeof err), -1);
	{
		char want[PATH_MAX + 8];

		snprintf(want, sizeof want, "%s:2: ", at("bad"));
		cr_assert_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
	}
	cr_assert_eq(fgk_keyring_load(at("none"), &kr, err, sizeof err), -1);
	cr_assert_eq(mkdir(at("dir"), 0700), 0);
	cr_assert_eq(fgk_keyring_load(at("dir"), &kr, err, sizeof err), -1);
}
