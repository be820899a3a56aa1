/* Specialists and routing rules from the ai server's settings, and the choice of a specialist
 * for a question. Settings errors name the exact path so an operator can fix the config. */
#include "specialists.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/settings.h"

const char *const specialists_settings_keys[] = { "specialists", "routing", "default", NULL };

static const char *const specialist_keys[] = { "name", "model", "description", "system",
	"max_tokens", "temperature", "max_question_bytes", NULL };
static const char *const rule_keys[] = { "specialist", "keywords", NULL };

/* ---- checks on single values ---- */

static bool name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > AI_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool model_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > AI_MODEL_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '/' || c == '-'))
			return false;
	}
	return true;
}

/* settings_check_keys speaks of "settings"; nested objects need their own path in the
 * message, so its text is reused after that word. */
static int check_keys_at(json_t *obj, const char *const *known, const char *path, char *err,
                         size_t errlen)
{
	char why[512];
	if (settings_check_keys(obj, known, why, sizeof why) == 0)
		return 0;
	const char *rest = strncmp(why, "settings: ", 10) == 0 ? why + 10 : why;
	snprintf(err, errlen, "settings.%s: %s", path, rest);
	return -1;
}

/* Optional string at obj[key]: NULL when absent; -1 when not a string of min..max bytes. */
static int opt_string(json_t *obj, const char *key, size_t min, size_t max, const char *path,
                      const char **out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) < min || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, errlen, "settings.%s.%s: must be a string of %zu to %zu bytes", path, key,
		         min, max);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

static int opt_int(json_t *obj, const char *key, long long min, long long max, long long def,
                   const char *path, long long *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	*out = def;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(err, errlen, "settings.%s.%s: must be an integer from %lld to %lld", path, key,
		         min, max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

/* "a, b, c" for messages that name what would have been accepted. */
static void known_names(const struct specialists *s, char *out, size_t cap)
{
	size_t off = 0;
	out[0] = '\0';
	for (size_t i = 0; i < s->n && off < cap; i++)
		off += (size_t)snprintf(out + off, cap - off, "%s%s", i ? ", " : "", s->list[i].name);
	if (s->n == 0)
		snprintf(out, cap, "none: settings.specialists is empty");
}

static int lookup(const struct specialists *s, const char *name, size_t *index)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->list[i].name, name) == 0) {
			*index = i;
			return 0;
		}
	}
	return -1;
}

static int unknown_specialist(const struct specialists *s, const char *path, const char *name,
                              char *err, size_t errlen)
{
	char known[512];
	known_names(s, known, sizeof known);
	snprintf(err, errlen, "settings.%s: unknown specialist '%s' (known: %s)", path, name, known);
	return -1;
}

