/* Fuzzes what the router reads from an upstream server (a third-party MCP server is outside
 * input): the newline framing with its length bound, fed in chunks whose sizes come from the
 * input, then each line as JSON-RPC classified the way the router does. Invariants: lines
 * never exceed the bound, nothing is lost or invented between the framing and the bytes. */
#include <event2/buffer.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "lines.h"

#define MAX_LINE 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	struct evbuffer *in = evbuffer_new();
	if (!in)
		return 0;
	struct line_reader lr;
	line_reader_init(&lr, MAX_LINE);
	size_t fed = 0, taken = 0;
	while (fed < size || evbuffer_get_length(in) > 0) {
		if (fed < size) {
			size_t n = size - fed < chunk ? size - fed : chunk;
			evbuffer_add(in, data + fed, n);
			fed += n;
		}
		for (;;) {
			char *line = NULL;
			size_t len = 0;
			enum line_result r = line_next(&lr, in, &line, &len);
			if (r == LINE_NONE || r == LINE_NOMEM)
				break;
			if (r == LINE_OK) {
				/* Lines are length-delimited (a NUL inside is passed on and refused by
				 * the JSON parser, which is given the length): only the bound matters. */
				if (len > MAX_LINE || line[len] != '\0')
					abort();
				taken += len;
				json_t *msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
				if (msg) {
					(void)jrpc_classify(msg);
					(void)jrpc_id_valid(json_object_get(msg, "id"));
					json_decref(msg);
				}
				free(line);
			}
		}
		if (fed >= size)
			break;
	}
	if (taken > size)
		abort();
	evbuffer_free(in);
	return 0;
}
