/* The bounded line reader for upstream stdio links: searches only bytes not searched before,
 * so a large line arriving in many small reads costs linear time. */
#include "lines.h"

#include <stdlib.h>
#include <sys/types.h>

#include <event2/buffer.h>

void line_reader_init(struct line_reader *lr, size_t max)
{
	lr->max = max;
	lr->scanned = 0;
	lr->discarding = false;
	lr->discarded = 0;
}

/* Position of the next '\n' at or after lr->scanned, or -1. */
static ssize_t find_newline(struct line_reader *lr, struct evbuffer *in)
{
	struct evbuffer_ptr start;
	if (evbuffer_ptr_set(in, &start, lr->scanned, EVBUFFER_PTR_SET) != 0)
		return -1;
	struct evbuffer_ptr at = evbuffer_search(in, "\n", 1, &start);
	return at.pos;
}

enum line_result line_next(struct line_reader *lr, struct evbuffer *in, char **line, size_t *len)
{
	for (;;) {
		size_t have = evbuffer_get_length(in);
		ssize_t nl = lr->scanned < have ? find_newline(lr, in) : -1;
		if (nl < 0) {
			if (lr->discarding || have > lr->max) {
				/* Over-long: drop what is there and keep dropping until its end. */
				lr->discarded += have;
				lr->discarding = true;
				evbuffer_drain(in, have);
				lr->scanned = 0;
			} else {
				lr->scanned = have;
			}
			return LINE_NONE;
		}
		size_t n = (size_t)nl;
		lr->scanned = 0;
		if (lr->discarding || n > lr->max) {
			*len = lr->discarded + n;
			lr->discarding = false;
			lr->discarded = 0;
			evbuffer_drain(in, n + 1);
			return LINE_DROPPED;
		}
		size_t keep = n;
		char *buf = malloc(n + 1);
		if (!buf)
			return LINE_NOMEM;
		evbuffer_remove(in, buf, n);
		evbuffer_drain(in, 1);
		if (keep > 0 && buf[keep - 1] == '\r')
			keep--;
		buf[keep] = '\0';
		if (keep == 0) {
			free(buf);
			continue; /* blank lines carry nothing */
		}
		*line = buf;
		*len = keep;
		return LINE_OK;
	}
}