/* ---- loading ---- */

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static int load_specialist(struct specialists *s, json_t *obj, size_t i, char *err, size_t errlen)
{
	char path[64];
	snprintf(path, sizeof path, "specialists[%zu]", i);
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "settings.%s: must be an object", path);
		return -1;
	}
	if (check_keys_at(obj, specialist_keys, path, err, errlen) != 0)
		return -1;
	const char *name = json_string_value(json_object_get(obj, "name"));
	if (!name || !name_valid(name)) {
		snprintf(err, errlen, "settings.%s.name: required, 1 to %d characters of A-Z a-z 0-9 _ -",
		         path, AI_NAME_MAX);
		return -1;
	}
	size_t dup;
	if (lookup(s, name, &dup) == 0) {
		snprintf(err, errlen, "settings.%s.name: duplicate specialist name '%s' (also "
		         "settings.specialists[%zu])", path, name, dup);
		return -1;
	}
	const char *model = json_string_value(json_object_get(obj, "model"));
	if (!model || !model_id_valid(model)) {
		snprintf(err, errlen, "settings.%s.model: required, a Bedrock model id or ARN: 1 to %d "
		         "characters of A-Z a-z 0-9 . _ : / -", path, AI_MODEL_ID_MAX);
		return -1;
	}
	const char *description, *system;
	long long max_tokens, max_question;
	if (opt_string(obj, "description", 0, AI_DESCRIPTION_MAX, path, &description, err, errlen) != 0 ||
	    opt_string(obj, "system", 0, AI_SYSTEM_MAX, path, &system, err, errlen) != 0 ||
	    opt_int(obj, "max_tokens", 1, AI_MAX_TOKENS_LIMIT, AI_MAX_TOKENS_DEFAULT, path, &max_tokens,
	            err, errlen) != 0 ||
	    opt_int(obj, "max_question_bytes", 1, AI_QUESTION_MAX_BYTES, AI_QUESTION_MAX_BYTES, path,
	            &max_question, err, errlen) != 0)
		return -1;
	json_t *temp = json_object_get(obj, "temperature");
	if (temp && (!json_is_number(temp) || json_number_value(temp) < 0.0 ||
	             json_number_value(temp) > 1.0)) {
		snprintf(err, errlen, "settings.%s.temperature: must be a number from 0 to 1", path);
		return -1;
	}
	struct specialist *sp = &s->list[s->n];
	memset(sp, 0, sizeof *sp);
	sp->name = strdup(name);
	sp->model = strdup(model);
	sp->description = dup_or_empty(description);
	/* An empty system prompt is no system prompt: Bedrock refuses empty text blocks. */
	sp->system = system && *system ? strdup(system) : NULL;
	sp->max_tokens = (long)max_tokens;
	sp->has_temperature = temp != NULL;
	sp->temperature = temp ? json_number_value(temp) : 0.0;
	sp->max_question_bytes = (size_t)max_question;
	s->n++; /* counted now so specialists_free releases what was copied */
	if (!sp->name || !sp->model || !sp->description || (system && *system && !sp->system)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int load_keywords(struct routing_rule *r, json_t *arr, const char *path, char *err,
                         size_t errlen)
{
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > AI_KEYWORDS_MAX) {
		snprintf(err, errlen, "settings.%s.keywords: required, an array of 1 to %d strings", path,
		         AI_KEYWORDS_MAX);
		return -1;
	}
	r->keywords = calloc(json_array_size(arr), sizeof *r->keywords);
	if (!r->keywords) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		const char *k = json_string_value(v);
		size_t len = k ? strlen(k) : 0;
		if (!k || len == 0 || len > AI_KEYWORD_MAX || len != json_string_length(v) ||
		    k[0] == ' ' || k[len - 1] == ' ') {
			snprintf(err, errlen, "settings.%s.keywords[%zu]: must be 1 to %d bytes without "
			         "spaces at either end", path, i, AI_KEYWORD_MAX);
			return -1;
		}
		if (!(r->keywords[r->n_keywords] = strdup(k))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		r->n_keywords++;
	}
	return 0;
}

static int load_rule(struct specialists *s, json_t *obj, size_t i, char *err, size_t errlen)
{
	char path[64];
	snprintf(path, sizeof path, "routing[%zu]", i);
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "settings.%s: must be an object", path);
		return -1;
	}
	if (check_keys_at(obj, rule_keys, path, err, errlen) != 0)
		return -1;
	const char *name = json_string_value(json_object_get(obj, "specialist"));
	if (!name) {
		snprintf(err, errlen, "settings.%s.specialist: required, a specialist's name", path);
		return -1;
	}
	struct routing_rule *r = &s->rules[s->n_rules];
	memset(r, 0, sizeof *r);
	char at[80];
	snprintf(at, sizeof at, "%s.specialist", path);
	if (lookup(s, name, &r->specialist) != 0)
		return unknown_specialist(s, at, name, err, errlen);
	s->n_rules++;
	return load_keywords(r, json_object_get(obj, "keywords"), path, err, errlen);
}

static int load_list(struct specialists *s, json_t *settings, char *err, size_t errlen)
{
	json_t *arr = json_object_get(settings, "specialists");
	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > AI_SPECIALISTS_MAX) {
		snprintf(err, errlen, "settings.specialists: must be an array of at most %d specialists",
		         AI_SPECIALISTS_MAX);
		return -1;
	}
	if (json_array_size(arr) == 0)
		return 0;
	s->list = calloc(json_array_size(arr), sizeof *s->list);
	if (!s->list) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		if (load_specialist(s, v, i, err, errlen) != 0)
			return -1;
	}
	return 0;
}

