/* log_capture.h: sends what a test's library code logs (stderr) to a file in the test's
 * temporary directory and reads it back, so the test can check what was logged and that no
 * secret was. Header-only, for test programs. */
#ifndef MCPGATE_TESTS_LOG_CAPTURE_H
#define MCPGATE_TESTS_LOG_CAPTURE_H

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct log_capture {
	char path[128];
	int fd;
	int saved_stderr;
};

/* Redirects stderr to DIR/log (created afresh). Returns 0, or -1 with stderr untouched. */
__attribute__((unused))
static int log_capture_start(struct log_capture *c, const char *dir)
{
	snprintf(c->path, sizeof c->path, "%s/log", dir);
	c->saved_stderr = -1;
	c->fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (c->fd < 0)
		return -1;
	c->saved_stderr = dup(2);
	if (c->saved_stderr < 0 || dup2(c->fd, 2) < 0) {
		close(c->fd);
		return -1;
	}
	return 0;
}

/* The opening of a test that talks to a loopback double and checks its own log: a source
 * root argument, SIGPIPE ignored (a double may close early), the logger at debug level under
 * `name`, a fresh temporary directory (mkdtemp template `tmpdir`) and stderr captured there.
 * Returns 0, or 2 (the usage/set-up failure status) after saying why. */
__attribute__((unused))
static int log_capture_test_begin(int argc, char **argv, const char *name, char *tmpdir,
                                  struct log_capture *c)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s SOURCE_ROOT\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	log_init(name);
	log_set_level(LOG_DEBUG);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	if (log_capture_start(c, tmpdir) != 0) {
		perror("log capture");
		return 2;
	}
	return 0;
}

/* Puts stderr back; the file stays until log_capture_remove. */
__attribute__((unused))
static void log_capture_stop(struct log_capture *c)
{
	if (c->saved_stderr >= 0) {
		dup2(c->saved_stderr, 2);
		close(c->saved_stderr);
		c->saved_stderr = -1;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Deletes the file, unless KEEP_LOG is set (then says where it is). */
__attribute__((unused))
static void log_capture_remove(const struct log_capture *c)
{
	if (getenv("KEEP_LOG"))
		fprintf(stderr, "log kept: %s\n", c->path);
	else
		unlink(c->path);
}

/* The first CAP bytes of the log, NUL-terminated, to free(); *len their count. An unreadable
 * log reads as empty, so the caller's checks on it fail. */
__attribute__((unused))
static char *log_capture_read(const struct log_capture *c, size_t cap, size_t *len)
{
	char *log = calloc(1, cap + 1);
	if (!log) {
		perror("calloc");
		exit(2);
	}
	FILE *f = fopen(c->path, "r");
	*len = f ? fread(log, 1, cap, f) : 0;
	if (f)
		fclose(f);
	log[*len] = '\0';
	return log;
}

/* True when LOG holds none of the N markers; names each one it does hold. */
__attribute__((unused))
static bool log_holds_none(const char *log, const char *const markers[], size_t n)
{
	bool clean = true;
	for (size_t i = 0; i < n; i++)
		if (strstr(log, markers[i])) {
			printf("     the log holds %s...\n", markers[i]);
			clean = false;
		}
	return clean;
}

#endif
