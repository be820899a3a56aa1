/* Settings checks and allowlists of the built-in servers. */
#include "settings.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int allowlist_load(struct allowlist *list, json_t *settings, const char *key, char *err, size_t errlen)
{
	memset(list, 0, sizeof *list);
	json_t *arr = json_object_get(settings, key);
	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > AWS_TOOL_ALLOWLIST_MAX) {
		snprintf(err, errlen, "settings.%s: must be an array of at most %d names or patterns",
		         key, AWS_TOOL_ALLOWLIST_MAX);
		return -1;
	}
	list->patterns = calloc(json_array_size(arr) + 1, sizeof *list->patterns);
	if (!list->patterns) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		if (!s || !*s || strlen(s) > AWS_TOOL_PATTERN_MAX) {
			snprintf(err, errlen, "settings.%s[%zu]: must be a non-empty string of at most %d bytes",
			         key, i, AWS_TOOL_PATTERN_MAX);
			allowlist_free(list);
			return -1;
		}
		if (!(list->patterns[list->n++] = strdup(s))) {
			snprintf(err, errlen, "out of memory");
			allowlist_free(list);
			return -1;
		}
	}
	return 0;
}

bool allowlist_allows(const struct allowlist *list, const char *name)
{
	for (size_t i = 0; i < list->n; i++)
		if (fnmatch(list->patterns[i], name, 0) == 0)
			return true;
	return false;
}

void allowlist_free(struct allowlist *list)
{
	for (size_t i = 0; i < list->n; i++)
		free(list->patterns[i]);
	free(list->patterns);
	memset(list, 0, sizeof *list);
}

/* "a, b, c" of a NULL-terminated list, cut to fit. */
static void keys_text(const char *const *keys, char *out, size_t cap)
{
	size_t off = 0;
	out[0] = '\0';
	for (size_t i = 0; keys[i] && off < cap; i++)
		off += (size_t)snprintf(out + off, cap - off, "%s%s", i ? ", " : "", keys[i]);
}

int settings_check_keys(json_t *settings, const char *const *known, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	json_object_foreach(settings, key, v) {
		size_t i = 0;
		while (known[i] && strcmp(known[i], key) != 0)
			i++;
		if (known[i])
			continue;
		char names[512];
		keys_text(known, names, sizeof names);
		snprintf(err, errlen, "settings: unknown key '%s' (known: %s)", key, names);
		return -1;
	}
	return 0;
}

int settings_int(json_t *settings, const char *key, long long min, long long max, long long def,
                 long long *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(settings, key);
	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(err, errlen, "settings.%s: must be an integer from %lld to %lld", key, min, max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

int settings_section(json_t *settings, const char *name, const char *const *known,
                     int (*read)(json_t *section, char *err, size_t errlen), char *err, size_t errlen)
{
	json_t *section = json_object_get(settings, name);
	if (section && !json_is_object(section)) {
		char names[512];
		keys_text(known, names, sizeof names);
		snprintf(err, errlen, "settings.%s: must be an object {%s}", name, names);
		return -1;
	}
	/* An absent section reads as an empty one, so each key gets its default. */
	json_t *empty = section ? NULL : json_object();
	json_t *s = section ? section : empty;
	int rc = -1;
	if (!s)
		snprintf(err, errlen, "out of memory");
	else if (settings_check_keys(s, known, err, errlen) == 0 && read(s, err, errlen) == 0)
		rc = 0;
	json_decref(empty);
	if (rc != 0)
		settings_error_nest(err, errlen, name);
	return rc;
}

void settings_error_nest(char *err, size_t errlen, const char *section)
{
	char inner[512];
	snprintf(inner, sizeof inner, "%s", err);
	if (strncmp(inner, "settings.", 9) == 0)
		snprintf(err, errlen, "settings.%s.%s", section, inner + 9);
	else if (strncmp(inner, "settings: ", 10) == 0)
		snprintf(err, errlen, "settings.%s: %s", section, inner + 10);
	else
		snprintf(err, errlen, "settings.%s: %s", section, inner);
}
