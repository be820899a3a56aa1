/* The ai server's specialists (name, Bedrock model, system prompt, limits) and the routing
 * rules that pick one for a question, read strictly from settings. Pure: no I/O. */
#ifndef MCPGATE_AI_SPECIALISTS_H
#define MCPGATE_AI_SPECIALISTS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define AI_SPECIALISTS_MAX 64
#define AI_NAME_MAX 64              /* specialist names: [A-Za-z0-9_-] */
#define AI_MODEL_ID_MAX 2048        /* model ids and ARNs: [A-Za-z0-9._:/-] */
#define AI_DESCRIPTION_MAX 1024
#define AI_SYSTEM_MAX (64u * 1024u)
#define AI_RULES_MAX 64
#define AI_KEYWORDS_MAX 64          /* per rule */
#define AI_KEYWORD_MAX 128          /* bytes */
#define AI_QUESTION_MAX_BYTES 128000u /* 32000 characters of up to 4 bytes */
#define AI_MAX_TOKENS_LIMIT 65536
#define AI_MAX_TOKENS_DEFAULT 1024

struct specialist {
	char *name;
	char *model;
	char *description;        /* "" when not given */
	char *system;             /* NULL: no system prompt is sent */
	long max_tokens;          /* the most a caller may ask for, and the default */
	bool has_temperature;     /* false: the model's own default */
	double temperature;       /* 0..1 */
	size_t max_question_bytes;
};

struct routing_rule {
	size_t specialist; /* index into specialists.list */
	char **keywords;
	size_t n_keywords;
};

struct specialists {
	struct specialist *list;
	size_t n;
	struct routing_rule *rules;
	size_t n_rules;
	size_t default_index; /* meaningful when n > 0 */
};

/* The settings keys this module reads, NULL-terminated: specialists, routing, default. */
extern const char *const specialists_settings_keys[];

/* Reads settings.specialists, .routing and .default. An absent or empty specialists list is
 * valid (ask then refuses every call); default falls back to the first specialist. On error
 * writes "settings.<path>: <why>" into err, leaves *s empty and returns -1. */
int specialists_load(struct specialists *s, json_t *settings, char *err, size_t errlen);
void specialists_free(struct specialists *s);

const struct specialist *specialists_find(const struct specialists *s, const char *name);

enum route_kind { ROUTE_EXPLICIT, ROUTE_RULE, ROUTE_DEFAULT };

struct route {
	const struct specialist *specialist;
	enum route_kind kind;
	size_t rule; /* for ROUTE_RULE: index into settings.routing */
};

/* Picks the specialist for a question: the requested one when `requested` is not NULL (-1
 * when no specialist has that name), else the first rule with a keyword in the question,
 * else the default. -1 also when no specialist is configured. */
int specialists_route(const struct specialists *s, const char *requested, const char *question,
                      size_t question_len, struct route *out);

/* "explicit", "rule:<n>" (n: the rule's index in settings.routing) or "default". */
void route_describe(const struct route *r, char *out, size_t cap);

/* Whether `keyword` occurs in text as whole words, ignoring ASCII case: the bytes around the
 * match are not letters, digits or '_' (bytes of multi-byte characters count as letters, so
 * "sql" is not found in "sqlé"). */
bool keyword_matches(const char *text, size_t text_len, const char *keyword);

/* Bedrock model ids and ARNs: 1..AI_MODEL_ID_MAX bytes of [A-Za-z0-9._:/-]. */
bool model_id_valid(const char *id);

#endif
