/* The aggregated catalog (see catalog.h). Rebuilt whole whenever an upstream's list changes:
 * lists are small and changes rare, and a rebuild cannot leave a half-updated route behind. */
#include "catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "names.h"

static const char *const list_keys[LIST_KINDS] = {
	"tools", "prompts", "resources", "resourceTemplates",
};
static const char *const list_methods[LIST_KINDS] = {
	"tools/list", "prompts/list", "resources/list", "resources/templates/list",
};
static const char *const changed_methods[LIST_KINDS] = {
	"notifications/tools/list_changed", "notifications/prompts/list_changed",
	"notifications/resources/list_changed", "notifications/resources/list_changed",
};
static const char cursor_letters[LIST_KINDS] = { 't', 'p', 'r', 'u' };

const char *catalog_list_key(enum list_kind kind)
{
	return list_keys[kind];
}

const char *catalog_list_method(enum list_kind kind)
{
	return list_methods[kind];
}

const char *catalog_changed_method(enum list_kind kind)
{
	return changed_methods[kind];
}

void catalog_init(struct catalog *c)
{
	memset(c, 0, sizeof *c);
}

void catalog_free(struct catalog *c)
{
	for (int k = 0; k < LIST_KINDS; k++) {
		json_decref(c->items[k]);
		json_decref(c->routes[k]);
	}
	json_decref(c->uris);
	json_decref(c->templates);
	catalog_init(c);
}

/* Sources in exposure order: by namespace, ties (impossible from a valid config, but cheap
 * to define) by the caller's order. */
static void sort_sources(const struct catalog_source **order, const struct catalog_source *src,
                         size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		while (j > 0 && strcmp(order[j - 1]->ns, src[i].ns) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = &src[i];
	}
}

struct building {
	json_t *items[LIST_KINDS];
	json_t *routes[LIST_KINDS];
	json_t *uris;
	json_t *templates;
	json_t *notes[LIST_KINDS]; /* skipped items, logged only when the list changed */
};

static void note(struct building *b, enum list_kind k, const char *event,
                 const struct catalog_source *s, const char *what, const char *why)
{
	json_array_append_new(b->notes[k], json_pack("[s, s, s, s]", event, s->name, what, why));
}

/* Rebuilds happen whenever any upstream's list moves; a skipped name is worth one warning
 * when its list changes, not one per rebuild. */
static void log_notes(struct building *b, unsigned changed)
{
	for (int k = 0; k < LIST_KINDS; k++) {
		size_t i;
		json_t *n;
		json_array_foreach(b->notes[k], i, n) {
			if (!(changed & (1u << k)))
				break;
			log_warn(json_string_value(json_array_get(n, 0)),
			         LOG_STR("upstream", json_string_value(json_array_get(n, 1))),
			         LOG_STR("list", list_keys[k]),
			         LOG_STR("item", json_string_value(json_array_get(n, 2))),
			         LOG_STR("reason", json_string_value(json_array_get(n, 3))));
		}
		json_decref(b->notes[k]);
	}
}

static int add_named(struct building *b, enum list_kind k, const struct catalog_source *s,
                     const json_t *item)
{
	const char *name = json_string_value(json_object_get(item, "name"));
	char exposed[NAME_MAX_LEN + 1];
	if (!name || name_expose(s->ns, name, exposed) != 0) {
		note(b, k, "upstream_name_skipped", s, name ? name : "(none)",
		     "a name may hold only A-Z a-z 0-9 _ -");
		return 0;
	}
	if (json_object_get(b->routes[k], exposed)) {
		note(b, k, "upstream_name_clash", s, exposed,
		     "another upstream already exposes this name; the first in namespace order keeps it");
		return 0;
	}
	json_t *copy = json_deep_copy(item);
	json_t *route = json_pack("[I, s, I]", (json_int_t)s->upstream, name,
	                          (json_int_t)json_array_size(b->items[k]));
	if (!copy || !route || json_object_set_new(copy, "name", json_string(exposed)) != 0 ||
	    json_object_set_new(b->routes[k], exposed, route) != 0) {
		json_decref(copy);
		return -1;
	}
	if (k == LIST_TEMPLATES) {
		const char *t = json_string_value(json_object_get(item, "uriTemplate"));
		if (t)
			json_array_append_new(b->templates, json_pack("[s, I]", t, (json_int_t)s->upstream));
	}
	return json_array_append_new(b->items[k], copy);
}

