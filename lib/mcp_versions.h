/* The MCP protocol revisions the gateway speaks, newest first. One list for edge and router. */
#ifndef MCPGATE_MCP_VERSIONS_H
#define MCPGATE_MCP_VERSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define MCP_VERSION_STATELESS "2026-07-28" /* no sessions; protocol fields in _meta */
#define MCP_VERSION_LATEST_SESSION "2025-11-25"
#define MCP_VERSION_DEFAULT_HTTP "2025-03-26" /* assumed when a client sends no header */

static const char *const mcp_versions[] = {
	"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL,
};

static inline bool mcp_version_supported(const char *v, size_t len)
{
	for (size_t i = 0; mcp_versions[i]; i++)
		if (strlen(mcp_versions[i]) == len && memcmp(mcp_versions[i], v, len) == 0)
			return true;
	return false;
}

/* JSON-RPC batches were removed in 2025-06-18. */
static inline bool mcp_version_allows_batch(const char *v, size_t len)
{
	return len == 10 && (memcmp(v, "2025-03-26", 10) == 0 || memcmp(v, "2024-11-05", 10) == 0);
}

#endif
