/* Child log relay: line splitting with a bound, re-stamping of "process", wrapping of text. */
#include "logrelay.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static void now_rfc3339(char *out, size_t cap)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char base[32];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, cap, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

/* The fixed keys come first and are always there, whatever the child wrote. */
static json_t *normalise(json_t *in, const char *name)
{
	json_t *out = json_object();
	const char *t = json_string_value(json_object_get(in, "time"));
	char now[64];
	if (!t) {
		now_rfc3339(now, sizeof now);
		t = now;
	}
	enum log_level lvl;
	const char *level = json_string_value(json_object_get(in, "level"));
	const char *event = json_string_value(json_object_get(in, "event"));
	json_object_set_new(out, "time", json_string(t));
	json_object_set_new(out, "level", json_string(level && log_level_from_name(level, &lvl) == 0 ? level : "info"));
	json_object_set_new(out, "process", json_string(name));
	json_object_set_new(out, "event", json_string(event ? event : "child_log"));
	const char *key;
	json_t *v;
	json_object_foreach(in, key, v) {
		if (strcmp(key, "time") && strcmp(key, "level") && strcmp(key, "process") && strcmp(key, "event"))
			json_object_set(out, key, v);
	}
	const char *claimed = json_string_value(json_object_get(in, "process"));
	if (claimed && strcmp(claimed, name) != 0)
		json_object_set_new(out, "claimed_process", json_string(claimed));
	return out;
}

void logrelay_emit_line(const char *name, const char *line, size_t len, bool truncated)
{
	json_t *obj = NULL;
	if (!truncated && len > 1 && line[0] == '{')
		obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(obj)) {
		json_t *norm = normalise(obj, name);
		char *text = json_dumps(norm, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(norm);
		if (text) {
			size_t tlen = strlen(text);
			text[tlen] = '\n'; /* json_dumps allocates tlen + 1; the NUL becomes the newline */
			ssize_t w;
			do {
				w = write(STDERR_FILENO, text, tlen + 1);
			} while (w < 0 && errno == EINTR);
			free(text);
		}
		json_decref(obj);
		return;
	}
	json_decref(obj);
	/* Not one of ours: carry it as data. */
	char copy[LOGRELAY_LINE_MAX + 1];
	size_t n = len < LOGRELAY_LINE_MAX ? len : LOGRELAY_LINE_MAX;
	memcpy(copy, line, n);
	copy[n] = '\0';
	struct log_field fields[] = {
		LOG_STR("child", name),
		LOG_STR("line", copy),
		LOG_INT("truncated", truncated),
		{ 0 },
	};
	log_emit(LOG_INFO, "child_output", NULL, fields);
}

static void relay_lines(struct logrelay *lr)
{
	size_t start = 0;
	for (size_t i = 0; i < lr->len; i++) {
		if (lr->buf[i] != '\n')
			continue;
		if (lr->skipping)
			lr->skipping = false;
		else if (i > start)
			logrelay_emit_line(lr->name, lr->buf + start, i - start, false);
		start = i + 1;
	}
	memmove(lr->buf, lr->buf + start, lr->len - start);
	lr->len -= start;
	if (lr->len == sizeof lr->buf) {
		/* A line longer than the bound: keep its head, drop the rest. */
		if (!lr->skipping)
			logrelay_emit_line(lr->name, lr->buf, lr->len, true);
		lr->skipping = true;
		lr->len = 0;
	}
}

/* Returns false at EOF or error. */
static bool read_some(struct logrelay *lr)
{
	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t n = read(lr->fd, lr->buf + lr->len, sizeof lr->buf - lr->len);
		if (n > 0) {
			lr->len += (size_t)n;
			relay_lines(lr);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		return false;
	}
	return true;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct logrelay *lr = arg;
	if (!read_some(lr))
		logrelay_finish(lr);
}

int logrelay_start(struct logrelay *lr, struct event_base *base, int fd, const char *name)
{
	memset(lr, 0, sizeof *lr);
	snprintf(lr->name, sizeof lr->name, "%s", name);
	lr->fd = fd;
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -1;
	lr->ev = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, lr);
	if (!lr->ev || event_add(lr->ev, NULL) != 0)
		return -1;
	return 0;
}

void logrelay_finish(struct logrelay *lr)
{
	if (lr->fd < 0)
		return;
	read_some(lr);
	if (lr->len > 0 && !lr->skipping)
		logrelay_emit_line(lr->name, lr->buf, lr->len, false);
	lr->len = 0;
	if (lr->ev) {
		event_free(lr->ev);
		lr->ev = NULL;
	}
	close(lr->fd);
	lr->fd = -1;
}
