/* SPDX-License-Identifier: ISC */
/*
 * prom.h - a strict checker of the Prometheus text exposition format as
 * floodgate writes it, for the tests (metrics unit test, HTTP endpoint).
 *
 * Every line is "# HELP name text", "# TYPE name counter|gauge" or a sample
 * "name[{label="value",...}] value"; a family's HELP and TYPE come once,
 * before its samples; a sample belongs to the family declared last; names
 * start with floodgate_ (or process_, the standard process figures),
 * counters end in _total; no series twice.  prom_promtool() runs
 * Prometheus's own checker (promtool check metrics) on the same text.
 * prom_check() returns NULL or what is wrong (with the line);
 * prom_value() finds one series' value.
 */
#ifndef FG_TESTS_PROM_H
#define FG_TESTS_PROM_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static inline int prom_name_char(int c, int first)
{
	return isalpha(c) || c == '_' || c == ':' || (!first && isdigit(c));
}

/* Length of the metric name at @s, 0 if none. */
static inline size_t prom_name_len(const char *s)
{
	size_t n = 0;

	while (prom_name_char((unsigned char)s[n], n == 0))
		n++;
	return n;
}

/* Skip {label="value",...} at @s; NULL if malformed. */
static inline const char *prom_labels_end(const char *s)
{
	if (*s != '{')
		return s;
	s++;
	while (*s != '}') {
		size_t n = 0;

		while (isalpha((unsigned char)s[n]) || s[n] == '_' ||
		       (n > 0 && isdigit((unsigned char)s[n])))
			n++;
		if (n == 0 || s[n] != '=' || s[n + 1] != '"')
			return NULL;
		s += n + 2;
		while (*s != '"') {
			if (*s == '\0' || *s == '\n')
				return NULL;
			if (*s == '\\') {
				if (s[1] != '\\' && s[1] != '"' && s[1] != 'n')
					return NULL;
				s++;
			}
			s++;
		}
		s++;
		if (*s == ',')
			s++;
		else if (*s != '}')
			return NULL;
	}
	return s + 1;
}

/* Add @n bytes of @s to the set *@set as one member; 1 if it was there. */
static inline int prom_mark(char **set, size_t *len, const char *s, size_t n)
{
	char *needle = malloc(n + 2), *grown;
	int had;

	if (needle == NULL)
		return 1;
	needle[0] = '\x01';
	memcpy(needle + 1, s, n);
	needle[n + 1] = '\x01';
	had = *set && memmem(*set, *len, needle, n + 2) != NULL;
	if (!had && (grown = realloc(*set, *len + n + 2)) != NULL) {
		memcpy(grown + *len, needle, n + 2);
		*set = grown;
		*len += n + 2;
	}
	free(needle);
	return had;
}

static inline const char *prom_check(const char *text)
{
	static char why[512];
	char family[128] = "", *seen = NULL, *help = NULL;
	size_t seen_len = 0, help_len = 0;
	const char *line = text, *err = NULL;
	int ftype = 0; /* 1 counter, 2 gauge */

	if (text == NULL || *text == '\0')
		return "empty exposition";
	while (*line && err == NULL) {
		const char *eol = strchr(line, '\n'), *p;
		size_t len, n;

		if (eol == NULL) {
			err = "last line has no newline";
			break;
		}
		len = (size_t)(eol - line);
		if (len == 0) {
			err = "empty line";
		} else if (strncmp(line, "# HELP ", 7) == 0) {
			n = prom_name_len(line + 7);
			if (n == 0 || n >= sizeof family || line[7 + n] != ' ')
				err = "HELP without a name and text";
			else if (prom_mark(&help, &help_len, line + 7, n))
				err = "HELP twice";
			else {
				memcpy(family, line + 7, n);
				family[n] = '\0';
				ftype = 0;
			}
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			n = prom_name_len(line + 7);
			p = line + 7 + n;
			if (n == 0 || strlen(family) != n ||
			    strncmp(family, line + 7, n) != 0)
				err = "TYPE not after its HELP";
			else if (ftype != 0)
				err = "TYPE twice";
			else if (eol - p == 8 && strncmp(p, " counter", 8) == 0)
				ftype = 1;
			else if (eol - p == 6 && strncmp(p, " gauge", 6) == 0)
				ftype = 2;
			else
				err = "TYPE neither counter nor gauge";
			if (!err && strncmp(family, "floodgate_", 10) != 0 &&
			    strncmp(family, "process_", 8) != 0)
				err = "name not prefixed floodgate_ (or the "
				      "standard process_)";
			if (!err && ftype == 1 &&
			    (n < 6 || strcmp(family + n - 6, "_total") != 0))
				err = "counter name without _total";
		} else if (line[0] == '#') {
			err = "unknown comment";
		} else {
			char *endv;
			const char *v;

			n = prom_name_len(line);
			if (n == 0 || ftype == 0 || strlen(family) != n ||
			    strncmp(family, line, n) != 0) {
				err = "sample outside its family";
			} else if ((p = prom_labels_end(line + n)) == NULL ||
			           p >= eol || *p != ' ') {
				err = "malformed labels";
			} else {
				v = p + 1;
				(void)strtod(v, &endv);
				if (endv == v || endv != eol)
					err = "malformed value";
				else if (prom_mark(&seen, &seen_len, line,
				                   (size_t)(p - line)))
					err = "series twice";
			}
		}
		if (err)
			snprintf(why, sizeof why, "%s: \"%.*s\"", err,
			         (int)(len > 200 ? 200 : len), line);
		line = eol + 1;
	}
	free(seen);
	free(help);
	return err ? why : NULL;
}

/* promtool check metrics (Debian's prometheus package) on @text: NULL
 * when it passes, else what it said (or why it could not run). */
static inline const char *prom_promtool(const char *text)
{
	static char why[2048];
	char path[] = "/tmp/fgtest-prom-XXXXXX", cmd[128];
	FILE *f, *p;
	size_t n;
	int fd = mkstemp(path), rc;

	if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
		return "promtool: cannot write a temporary file";
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "promtool check metrics <%s 2>&1", path);
	p = popen(cmd, "r");
	if (p == NULL) {
		unlink(path);
		return "promtool: cannot run";
	}
	n = fread(why, 1, sizeof why - 1, p);
	why[n] = '\0';
	rc = pclose(p);
	unlink(path);
	if (rc == 0)
		return NULL;
	if (WIFEXITED(rc) && WEXITSTATUS(rc) == 127)
		return "promtool not found: install Debian's prometheus "
		       "package (scripts/deps.sh)";
	return why[0] ? why : "promtool check metrics failed";
}

/* The value of the series @series (name and labels exactly as written),
 * or -1 when absent. */
static inline double prom_value(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

#endif
