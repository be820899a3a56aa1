/* Role-based access: roles name the tools, prompts and resources they may use, as shell globs
 * ('*' any run, '?' one character; the router's name_pattern_match), and their own limits.
 * A principal holds a list of roles and may do what any of them allows. One decision,
 * rbac_allows, both filters lists and authorises calls, so a list never shows what a call
 * would refuse. */
#ifndef MCPGATE_RBAC_H
#define MCPGATE_RBAC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RBAC_MAX_ROLES 512
#define RBAC_MAX_PATTERNS 256   /* per role and kind */
#define RBAC_PATTERN_MAX 512    /* bytes of one pattern (resource URIs can be long) */
#define RBAC_NAME_MAX 4096      /* longer names are refused unmatched */
#define RBAC_RPM_MAX 1000000

enum rbac_kind { RBAC_TOOL, RBAC_PROMPT, RBAC_RESOURCE, RBAC_KINDS };

struct rbac_tool_limit {
	char *pattern;  /* a tool glob */
	uint32_t rpm;
};

struct rbac_role {
	char *name;
	char **patterns[RBAC_KINDS];
	size_t n_patterns[RBAC_KINDS];
	uint32_t rpm;   /* requests per minute for a principal holding this role; 0 = not set */
	struct rbac_tool_limit *tool_limits;
	size_t n_tool_limits;
};

struct rbac {
	struct rbac_role *roles;
	size_t n_roles;
};

/* Builds the policy from the default file's text ({"roles": {...}}, may be NULL) and the
 * config's "roles" object (may be NULL). A role the config defines replaces the default of the
 * same name as a whole; others are added. Both use the same shape:
 *   "name": {"tools": [glob...], "prompts": [...], "resources": [...], "rpm": N,
 *            "tool_rpm": {"glob": N}}
 * Returns 0, or -1 with err naming the source, role and field; *out is then empty. */
int rbac_load(struct rbac *out, const char *defaults, size_t defaults_len,
              const json_t *config_roles, char *err, size_t errlen);
void rbac_free(struct rbac *p);

/* The one decision: may a principal holding `roles` (a JSON array of role names, as carried
 * in the principal; unknown names and non-strings grant nothing) use `name` (an exposed tool
 * or prompt name, or a resource URI)? */
bool rbac_allows(const struct rbac *p, const json_t *roles, enum rbac_kind kind, const char *name);

/* Removes from a list result array (tools/list "tools", prompts/list "prompts",
 * resources/list "resources", resources/templates/list "resourceTemplates") every item that
 * rbac_allows refuses, judged by its "name" (tools, prompts) or "uri" / "uriTemplate"
 * (resources); an item without one is removed. Returns the number removed. */
size_t rbac_filter_list(const struct rbac *p, const json_t *roles, enum rbac_kind kind,
                        json_t *items);

/* The union of the patterns of `kind` over the principal's roles, as a new JSON array of
 * strings (the router's DP_PRINCIPAL_TOOLS for RBAC_TOOL). A name matches one of them exactly
 * when rbac_allows says yes. NULL on allocation failure. */
json_t *rbac_patterns(const struct rbac *p, const json_t *roles, enum rbac_kind kind);

/* The principal's own limit: the most generous "rpm" among its roles, 0 when none sets one. */
uint32_t rbac_principal_rpm(const struct rbac *p, const json_t *roles);

/* A per-tool limit applies only when every role that allows the tool has a "tool_rpm" glob
 * matching it (a role allowing it without one grants it unlimited). Within a role the
 * smallest matching limit counts; across roles the most generous. Returns true with the
 * limit and its glob (borrowed from p; the limiter's scope, so all tools a glob matches share
 * one window per principal), or false when no per-tool limit applies. */
bool rbac_tool_limit(const struct rbac *p, const json_t *roles, const char *tool,
                     const char **pattern, uint32_t *rpm);

const struct rbac_role *rbac_role_find(const struct rbac *p, const char *name);
const char *rbac_kind_name(enum rbac_kind kind); /* "tools", "prompts", "resources" */

#endif