static int add_resource(struct building *b, const struct catalog_source *s, const json_t *item)
{
	const char *uri = json_string_value(json_object_get(item, "uri"));
	if (!uri) {
		note(b, LIST_RESOURCES, "upstream_resource_skipped", s, "(no uri)", "a resource needs a uri");
		return 0;
	}
	if (json_object_get(b->uris, uri)) {
		note(b, LIST_RESOURCES, "upstream_resource_clash", s, uri,
		     "another upstream already lists this uri; the first in namespace order serves it");
		return 0;
	}
	if (json_object_set_new(b->uris, uri, json_integer((json_int_t)s->upstream)) != 0)
		return -1;
	return json_array_append_new(b->items[LIST_RESOURCES], json_deep_copy(item));
}

static int add_source(struct building *b, const struct catalog_source *s)
{
	for (int k = 0; k < LIST_KINDS; k++) {
		size_t i;
		const json_t *item;
		json_array_foreach(s->lists[k], i, item) {
			if (json_array_size(b->items[k]) >= CATALOG_MAX_ITEMS) {
				note(b, k, "catalog_full", s, "(the rest)", "more items than the catalog holds");
				break;
			}
			if (!json_is_object(item))
				continue;
			int rc = k == LIST_RESOURCES ? add_resource(b, s, item) : add_named(b, k, s, item);
			if (rc != 0)
				return -1;
		}
	}
	return 0;
}

unsigned catalog_build(struct catalog *c, const struct catalog_source *src, size_t n)
{
	struct building b = { .uris = json_object(), .templates = json_array() };
	const struct catalog_source *order[CATALOG_MAX_SOURCES];
	if (n > CATALOG_MAX_SOURCES)
		n = CATALOG_MAX_SOURCES;
	int ok = b.uris && b.templates;
	for (int k = 0; k < LIST_KINDS; k++) {
		b.items[k] = json_array();
		b.routes[k] = json_object();
		b.notes[k] = json_array();
		ok = ok && b.items[k] && b.routes[k] && b.notes[k];
	}
	sort_sources(order, src, n);
	for (size_t i = 0; ok && i < n; i++)
		ok = add_source(&b, order[i]) == 0;
	if (!ok) {
		/* Out of memory: keep serving the previous catalog rather than a partial one. */
		log_error("catalog_build_failed");
		for (int k = 0; k < LIST_KINDS; k++) {
			json_decref(b.items[k]);
			json_decref(b.routes[k]);
			json_decref(b.notes[k]);
		}
		json_decref(b.uris);
		json_decref(b.templates);
		return 0;
	}
	unsigned changed = 0;
	for (int k = 0; k < LIST_KINDS; k++) {
		if (!c->items[k] || !json_equal(c->items[k], b.items[k]))
			changed |= 1u << k;
	}
	log_notes(&b, changed);
	catalog_free(c);
	for (int k = 0; k < LIST_KINDS; k++) {
		c->items[k] = b.items[k];
		c->routes[k] = b.routes[k];
	}
	c->uris = b.uris;
	c->templates = b.templates;
	return changed;
}

bool catalog_find(const struct catalog *c, enum list_kind kind, const char *exposed,
                  struct catalog_route *out)
{
	json_t *route = exposed ? json_object_get(c->routes[kind], exposed) : NULL;
	if (!route)
		return false;
	out->upstream = (size_t)json_integer_value(json_array_get(route, 0));
	out->original = json_string_value(json_array_get(route, 1));
	out->item = json_array_get(c->items[kind], (size_t)json_integer_value(json_array_get(route, 2)));
	return true;
}

