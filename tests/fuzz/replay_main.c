/* SPDX-License-Identifier: ISC */
/*
 * replay_main.c - run a fuzz target over files, without libFuzzer.
 *
 *   replay_TARGET PATH...
 *
 * Every PATH is a file, or a directory whose regular files (not
 * dot-files, not subdirectories) are taken in name order.  Each file is
 * read into a heap block of exactly its size, as libFuzzer would hand it
 * over, so a build with --enable-sanitizers catches reads past the end,
 * and passed to LLVMFuzzerTestOneInput().  This is how `make check`
 * replays the seed corpora with any compiler (tests/fuzz/replay.sh), and
 * how a crash saved by `make fuzz` is reproduced under gdb or valgrind.
 *
 * A target that finds a bug aborts, so a clean exit means every input
 * passed.  Prints "N inputs" last; exits 2 on an unreadable path or when
 * no input was found at all (an empty corpus is a packaging bug, not a
 * pass).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fuzz/fuzz.h"

#define INPUT_MAX (16u << 20) /* no seed is anywhere near this */

/* Read @path and run it: 1, or 0 with a message. */
static int run_file(const char *path)
{
	uint8_t *buf = NULL;
	struct stat st;
	size_t len = 0;
	int fd, ok = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		goto out;
	}
	if (st.st_size > (off_t)INPUT_MAX) {
		fprintf(stderr, "%s: larger than %u bytes\n", path, INPUT_MAX);
		goto out;
	}
	/* malloc(0) may be NULL; libFuzzer never passes NULL. */
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (buf == NULL) {
		fprintf(stderr, "%s: out of memory\n", path);
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "%s: %s\n", path,
			        n < 0 ? strerror(errno) : "shrank while read");
			goto out;
		}
		len += (size_t)n;
	}
	(void)LLVMFuzzerTestOneInput(buf, len);
	ok = 1;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return ok;
}

static int not_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Run every file of @dir: the count, or -1. */
static long run_dir(const char *dir)
{
	struct dirent **names;
	long count = 0;
	char path[4096];
	struct stat st;
	int i, n;

	n = scandir(dir, &names, not_hidden, alphasort);
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		int len =
		    snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);

		if (count >= 0 && (len < 0 || (size_t)len >= sizeof path)) {
			fprintf(stderr, "%s/%s: path too long\n", dir,
			        names[i]->d_name);
			count = -1;
		} else if (count >= 0 && stat(path, &st) == 0 &&
		           S_ISREG(st.st_mode)) {
			count = run_file(path) ? count + 1 : -1;
		}
		free(names[i]);
	}
	free(names);
	return count;
}

int main(int argc, char **argv)
{
	struct stat st;
	long total = 0, n;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIRECTORY...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return 2;
		}
		if (S_ISDIR(st.st_mode))
			n = run_dir(argv[i]);
		else
			n = run_file(argv[i]) ? 1 : -1;
		if (n < 0)
			return 2;
		total += n;
	}
	printf("%ld inputs\n", total);
	if (total == 0)
		fprintf(stderr, "%s: no input found\n", argv[0]);
	return total > 0 ? 0 : 2;
}