static int load_rules(struct specialists *s, json_t *settings, char *err, size_t errlen)
{
	json_t *arr = json_object_get(settings, "routing");
	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > AI_RULES_MAX) {
		snprintf(err, errlen, "settings.routing: must be an array of at most %d rules",
		         AI_RULES_MAX);
		return -1;
	}
	if (json_array_size(arr) == 0)
		return 0;
	s->rules = calloc(json_array_size(arr), sizeof *s->rules);
	if (!s->rules) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		if (load_rule(s, v, i, err, errlen) != 0)
			return -1;
	}
	return 0;
}

static int load_default(struct specialists *s, json_t *settings, char *err, size_t errlen)
{
	json_t *v = json_object_get(settings, "default");
	s->default_index = 0;
	if (!v)
		return 0;
	if (!json_is_string(v)) {
		snprintf(err, errlen, "settings.default: must be a specialist's name");
		return -1;
	}
	if (lookup(s, json_string_value(v), &s->default_index) != 0)
		return unknown_specialist(s, "default", json_string_value(v), err, errlen);
	return 0;
}

int specialists_load(struct specialists *s, json_t *settings, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	if (load_list(s, settings, err, errlen) != 0 || load_rules(s, settings, err, errlen) != 0 ||
	    load_default(s, settings, err, errlen) != 0) {
		specialists_free(s);
		return -1;
	}
	return 0;
}

void specialists_free(struct specialists *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->list[i].name);
		free(s->list[i].model);
		free(s->list[i].description);
		free(s->list[i].system);
	}
	free(s->list);
	for (size_t i = 0; i < s->n_rules; i++) {
		for (size_t k = 0; k < s->rules[i].n_keywords; k++)
			free(s->rules[i].keywords[k]);
		free(s->rules[i].keywords);
	}
	free(s->rules);
	memset(s, 0, sizeof *s);
}

const struct specialist *specialists_find(const struct specialists *s, const char *name)
{
	size_t i;
	return name && lookup(s, name, &i) == 0 ? &s->list[i] : NULL;
}

/* ---- routing ---- */

static bool word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c >= 0x80;
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool equal_ignoring_case(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

bool keyword_matches(const char *text, size_t text_len, const char *keyword)
{
	size_t k = strlen(keyword);
	if (k == 0 || k > text_len)
		return false;
	for (size_t at = 0; at + k <= text_len; at++) {
		if (at > 0 && word_byte((unsigned char)text[at - 1]))
			continue;
		if (at + k < text_len && word_byte((unsigned char)text[at + k]))
			continue;
		if (equal_ignoring_case(text + at, keyword, k))
			return true;
	}
	return false;
}

int specialists_route(const struct specialists *s, const char *requested, const char *question,
                      size_t question_len, struct route *out)
{
	memset(out, 0, sizeof *out);
	if (s->n == 0)
		return -1;
	if (requested) {
		out->specialist = specialists_find(s, requested);
		out->kind = ROUTE_EXPLICIT;
		return out->specialist ? 0 : -1;
	}
	for (size_t r = 0; r < s->n_rules; r++) {
		const struct routing_rule *rule = &s->rules[r];
		for (size_t k = 0; k < rule->n_keywords; k++) {
			if (keyword_matches(question, question_len, rule->keywords[k])) {
				out->specialist = &s->list[rule->specialist];
				out->kind = ROUTE_RULE;
				out->rule = r;
				return 0;
			}
		}
	}
	out->specialist = &s->list[s->default_index];
	out->kind = ROUTE_DEFAULT;
	return 0;
}

void route_describe(const struct route *r, char *out, size_t cap)
{
	switch (r->kind) {
	case ROUTE_EXPLICIT:
		snprintf(out, cap, "explicit");
		break;
	case ROUTE_RULE:
		snprintf(out, cap, "rule:%zu", r->rule);
		break;
	case ROUTE_DEFAULT:
		snprintf(out, cap, "default");
		break;
	}
}
