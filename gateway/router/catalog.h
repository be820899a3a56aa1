/* The aggregated view of every upstream's tools, prompts, resources and resource templates:
 * exposed names (names.h), the route from an exposed name or resource URI back to its
 * upstream, a deterministic order (by namespace, then the upstream's own order) and the
 * router's own cursors. Pure data: it knows upstreams only by the index the caller gives. */
#ifndef MCPGATE_ROUTER_CATALOG_H
#define MCPGATE_ROUTER_CATALOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum list_kind { LIST_TOOLS, LIST_PROMPTS, LIST_RESOURCES, LIST_TEMPLATES, LIST_KINDS };

#define CATALOG_PAGE_SIZE 100
#define CATALOG_MAX_ITEMS 20000 /* per kind, across all upstreams */
#define CATALOG_MAX_SOURCES 64  /* CONFIG_MAX_SERVERS */

/* What one upstream contributes. */
struct catalog_source {
	const char *ns;                   /* namespace; "" = names unchanged */
	const char *name;                 /* upstream name, for logs */
	size_t upstream;                  /* the caller's index, handed back in routes */
	const json_t *lists[LIST_KINDS];  /* the upstream's items (arrays), NULL = unknown */
};

struct catalog {
	json_t *items[LIST_KINDS];  /* exposed items, in order */
	json_t *routes[LIST_KINDS]; /* exposed name -> [upstream, "original name", index in items] */
	json_t *uris;               /* resource uri -> upstream */
	json_t *templates;          /* [[uriTemplate, upstream], ...] in order */
};

struct catalog_route {
	size_t upstream;
	const char *original;  /* the name the upstream knows (borrowed from the catalog) */
	const json_t *item;    /* the exposed item (borrowed) */
};

void catalog_init(struct catalog *c);
void catalog_free(struct catalog *c);
/* Rebuilds from the sources. Returns a bit mask (1 << kind) of the lists that changed. */
unsigned catalog_build(struct catalog *c, const struct catalog_source *src, size_t n);
/* Tools, prompts and templates by exposed name. */
bool catalog_find(const struct catalog *c, enum list_kind kind, const char *exposed,
                  struct catalog_route *out);
/* A resource URI: listed by an upstream, or matching one of its URI templates. */
bool catalog_route_uri(const struct catalog *c, const char *uri, size_t *upstream);
/* A template by its exact uriTemplate text (completion/complete on ref/resource). */
bool catalog_route_template(const struct catalog *c, const char *uri_template, size_t *upstream);
/* One page for a client: {"<key>": [...], "nextCursor": "..."}; `allow` (may be NULL)
 * hides names the caller may not use. NULL with *err set when the cursor is not ours. */
json_t *catalog_page(const struct catalog *c, enum list_kind kind, const char *cursor,
                     size_t page_size, bool (*allow)(const char *name, void *arg), void *arg,
                     const char **err);

/* "tools", "prompts", "resources", "resourceTemplates" */
const char *catalog_list_key(enum list_kind kind);
/* "tools/list", ... */
const char *catalog_list_method(enum list_kind kind);
/* The notification announcing a change: templates share resources' list_changed. */
const char *catalog_changed_method(enum list_kind kind);
/* RFC 6570 templates, level 1-3 expressions, matched literally around them. */
bool uri_template_match(const char *tmpl, const char *uri);

#endif
