/* Settings of the built-in servers: strict key checks, bounded integers, and the allowlists
 * that keep each server to the resources its config names. */
#ifndef MCPGATE_SERVERS_SETTINGS_H
#define MCPGATE_SERVERS_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define AWS_TOOL_ALLOWLIST_MAX 256  /* patterns per list */
#define AWS_TOOL_PATTERN_MAX 512

/* A list of names or shell-style patterns ("reports", "logs-*") from the settings. An empty
 * list allows nothing: a server touches only what its config names. */
struct allowlist {
	char **patterns;
	size_t n;
};

/* Loads settings[key] (absent: empty list) as an array of non-empty strings. On error writes
 * "settings.<key>: <why>" into err and returns -1. */
int allowlist_load(struct allowlist *list, json_t *settings, const char *key, char *err, size_t errlen);
bool allowlist_allows(const struct allowlist *list, const char *name);
void allowlist_free(struct allowlist *list);

/* Checks that `settings` has only keys from the NULL-terminated `known`; returns -1 with
 * "settings: unknown key 'x' (known: a, b)" otherwise. */
int settings_check_keys(json_t *settings, const char *const *known, char *err, size_t errlen);
/* settings[key] as an integer within [min, max]; absent: def. -1 with a message on error. */
int settings_int(json_t *settings, const char *key, long long min, long long max, long long def,
                 long long *out, char *err, size_t errlen);

/* Reads the object settings[name] (absent: read as {}): checks it holds only the keys in the
 * NULL-terminated `known`, then calls read(section). Errors name their place, e.g.
 * "settings.<name>.<key>: ..." or "settings.<name>: must be an object {<known>}". */
int settings_section(json_t *settings, const char *name, const char *const *known,
                     int (*read)(json_t *section, char *err, size_t errlen), char *err, size_t errlen);
/* Rewrites an error about a nested object ("settings.tables: ...", "settings: unknown key ...")
 * to name its place ("settings.dynamodb.tables: ..."). */
void settings_error_nest(char *err, size_t errlen, const char *section);

#endif