bool catalog_route_template(const struct catalog *c, const char *uri_template, size_t *upstream)
{
	size_t i;
	json_t *t;
	json_array_foreach(c->templates, i, t) {
		if (strcmp(json_string_value(json_array_get(t, 0)), uri_template) == 0) {
			*upstream = (size_t)json_integer_value(json_array_get(t, 1));
			return true;
		}
	}
	return false;
}

bool catalog_route_uri(const struct catalog *c, const char *uri, size_t *upstream)
{
	json_t *listed = json_object_get(c->uris, uri);
	if (listed) {
		*upstream = (size_t)json_integer_value(listed);
		return true;
	}
	size_t i;
	json_t *t;
	json_array_foreach(c->templates, i, t) {
		if (uri_template_match(json_string_value(json_array_get(t, 0)), uri)) {
			*upstream = (size_t)json_integer_value(json_array_get(t, 1));
			return true;
		}
	}
	return false;
}

/* ---- cursors: "mcpg1.<kind letter>.<offset>" ---- */

static int parse_cursor(const char *cursor, enum list_kind kind, size_t *offset)
{
	char letter;
	unsigned long off;
	int used = 0;
	if (sscanf(cursor, "mcpg1.%c.%lu%n", &letter, &off, &used) != 2 ||
	    cursor[used] != '\0' || letter != cursor_letters[kind] || off > CATALOG_MAX_ITEMS ||
	    off == 0)
		return -1;
	*offset = off;
	return 0;
}

json_t *catalog_page(const struct catalog *c, enum list_kind kind, const char *cursor,
                     size_t page_size, bool (*allow)(const char *name, void *arg), void *arg,
                     const char **err)
{
	size_t offset = 0;
	if (cursor && parse_cursor(cursor, kind, &offset) != 0) {
		*err = "invalid cursor: pass back a nextCursor from this server, unchanged";
		return NULL;
	}
	json_t *page = json_array();
	json_t *result = json_object();
	if (!page || !result) {
		json_decref(page);
		json_decref(result);
		*err = "out of memory";
		return NULL;
	}
	size_t seen = 0, i;
	json_t *item;
	bool more = false;
	json_array_foreach(c->items[kind], i, item) {
		/* Tools and prompts are judged by name, resources by URI, templates by template. */
		const char *key = kind == LIST_RESOURCES ? "uri" : kind == LIST_TEMPLATES ? "uriTemplate" : "name";
		const char *name = json_string_value(json_object_get(item, key));
		if (allow && !allow(name ? name : "", arg))
			continue;
		if (seen++ < offset)
			continue;
		if (json_array_size(page) == page_size) {
			more = true;
			break;
		}
		json_array_append(page, item);
	}
	json_object_set_new(result, list_keys[kind], page);
	if (more) {
		char next[48];
		snprintf(next, sizeof next, "mcpg1.%c.%zu", cursor_letters[kind], offset + page_size);
		json_object_set_new(result, "nextCursor", json_string(next));
	}
	return result;
}

/* ---- URI templates ---- */

bool uri_template_match(const char *t, const char *u)
{
	while (*t) {
		if (*t != '{') {
			if (*t++ != *u++)
				return false;
			continue;
		}
		const char *close = strchr(t, '}');
		if (!close)
			return false;
		char op = t[1];
		t = close + 1;
		if (op == '?' || op == '&')
			return true; /* a query part: whatever follows is the server's to judge */
		bool reserved = op == '+' || op == '#' || op == '/';
		/* The expression takes characters up to the next literal (or the end). */
		char stop = *t == '{' ? '\0' : *t;
		while (*u && *u != stop) {
			if (!reserved && (*u == '/' || *u == '?' || *u == '#'))
				break;
			u++;
		}
	}
	return *u == '\0';
}
