/* JSON log lines on stderr. Each line is built in one buffer and written with one write(2),
 * so lines from concurrent processes sharing a pipe never interleave (PIPE_BUF). */
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char log_process_name[64] = "mcpgate";
static enum log_level log_min_level = LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error", "fatal" };

void log_init(const char *process)
{
	snprintf(log_process_name, sizeof log_process_name, "%s", process);
	const char *env = getenv("MCPGATE_LOG_LEVEL");
	enum log_level level;
	if (env && log_level_from_name(env, &level) == 0)
		log_min_level = level;
}

void log_set_level(enum log_level level) { log_min_level = level; }
enum log_level log_get_level(void) { return log_min_level; }
const char *log_process(void) { return log_process_name; }

int log_level_from_name(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

size_t json_escape(char *out, size_t cap, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc = 0;
		switch (c) {
		case '"': esc = '"'; break;
		case '\\': esc = '\\'; break;
		case '\n': esc = 'n'; break;
		case '\r': esc = 'r'; break;
		case '\t': esc = 't'; break;
		default: break;
		}
		if (esc) {
			if (o + 2 > cap) break;
			out[o++] = '\\';
			out[o++] = esc;
		} else if (c < 0x20 || c == 0x7f) {
			if (o + 6 > cap) break;
			out[o++] = '\\'; out[o++] = 'u'; out[o++] = '0'; out[o++] = '0';
			out[o++] = hex[c >> 4]; out[o++] = hex[c & 15];
		} else {
			if (o + 1 > cap) break;
			out[o++] = (char)c;
		}
	}
	return o;
}

struct line {
	char buf[PIPE_BUF];
	size_t len;
};

static void put_raw(struct line *l, const char *s)
{
	size_t n = strlen(s);
	if (n > sizeof l->buf - 2 - l->len) n = sizeof l->buf - 2 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_str(struct line *l, const char *s)
{
	put_raw(l, "\"");
	l->len += json_escape(l->buf + l->len, sizeof l->buf - 3 - l->len, s, strlen(s));
	put_raw(l, "\"");
}

static void put_key(struct line *l, const char *key)
{
	put_raw(l, ",");
	put_str(l, key);
	put_raw(l, ":");
}

void log_emit(enum log_level level, const char *event, const char *request_id,
              const struct log_field *fields)
{
	if (level < log_min_level)
		return;
	int saved_errno = errno;
	struct line l = { .len = 0 };
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[96];
	snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

	put_raw(&l, "{\"time\":\"");
	put_raw(&l, when);
	put_raw(&l, "\"");
	put_key(&l, "level");
	put_str(&l, level_names[level]);
	put_key(&l, "process");
	put_str(&l, log_process_name);
	put_key(&l, "event");
	put_str(&l, event);
	if (request_id) {
		put_key(&l, "request_id");
		put_str(&l, request_id);
	}
	for (const struct log_field *f = fields; f && f->type != LOG_FIELD_END; f++) {
		put_key(&l, f->key);
		if (f->type == LOG_FIELD_STR) {
			put_str(&l, f->str ? f->str : "");
		} else {
			char num[32];
			snprintf(num, sizeof num, "%lld", f->num);
			put_raw(&l, num);
		}
	}
	/* Room for the closing brace and newline is always kept back by put_raw. */
	l.buf[l.len++] = '}';
	l.buf[l.len++] = '\n';
	ssize_t w;
	do {
		w = write(STDERR_FILENO, l.buf, l.len);
	} while (w < 0 && errno == EINTR);
	errno = saved_errno;
}

noreturn void fatal_exit(enum exit_code code, const char *event, const struct log_field *fields)
{
	log_emit(LOG_FATAL, event, NULL, fields);
	_exit(code);
}
