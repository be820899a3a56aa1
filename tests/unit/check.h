/* check.h: the ok/FAIL checks every unit test shares, so they all report alike: one line per
 * check ("ok   what  [cond]" or "FAIL what  [cond] (file:line)"), a failure counter, and
 * check_finish() for main's exit status. Header-only: each test is its own program. */
#ifndef MCPGATE_TESTS_CHECK_H
#define MCPGATE_TESTS_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

/* Tests may also bump this directly for failures they report in their own words. */
static int failures;

/* Prints one ok/FAIL line and counts a failure. cond_text/file may be NULL (function-style
 * checks). stdout is flushed on every line because several tests fork or die mid-run and a
 * buffered verdict would be lost or printed twice. */
__attribute__((format(printf, 5, 6), unused))
static void check_report(bool ok, const char *cond_text, const char *file, int line,
                         const char *fmt, ...)
{
	va_list ap;

	printf("%s", ok ? "ok   " : "FAIL ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (cond_text)
		printf("  [%s]", cond_text);
	if (!ok && file)
		printf(" (%s:%d)", file, line);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

/* CHECK(cond, fmt, ...): the usual check; the message says what was expected. */
#define CHECK(cond, ...) do { \
	bool check_ok_ = (cond) ? true : false; /* before the message's arguments are read */ \
	check_report(check_ok_, #cond, __FILE__, __LINE__, __VA_ARGS__); \
} while (0)

/* check_that(ok, fmt, ...): for helpers that computed the verdict themselves. */
#define check_that(ok, ...) do { \
	bool check_ok_ = (ok) ? true : false; \
	check_report(check_ok_, NULL, __FILE__, __LINE__, __VA_ARGS__); \
} while (0)

/* The summary line and main's exit status: non-zero when any check failed. */
__attribute__((unused))
static int check_finish(void)
{
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok", failures);
	fflush(stdout);
	return failures ? 1 : 0;
}

#endif
