/* The plumbing a server made of tool groups shares (see tool_groups.h). */
#include "tool_groups.h"

#include <stdbool.h>
#include <stdio.h>

#include "settings.h"

#define KNOWN_KEYS_MAX 32 /* a server's top-level settings keys, its own and its groups' */

size_t tool_groups_join(const struct tool_group *const *groups, size_t n_groups,
                        struct mcp_tool *tools, size_t max)
{
	size_t n = 0;
	for (size_t g = 0; g < n_groups; g++)
		for (size_t t = 0; t < groups[g]->n_tools && n < max; t++)
			tools[n++] = groups[g]->tools[t];
	return n;
}

/* Appends the NULL-terminated `keys` to known[*n], keeping a slot for the final NULL; false
 * when they do not fit. */
static bool add_keys(const char **known, size_t *n, const char *const *keys)
{
	for (size_t k = 0; keys[k]; k++) {
		if (*n + 1 >= KNOWN_KEYS_MAX)
			return false;
		known[(*n)++] = keys[k];
	}
	return true;
}

int tool_groups_check_keys(const struct tool_group *const *groups, size_t n_groups,
                           const char *const *shared_keys, json_t *settings, char *err, size_t errlen)
{
	const char *known[KNOWN_KEYS_MAX];
	size_t n = 0;
	bool fits = add_keys(known, &n, shared_keys);
	for (size_t g = 0; g < n_groups && fits; g++)
		fits = add_keys(known, &n, groups[g]->settings_keys);
	/* A key left out would be refused as unknown: say the table is short instead. */
	if (!fits) {
		snprintf(err, errlen, "too many settings keys for the table");
		return -1;
	}
	known[n] = NULL;
	return settings_check_keys(settings, known, err, errlen);
}

int tool_groups_init(const struct tool_group *const *groups, size_t n_groups, json_t *settings,
                     const struct group_limits *limits, char *err, size_t errlen)
{
	for (size_t g = 0; g < n_groups; g++)
		if (groups[g]->init(settings, limits, err, errlen) != 0)
			return -1;
	return 0;
}

void tool_groups_fini(const struct tool_group *const *groups, size_t n_groups)
{
	for (size_t g = 0; g < n_groups; g++)
		if (groups[g]->fini)
			groups[g]->fini();
}
