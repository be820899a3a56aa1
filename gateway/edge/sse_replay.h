/* Server-Sent Events on the edge: each event gets an id "<stream>-<seq>", the last events of
 * a stream are kept in a bounded ring so a client that reconnects with Last-Event-ID gets
 * what it missed (resumability, MCP Streamable HTTP). */
#ifndef MCPGATE_SSE_REPLAY_H
#define MCPGATE_SSE_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sse_replay;

/* A ring of at most max_events events and max_bytes bytes; the oldest are dropped first. */
struct sse_replay *sse_replay_new(uint64_t stream_key, size_t max_events, size_t max_bytes);
void sse_replay_free(struct sse_replay *r);

/* Formats one SSE event ("id: <key>-<seq>\nevent: message\ndata: <json>\n\n", with the data
 * split at newlines as SSE requires), stores it and returns it through out/out_len (owned by
 * the ring, valid until the next append). Returns the event's sequence number, or 0 on
 * out-of-memory. event_name NULL means "message". */
uint64_t sse_replay_append(struct sse_replay *r, const char *event_name, const char *data,
                           size_t data_len, const char **out, size_t *out_len);

/* Parses a Last-Event-ID value of the form "<key>-<seq>" (decimal, no sign, no spaces,
 * no leading zeros, within uint64). Returns 0, or -1 when it is not one of ours. */
int sse_parse_event_id(const char *value, size_t len, uint64_t *stream_key, uint64_t *seq);

/* Calls emit for each stored event after `seq`, in order. Returns 0, or -1 when events after
 * seq were already dropped (the client must start over). */
int sse_replay_since(const struct sse_replay *r, uint64_t seq,
                     void (*emit)(const char *event, size_t len, void *arg), void *arg);

uint64_t sse_replay_key(const struct sse_replay *r);

/* A priming event: an id and an empty data line, so the client has an id to resume from. */
uint64_t sse_replay_prime(struct sse_replay *r, const char **out, size_t *out_len);

#endif
