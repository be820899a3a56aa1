/* Relays each child's stderr to the supervisor's, one JSON line per event. The "process"
 * key is set from what the supervisor knows, so a compromised child cannot pose as another;
 * plain text (a third-party server's output) is wrapped in a JSON line. */
#ifndef MCPGATE_LOGRELAY_H
#define MCPGATE_LOGRELAY_H

#include <event2/event.h>
#include <stdbool.h>

#define LOGRELAY_LINE_MAX 16384

struct logrelay {
	struct event *ev;
	int fd;
	char name[80];
	char buf[LOGRELAY_LINE_MAX];
	size_t len;
	bool skipping; /* inside an over-long line: drop until its newline */
};

/* Takes ownership of the pipe's read end. Returns 0 or -1. */
int logrelay_start(struct logrelay *lr, struct event_base *base, int fd, const char *name);
/* Reads what is left (a dead child's last words), then closes. Safe to call twice. */
void logrelay_finish(struct logrelay *lr);
/* Emits one line as if it came from `name` (exposed for tests). */
void logrelay_emit_line(const char *name, const char *line, size_t len, bool truncated);

#endif
