/* The ai server's shared state and its one tool. main.c reads the settings into an
 * ai_config; ask.c answers calls with it. */
#ifndef MCPGATE_AI_H
#define MCPGATE_AI_H

/* The whole of a streamed answer, however steadily its text keeps coming. */
#define AI_STREAM_CEILING_MS (15L * 60L * 1000L)

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "cache.h"
#include "mcp_server.h"
#include "specialists.h"

struct ai_config {
	struct specialists specialists;
	struct ai_cache *cache; /* NULL when settings.cache.entries is 0 */
	size_t result_cap;      /* bytes of answer text a result carries */
	bool stream_default;    /* settings.stream: ask streams unless told not to */
	long timeout_ms;        /* per Bedrock attempt; for a streamed one, its longest silence */
};

extern const char ask_input_schema[];
extern const char ask_output_schema[];

/* Borrows the config for the process's life. */
void ask_setup(const struct ai_config *config);
/* The `ask` tool. */
void ask_call(struct mcp_call *call, json_t *arguments);
/* At exit, after the loop: cancels the requests in flight and frees their state (the server
 * core frees the calls themselves). */
void ask_abandon_all(void);

#endif
