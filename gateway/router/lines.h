/* Newline-delimited messages out of an evbuffer (the MCP stdio transport), with a bound on
 * the line length: an over-long line is discarded as it streams in, never buffered whole. */
#ifndef MCPGATE_ROUTER_LINES_H
#define MCPGATE_ROUTER_LINES_H

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;

struct line_reader {
	size_t max;        /* longest line kept, without its '\n' */
	size_t scanned;    /* bytes at the buffer's head already searched for '\n' */
	bool discarding;   /* inside an over-long line: drop bytes up to the next '\n' */
	size_t discarded;  /* bytes dropped of the current over-long line */
};

enum line_result {
	LINE_NONE,    /* no complete line yet */
	LINE_OK,      /* *line is a malloc'd, NUL-terminated line; the caller frees it */
	LINE_DROPPED, /* an over-long line ended; *len is its length (nothing to free) */
	LINE_NOMEM,
};

void line_reader_init(struct line_reader *lr, size_t max);
/* Takes the next line from `in`. A trailing "\r" is removed; empty lines are skipped. */
enum line_result line_next(struct line_reader *lr, struct evbuffer *in, char **line, size_t *len);

#endif
